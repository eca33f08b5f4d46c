"""HTTP and WebSocket APIs (`apigatewayv2`): the routes that invoke a SageMaker endpoint.

HTTP APIs have no SageMaker service integration; a route reaches the runtime through an HTTP
proxy integration to `https://runtime.sagemaker.REGION.amazonaws.com/endpoints/NAME/invocations`
(which AWS answers only for signed requests, so in practice a Lambda or VPC link sits between;
those cannot be traced to an endpoint and are not counted). HTTP APIs have no usage plans, so
no per-client limits. Calls: GetApis per region; GetIntegrations, GetRoutes, GetStages per API
— all the IAM action `apigateway:GET`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.apigateway_parse import (
    AUTH_KINDS,
    Limit,
    WayIn,
    invoked_endpoint,
    resolve_stage_variables,
)
from scanner.sources.aws.sagemaker_calls import Reader

GET = "apigateway:GET"


def http_ways(reader: Reader) -> list[WayIn] | Unknown:
    """Every (API, stage, route) of the region's HTTP/WebSocket APIs invoking an endpoint;
    Unknown if any API could not be read completely."""
    apis = reader.pages("apigatewayv2", "get_apis", "Items", action=GET, item_key="ApiId")
    if isinstance(apis, Unknown):
        return apis
    apis = list(apis or ())

    def read(api: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        return tuple(  # type: ignore[return-value]
            reader.pages("apigatewayv2", method, "Items", action=GET, ApiId=api["ApiId"])
            for method in ("get_integrations", "get_routes", "get_stages")
        )

    ways: list[WayIn] = []
    for api, parts in zip(apis, reader.map(read, apis), strict=True):
        for value in parts:
            if isinstance(value, Unknown):
                return value
        integrations, routes, stages = (p or [] for p in parts)
        uris = {
            i["IntegrationId"]: i.get("IntegrationUri")
            for i in integrations
            if isinstance(i, Mapping) and i.get("IntegrationId")
        }
        for route in routes:
            if not isinstance(route, Mapping):
                continue
            target = str(route.get("Target") or "")
            if not target.startswith("integrations/"):
                continue
            invoked = invoked_endpoint(uris.get(target.removeprefix("integrations/")))
            if invoked is None:
                continue
            for stage in stages:
                if isinstance(stage, Mapping):
                    way = _way(api, stage, route, invoked)
                    if way is not None:
                        ways.append(way)
    return ways


def _way(
    api: Mapping[str, Any],
    stage: Mapping[str, Any],
    route: Mapping[str, Any],
    invoked: tuple[str, str],
) -> WayIn | None:
    name = resolve_stage_variables(invoked[1], stage.get("StageVariables"))
    if name is None:
        return None
    route_key = str(route.get("RouteKey", ""))
    default = stage.get("DefaultRouteSettings") or {}
    specific = (stage.get("RouteSettings") or {}).get(route_key) or {}

    def setting(field: str) -> Any:
        value = specific.get(field)
        return default.get(field) if value is None else value

    return WayIn(
        endpoint_region=invoked[0],
        endpoint_name=name,
        api_id=str(api["ApiId"]),
        api_name=str(api.get("Name", "")),
        protocol=str(api.get("ProtocolType", "HTTP")).lower(),
        stage=str(stage.get("StageName", "")),
        route=route_key,
        auth=AUTH_KINDS.get(str(route.get("AuthorizationType", "NONE")).upper(), "other"),
        api_key_required=bool(route.get("ApiKeyRequired")),
        throttle=Limit(setting("ThrottlingRateLimit"), setting("ThrottlingBurstLimit")),
        plans=(),
        access_logs=bool((stage.get("AccessLogSettings") or {}).get("DestinationArn")),
    )
