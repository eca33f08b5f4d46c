"""REST APIs (`apigateway`): the deployed methods that invoke a SageMaker endpoint.

Per API: GetResources with `embed=methods` (methods and their integrations in one paginated
call) and GetStages; per region: GetRestApis, GetUsagePlans and GetAccount. Every one of them
is the IAM action `apigateway:GET`.

The resource tree read is the API's current definition; each stage serves the deployment it
points at, which can be older. Reading every deployment's export would cost a call per stage;
the current tree is what the next deployment ships, so it is what we check (documented limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.apigateway_parse import (
    AUTH_KINDS,
    Limit,
    Plan,
    WayIn,
    invoked_endpoint,
    method_key,
    resolve_stage_variables,
    setting_key,
)
from scanner.sources.aws.sagemaker_calls import Reader

GET = "apigateway:GET"


def account_limit(reader: Reader) -> Limit:
    """The account-level throttle of the region (AWS's default when unreadable)."""
    answer = reader.call("apigateway", "get_account", action=GET)
    settings = answer.get("throttleSettings") if isinstance(answer, dict) else None
    if not isinstance(settings, Mapping):
        return Limit()
    return Limit(settings.get("rateLimit"), settings.get("burstLimit"))


def rest_ways(reader: Reader) -> list[WayIn] | Unknown:
    """Every (API, stage, method) of the region's REST APIs that invokes a SageMaker endpoint;
    Unknown if any API could not be read completely (it might front any endpoint)."""
    apis = reader.pages(
        "apigateway", "get_rest_apis", "items", action=GET, item_key="id", limit=500
    )
    if isinstance(apis, Unknown):
        return apis
    apis = list(apis or ())
    if not apis:
        return []

    def read(api: Mapping[str, Any]) -> tuple[Any, Any]:
        resources = reader.pages(
            "apigateway",
            "get_resources",
            "items",
            action=GET,
            restApiId=api["id"],
            embed=["methods"],
            limit=500,
        )
        stages = reader.call("apigateway", "get_stages", action=GET, restApiId=api["id"])
        return resources, stages

    parts = reader.map(read, apis)
    plans: list[Any] | Unknown | None = None
    ways: list[WayIn] = []
    for api, (resources, stages) in zip(apis, parts, strict=True):
        for value in (resources, stages):
            if isinstance(value, Unknown):
                return value
        methods = _invoking_methods(resources or [])
        deployed = [s for s in (stages or {}).get("item") or () if isinstance(s, Mapping)]
        if not methods or not deployed:
            continue
        if plans is None:  # only read when some API fronts an endpoint
            plans = reader.pages("apigateway", "get_usage_plans", "items", action=GET, limit=500)
        for stage in deployed:
            for path, verb, method, target in methods:
                name = resolve_stage_variables(target[1], stage.get("variables"))
                if name is None:
                    continue  # the stage does not define the variable: no way in here
                if isinstance(plans, Unknown) and method.get("apiKeyRequired"):
                    return plans
                known = plans if isinstance(plans, list) else []
                ways.append(_way(api, stage, path, verb, method, (target[0], name), known))
    return ways


def _invoking_methods(
    resources: list[Any],
) -> list[tuple[str, str, Mapping[str, Any], tuple[str, str]]]:
    found = []
    for resource in resources:
        if not isinstance(resource, Mapping):
            continue
        for verb, method in (resource.get("resourceMethods") or {}).items():
            if not isinstance(method, Mapping):
                continue
            integration = method.get("methodIntegration") or {}
            target = invoked_endpoint(integration.get("uri"))
            if target is not None:
                found.append((str(resource.get("path", "/")), str(verb), method, target))
    return found


def _way(
    api: Mapping[str, Any],
    stage: Mapping[str, Any],
    path: str,
    verb: str,
    method: Mapping[str, Any],
    target: tuple[str, str],
    plans: list[Any],
) -> WayIn:
    key = method_key(path, verb)
    settings = {
        setting_key(k): v
        for k, v in (stage.get("methodSettings") or {}).items()
        if isinstance(v, Mapping)
    }
    chosen = settings.get(key) or settings.get(("*", "*")) or {}
    stage_name = str(stage.get("stageName", ""))
    return WayIn(
        endpoint_region=target[0],
        endpoint_name=target[1],
        api_id=str(api["id"]),
        api_name=str(api.get("name", "")),
        protocol="rest",
        stage=stage_name,
        route=f"{verb} {key[0]}",
        auth=AUTH_KINDS.get(str(method.get("authorizationType", "NONE")).upper(), "other"),
        api_key_required=bool(method.get("apiKeyRequired")),
        throttle=Limit(chosen.get("throttlingRateLimit"), chosen.get("throttlingBurstLimit")),
        plans=tuple(_plans(plans, str(api["id"]), stage_name, key)),
        access_logs=bool((stage.get("accessLogSettings") or {}).get("destinationArn")),
    )


def _plans(plans: list[Any], api_id: str, stage: str, key: tuple[str, str]) -> list[Plan]:
    found = []
    for plan in plans:
        for api_stage in plan.get("apiStages") or ():
            if api_stage.get("apiId") != api_id or api_stage.get("stage") != stage:
                continue
            per_method = {setting_key(k): v for k, v in (api_stage.get("throttle") or {}).items()}
            throttle = per_method.get(key) or plan.get("throttle") or {}
            quota = plan.get("quota") or {}
            found.append(
                Plan(
                    id=str(plan.get("id", "")),
                    name=str(plan.get("name", "")),
                    throttle=Limit(throttle.get("rateLimit"), throttle.get("burstLimit")),
                    quota=quota.get("limit"),
                    period=quota.get("period"),
                )
            )
    return found
