"""Pure rules for API Gateway in front of SageMaker: which endpoint a route invokes, and what
the throttles, usage plans and authorizers on every way in add up to for that endpoint.

A *way in* is one deployed route to an endpoint: (API, stage, method or route). The endpoint
is only as protected as its loosest way in, so every summary below takes the weakest value
across them (a client picks the route with no authorizer, the plan with the biggest quota).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The AWS-service integration of a REST API:
#   arn:aws:apigateway:REGION:runtime.sagemaker:path//endpoints/NAME/invocations
_RUNTIME_ARN = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]+):runtime\.sagemaker:path/+endpoints/"
    r"(?P<name>[^/?#]+)/invocations/?$"
)
# An HTTP (proxy) integration calling the runtime's public URL, as HTTP APIs must.
_RUNTIME_URL = re.compile(
    r"^https://runtime(?:-fips)?\.sagemaker\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/endpoints/(?P<name>[^/?#]+)/invocations/?$"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")

# The account-level throttle AWS applies when nothing else does (per region, raised on request).
DEFAULT_ACCOUNT_RATE = 10000.0
DEFAULT_ACCOUNT_BURST = 5000
# Days a quota period spans, to compare quotas with daily traffic (a month counted as 30 days).
PERIOD_DAYS = {"DAY": 1, "WEEK": 7, "MONTH": 30}
# Method authorizationType (REST) / route AuthorizationType (HTTP, WebSocket) → our word.
AUTH_KINDS = {
    "NONE": "none",
    "AWS_IAM": "iam",
    "CUSTOM": "lambda",
    "COGNITO_USER_POOLS": "cognito",
    "JWT": "jwt",
}


def invoked_endpoint(uri: str | None) -> tuple[str, str] | None:
    """(region, endpoint name) a SageMaker-runtime integration URI invokes, else None.

    The name may still hold `${stageVariables.X}`; `resolve_stage_variables` fills it per stage.
    """
    if not uri:
        return None
    match = _RUNTIME_ARN.match(uri.strip()) or _RUNTIME_URL.match(uri.strip())
    return (match["region"], match["name"]) if match else None


def resolve_stage_variables(name: str, variables: Mapping[str, Any] | None) -> str | None:
    """The name with stage variables substituted; None if one is not defined on the stage."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = (variables or {}).get(match[1])
        if not isinstance(value, str) or not value:
            missing = True
            return ""
        return value

    resolved = _STAGE_VARIABLE.sub(fill, name)
    return None if missing else resolved


def daily_quota(limit: Any, period: Any) -> float | None:
    """A usage-plan quota as requests per day: DAY as is, WEEK ÷ 7, MONTH ÷ 30 (averaged, the
    volume a client can sustain); None for an unknown period or limit."""
    days = PERIOD_DAYS.get(str(period).upper()) if period else None
    if days is None or not isinstance(limit, int | float) or isinstance(limit, bool):
        return None
    value = float(limit) / days
    return int(value) if value.is_integer() else round(value, 2)


def method_key(path: str, method: str) -> tuple[str, str]:
    """(normalised resource path, HTTP method) for matching throttle settings to methods."""
    return "/" + path.strip("/"), method.upper()


def setting_key(key: str) -> tuple[str, str]:
    """A stage `methodSettings` or usage-plan throttle key as (path, method).

    AWS writes them `resource/path/METHOD`, with `~1` for `/` inside the path and `*/*` for
    the stage default; usage plans write `/resource/path/METHOD`.
    """
    text = key.replace("~1", "/")
    path, _, method = text.rpartition("/")
    if path.strip("/") == "*" and method == "*":
        return "*", "*"
    return method_key(path, method)


@dataclass(frozen=True)
class Limit:
    """A throttle: steady requests per second and burst; None where not set."""

    rate: float | None = None
    burst: int | None = None


@dataclass(frozen=True)
class Plan:
    """A usage plan as it applies to one way in (its method throttle, else its own)."""

    id: str
    name: str
    throttle: Limit
    quota: int | None = None
    period: str | None = None

    @property
    def daily(self) -> float | None:
        return daily_quota(self.quota, self.period)


@dataclass(frozen=True)
class WayIn:
    endpoint_region: str
    endpoint_name: str
    api_id: str
    api_name: str
    protocol: str  # rest | http | websocket
    stage: str
    route: str  # "POST /predict"
    auth: str  # none | iam | lambda | cognito | jwt
    api_key_required: bool
    throttle: Limit  # stage/method throttling, shared by every client
    plans: tuple[Plan, ...]  # usage plans covering the stage (enforced only with an API key)
    access_logs: bool


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _below(value: float | None, ceiling: float) -> float | None:
    """A limit at or above the account-level throttle limits nothing beyond it."""
    return value if value is not None and 0 <= value < ceiling else None


def client_limit(way: WayIn, account: Limit) -> Limit:
    """The tightest throttle one client meets on this way in (the loosest plan, if several)."""
    rate_ceiling = account.rate if account.rate is not None else DEFAULT_ACCOUNT_RATE
    burst_ceiling = account.burst if account.burst is not None else DEFAULT_ACCOUNT_BURST
    rate = _below(way.throttle.rate, rate_ceiling)
    burst = _below(way.throttle.burst, burst_ceiling)
    if way.api_key_required and way.plans:
        plan_rates = [_below(p.throttle.rate, rate_ceiling) for p in way.plans]
        plan_bursts = [_below(p.throttle.burst, burst_ceiling) for p in way.plans]
        plan_rate = None if None in plan_rates else max(r for r in plan_rates if r is not None)
        plan_burst = None if None in plan_bursts else max(b for b in plan_bursts if b is not None)
        rate, burst = _min(rate, plan_rate), _min(burst, plan_burst)
    return Limit(rate, None if burst is None else int(burst))


def loosest_quota(way: WayIn) -> Plan | None:
    """The plan with the biggest daily quota, if every plan on an API-key way has one."""
    if not (way.api_key_required and way.plans):
        return None
    if any(p.daily is None for p in way.plans):
        return None
    return max(way.plans, key=lambda p: p.daily or 0)


def rate_limit(ways: Sequence[WayIn], account: Limit) -> dict[str, Any]:
    """`rate_limit` of an endpoint from the ways in to it (none: no gateway, nothing limited).

    configured: every way in has a throttle below the account level; per_client: every way in
    needs an API key and a usage plan with a throttle or quota covers it; rate/burst: the
    loosest way's client throttle; quota/quota_period/daily_per_client: the loosest plan's.
    """
    if not ways:
        return {"configured": False, "per_client": False}
    limits = [client_limit(w, account) for w in ways]
    out: dict[str, Any] = {"configured": all(lim.rate is not None for lim in limits)}
    if out["configured"]:
        out["rate"] = max(lim.rate for lim in limits if lim.rate is not None)
        if all(lim.burst is not None for lim in limits):
            out["burst"] = max(lim.burst for lim in limits if lim.burst is not None)
    out["per_client"] = all(
        w.api_key_required
        and bool(w.plans)
        and all(p.throttle.rate is not None or p.quota is not None for p in w.plans)
        for w in ways
    )
    quotas = [loosest_quota(w) for w in ways]
    if quotas and all(q is not None for q in quotas):
        plan = max((q for q in quotas if q is not None), key=lambda p: p.daily or 0)
        out.update(
            quota=plan.quota, quota_period=str(plan.period).lower(), daily_per_client=plan.daily
        )
    return out


def auth_required(ways: Sequence[WayIn]) -> bool:
    """Every way in needs an authorizer, IAM or an API key (the runtime itself needs SigV4)."""
    return all(w.auth != "none" or w.api_key_required for w in ways)


def gateway_summary(ways: Sequence[WayIn], account: Limit) -> dict[str, Any]:
    apis: dict[str, dict[str, Any]] = {}
    for w in ways:
        api = apis.setdefault(
            w.api_id, {"id": w.api_id, "name": w.api_name, "protocol": w.protocol, "stages": []}
        )
        if w.stage not in api["stages"]:
            api["stages"].append(w.stage)
    routes = [
        {
            "api": w.api_id,
            "stage": w.stage,
            "route": w.route,
            "auth": w.auth,
            "api_key_required": w.api_key_required,
            "throttle": _limit_dict(client_limit(w, account)),
            "usage_plans": [p.id for p in w.plans] if w.api_key_required else [],
            "access_logs": w.access_logs,
        }
        for w in ways
    ]
    return {"present": bool(ways), "apis": list(apis.values()), "routes": routes}


def _limit_dict(limit: Limit) -> dict[str, Any]:
    return {k: v for k, v in (("rate", limit.rate), ("burst", limit.burst)) if v is not None}
