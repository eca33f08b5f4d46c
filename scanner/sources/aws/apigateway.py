"""API Gateway (REST, HTTP, WebSocket) in front of SageMaker endpoints → endpoint attributes.

This collector reports, for every SageMaker endpoint of the region, only the attributes in
`GATEWAY_ATTRIBUTES`, on a partial `endpoint` resource with the endpoint's ARN as id; the
SageMaker collector reports the rest (`sagemaker.ENDPOINT_ATTRIBUTES`) and the Inventory merges
the two. The sets are disjoint, so the merge never depends on which collector ran first.

An endpoint with no API in front gets `gateway.present: false`, `rate_limit.configured:
false` (SageMaker itself has no per-client throttle) and `auth_required: true` (the runtime
accepts only SigV4-signed calls).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from scanner.inventory import Resource, Unknown
from scanner.sources.aws.apigateway_http import http_ways
from scanner.sources.aws.apigateway_parse import (
    Limit,
    WayIn,
    auth_required,
    gateway_summary,
    rate_limit,
)
from scanner.sources.aws.apigateway_rest import account_limit, rest_ways
from scanner.sources.aws.collected import AwsCollected
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.sagemaker_calls import Reader, region_disabled
from scanner.sources.aws.sagemaker_endpoints import EndpointFacts, region_endpoints
from scanner.sources.aws.sagemaker_parse import data_capture

GATEWAY_ATTRIBUTES = frozenset({"gateway", "rate_limit", "auth_required", "access_logging"})


def collect(ctx: AwsContext, region: str, source: str) -> AwsCollected:
    reader = Reader(ctx, "apigateway", region)
    rest = rest_ways(reader)
    if region_disabled(rest, region):
        return AwsCollected(problems=reader.problems())
    http = http_ways(reader)
    ways: list[WayIn] | Unknown
    if isinstance(rest, Unknown):
        ways = rest
    elif isinstance(http, Unknown):
        ways = http
    else:
        ways = [*rest, *http]
    problems: list[str] = []
    grouped: dict[str, list[WayIn]] = defaultdict(list)
    if isinstance(ways, list):
        for way in ways:
            if way.endpoint_region != region:
                problems.append(
                    f"apigateway {region}: {way.protocol} API {way.api_id} {way.route} invokes "
                    f"endpoint {way.endpoint_name} in {way.endpoint_region}: cross-region "
                    "gateways are not linked"
                )
            else:
                grouped[way.endpoint_name.lower()].append(way)
    account = account_limit(reader) if grouped else Limit()

    shared = region_endpoints(ctx, region)
    resources: list[Resource] = []
    if isinstance(shared.endpoints, tuple):
        for facts in shared.endpoints:
            mine: list[WayIn] | Unknown = (
                grouped.get(facts.name.lower(), []) if isinstance(ways, list) else ways
            )
            resources.append(
                _partial(facts.arn, facts.name, mine, _capture(facts), account, source)
            )
    else:
        # The endpoints cannot be listed: still say what is known of the ones APIs invoke.
        for name, mine in sorted(grouped.items()):
            arn = f"arn:aws:sagemaker:{region}:{ctx.account}:endpoint/{name}"
            resources.append(
                _partial(arn, mine[0].endpoint_name, mine, shared.endpoints, account, source)
            )
    return AwsCollected(tuple(resources), (*reader.problems(), *dict.fromkeys(problems)))


def _capture(facts: EndpointFacts) -> bool | Unknown:
    """Whether data capture is on: it records every invocation (input, output or both, as
    `data_capture.captures` says), the other way requests are logged besides the gateway."""
    if isinstance(facts.description, Unknown):
        return facts.description
    config = facts.config if isinstance(facts.config, Mapping) else None
    return bool(data_capture(facts.description, config)["enabled"])


def _partial(
    arn: str,
    name: str,
    ways: list[WayIn] | Unknown,
    capture: bool | Unknown,
    account: Limit,
    source: str,
) -> Resource:
    attributes: dict[str, Any]
    if isinstance(ways, Unknown):
        attributes = dict.fromkeys(("gateway", "rate_limit", "auth_required"), ways)
        attributes["access_logging"] = True if capture is True else ways
    else:
        gateway_logs = bool(ways) and all(w.access_logs for w in ways)
        attributes = {
            "gateway": gateway_summary(ways, account),
            "rate_limit": rate_limit(ways, account),
            "auth_required": auth_required(ways),
            "access_logging": _either(capture, gateway_logs),
        }
    return Resource(id=arn, type="endpoint", name=name, source=source, attributes=attributes)


def _either(a: bool | Unknown, b: bool) -> bool | Unknown:
    """Kleene or: logged if either way logs; unknown only if that could change the answer."""
    if b or a is True:
        return True
    return a
