"""SageMaker endpoints as the API Gateway and SageMaker collectors both need them.

Both collectors describe every endpoint of a region (the SageMaker one for its settings, the
API Gateway one to report "no gateway in front" and whether data capture logs requests). The
listing and the DescribeEndpoint / DescribeEndpointConfig answers are read once per
(`AwsContext`, region) and shared, whichever collector asks first, even when the orchestrator
runs them concurrently. The memo lives as long as the context, i.e. one scan of one account.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.sagemaker_calls import Reader, strip_metadata


@dataclass(frozen=True)
class EndpointFacts:
    name: str
    arn: str
    status: str
    description: Mapping[str, Any] | Unknown
    config: Mapping[str, Any] | Unknown
    # The endpoint's tags when Search returned them; None when they still have to be listed.
    tags: list[Any] | None = None

    def model_names(self) -> list[str] | Unknown:
        """The models the endpoint's production and shadow variants run."""
        if isinstance(self.config, Unknown):
            return self.config
        names: list[str] = []
        for key in ("ProductionVariants", "ShadowProductionVariants"):
            for variant in self.config.get(key) or ():
                name = variant.get("ModelName") if isinstance(variant, Mapping) else None
                if isinstance(name, str) and name not in names:
                    names.append(name)
        return names


@dataclass(frozen=True)
class RegionEndpoints:
    endpoints: tuple[EndpointFacts, ...] | Unknown
    # Reported by the SageMaker collector only, so the lines are not doubled.
    problems: tuple[str, ...] = ()

    def by_name(self) -> dict[str, EndpointFacts]:
        """Endpoint names are unique per account and region regardless of case."""
        if isinstance(self.endpoints, Unknown):
            return {}
        return {e.name.lower(): e for e in self.endpoints}


_memo: weakref.WeakKeyDictionary[AwsContext, dict[str, Future[RegionEndpoints]]] = (
    weakref.WeakKeyDictionary()
)
_memo_lock = threading.Lock()


def region_endpoints(ctx: AwsContext, region: str) -> RegionEndpoints:
    """Every endpoint of the region with its description and config, read once per context."""
    with _memo_lock:
        per_ctx = _memo.setdefault(ctx, {})
        future = per_ctx.get(region)
        owner = future is None
        if future is None:
            future = per_ctx[region] = Future()
    if owner:
        try:
            future.set_result(_read(ctx, region))
        except BaseException as exc:
            future.set_exception(exc)
            raise
    return future.result()


def _read(ctx: AwsContext, region: str) -> RegionEndpoints:
    """Search (descriptions and tags, 100 a page), else ListEndpoints and one
    DescribeEndpoint each; then one DescribeEndpointConfig per config in use."""
    reader = Reader(ctx, "sagemaker", region)
    searched = reader.search("Endpoint", "EndpointName")
    summaries: list[Mapping[str, Any]]
    descriptions: list[Mapping[str, Any] | Unknown]
    tags: list[list[Any] | None]
    if searched is not None:
        summaries = searched
        descriptions = [{k: v for k, v in e.items() if k != "Tags"} for e in summaries]
        tags = [list(e.get("Tags") or ()) for e in summaries]
    else:
        listing = reader.pages("sagemaker", "list_endpoints", "Endpoints", item_key="EndpointName")
        if not isinstance(listing, list):
            return RegionEndpoints(
                listing if isinstance(listing, Unknown) else (), reader.problems()
            )
        summaries = listing

        def describe(summary: Mapping[str, Any]) -> Mapping[str, Any] | Unknown:
            answer = reader.call(
                "sagemaker", "describe_endpoint", EndpointName=summary["EndpointName"]
            )
            return strip_metadata(answer) if isinstance(answer, dict) else _unknown(answer)

        descriptions = reader.map(describe, summaries)
        tags = [None] * len(summaries)
    config_names = sorted(
        {
            d["EndpointConfigName"]
            for d in descriptions
            if isinstance(d, Mapping) and isinstance(d.get("EndpointConfigName"), str)
        }
    )

    def describe_config(name: str) -> Mapping[str, Any] | Unknown:
        answer = reader.call("sagemaker", "describe_endpoint_config", EndpointConfigName=name)
        return strip_metadata(answer) if isinstance(answer, dict) else _unknown(answer)

    configs = dict(zip(config_names, reader.map(describe_config, config_names), strict=True))
    facts = []
    for summary, description, endpoint_tags in zip(summaries, descriptions, tags, strict=True):
        if isinstance(description, Unknown):
            config: Mapping[str, Any] | Unknown = description
        else:
            config = configs.get(
                description.get("EndpointConfigName", ""),
                Unknown("the endpoint names no endpoint config"),
            )
        facts.append(
            EndpointFacts(
                name=str(summary["EndpointName"]),
                arn=str(summary.get("EndpointArn", "")),
                status=str(summary.get("EndpointStatus", "")),
                description=description,
                config=config,
                tags=endpoint_tags,
            )
        )
    return RegionEndpoints(tuple(facts), reader.problems())


def _unknown(answer: Unknown | None) -> Unknown:
    return answer if isinstance(answer, Unknown) else Unknown("no answer")
