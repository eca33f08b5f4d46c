"""Integration URIs, quota normalisation, and what the ways in to an endpoint add up to."""

from __future__ import annotations

import pytest

from scanner.sources.aws.apigateway_parse import (
    Limit,
    Plan,
    WayIn,
    auth_required,
    client_limit,
    daily_quota,
    gateway_summary,
    invoked_endpoint,
    rate_limit,
    resolve_stage_variables,
    setting_key,
)

ACCOUNT = Limit(10000.0, 5000)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "arn:aws:apigateway:us-east-1:runtime.sagemaker:path//endpoints/fraud-prod/invocations",
            ("us-east-1", "fraud-prod"),
        ),
        (
            "arn:aws:apigateway:eu-west-1:runtime.sagemaker:path/endpoints/Fraud/invocations",
            ("eu-west-1", "Fraud"),
        ),
        (
            "arn:aws-cn:apigateway:cn-north-1:runtime.sagemaker:path//endpoints/e/invocations",
            ("cn-north-1", "e"),
        ),
        (
            "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/vision/invocations",
            ("us-west-2", "vision"),
        ),
        (
            "arn:aws:apigateway:us-east-1:runtime.sagemaker:path//endpoints/${stageVariables.ep}/invocations",
            ("us-east-1", "${stageVariables.ep}"),
        ),
        ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f/invocations", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:f", None),
        ("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e/other", None),
        (
            "https://evil.example/runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e/invocations",
            None,
        ),
        ("", None),
        (None, None),
    ],
)
def test_invoked_endpoint(uri: str | None, expected: tuple[str, str] | None) -> None:
    assert invoked_endpoint(uri) == expected


def test_stage_variables_fill_the_endpoint_name() -> None:
    assert resolve_stage_variables("${stageVariables.ep}", {"ep": "fraud-prod"}) == "fraud-prod"
    assert resolve_stage_variables("fraud-${stageVariables.env}", {"env": "v2"}) == "fraud-v2"
    assert resolve_stage_variables("${stageVariables.ep}", {}) is None
    assert resolve_stage_variables("${stageVariables.ep}", None) is None
    assert resolve_stage_variables("plain", None) == "plain"


@pytest.mark.parametrize(
    ("limit", "period", "expected"),
    [
        (1000, "DAY", 1000),
        (7000, "WEEK", 1000),
        (3000, "MONTH", 100),
        (1000, "MONTH", 33.33),
        (10, "week", 1.43),
        (1000, "YEAR", None),
        (None, "DAY", None),
        (True, "DAY", None),
        (1000, None, None),
    ],
)
def test_daily_quota(limit: object, period: object, expected: float | None) -> None:
    assert daily_quota(limit, period) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("*/*", ("*", "*")),
        ("/*/*", ("*", "*")),
        ("predict/POST", ("/predict", "POST")),
        ("~1predict/POST", ("/predict", "POST")),
        ("/predict/POST", ("/predict", "POST")),
        ("~1v1~1score/post", ("/v1/score", "POST")),
        ("~1/GET", ("/", "GET")),
    ],
)
def test_setting_keys_in_every_spelling_aws_uses(key: str, expected: tuple[str, str]) -> None:
    assert setting_key(key) == expected


def way(**changes: object) -> WayIn:
    base = {
        "endpoint_region": "us-east-1",
        "endpoint_name": "e",
        "api_id": "a1",
        "api_name": "api",
        "protocol": "rest",
        "stage": "prod",
        "route": "POST /predict",
        "auth": "none",
        "api_key_required": False,
        "throttle": Limit(),
        "plans": (),
        "access_logs": False,
    }
    base.update(changes)
    return WayIn(**base)  # type: ignore[arg-type]


def plan(rate: float | None = 20.0, quota: int | None = 7000, period: str | None = "WEEK") -> Plan:
    return Plan("p", "plan", Limit(rate, None if rate is None else 40), quota, period)


def test_no_gateway_means_nothing_is_limited_and_sigv4_is_required() -> None:
    assert rate_limit([], ACCOUNT) == {"configured": False, "per_client": False}
    assert auth_required([]) is True
    assert gateway_summary([], ACCOUNT) == {"present": False, "apis": [], "routes": []}


def test_usage_plans_apply_only_to_methods_that_require_an_api_key() -> None:
    keyless = way(plans=(plan(),))
    assert client_limit(keyless, ACCOUNT) == Limit()
    assert rate_limit([keyless], ACCOUNT)["per_client"] is False
    keyed = way(plans=(plan(),), api_key_required=True)
    assert client_limit(keyed, ACCOUNT) == Limit(20.0, 40)
    limits = rate_limit([keyed], ACCOUNT)
    assert limits == {
        "configured": True,
        "rate": 20.0,
        "burst": 40,
        "per_client": True,
        "quota": 7000,
        "quota_period": "week",
        "daily_per_client": 1000,
    }


def test_the_tighter_of_stage_and_plan_throttle_binds_one_client() -> None:
    keyed = way(throttle=Limit(5.0, 10), plans=(plan(),), api_key_required=True)
    assert client_limit(keyed, ACCOUNT) == Limit(5.0, 10)


def test_the_loosest_plan_decides_when_several_cover_a_stage() -> None:
    keyed = way(
        plans=(plan(rate=5.0, quota=100, period="DAY"), plan(rate=50.0, quota=7000, period="WEEK")),
        api_key_required=True,
    )
    assert client_limit(keyed, ACCOUNT).rate == 50.0
    assert rate_limit([keyed], ACCOUNT)["daily_per_client"] == 1000
    unlimited = way(plans=(plan(), plan(rate=None, quota=None)), api_key_required=True)
    limits = rate_limit([unlimited], ACCOUNT)
    assert limits["configured"] is False
    assert "daily_per_client" not in limits
    # A plan with neither throttle nor quota gives no per-client limit.
    assert limits["per_client"] is False


def test_the_loosest_way_in_decides_for_the_endpoint() -> None:
    tight = way(throttle=Limit(5.0, 10), auth="cognito", access_logs=True)
    open_route = way(route="POST /open", auth="none", access_logs=False)
    limits = rate_limit([tight, open_route], ACCOUNT)
    assert limits["configured"] is False and "rate" not in limits
    assert auth_required([tight, open_route]) is False
    assert auth_required([tight, way(api_key_required=True)]) is True
    both = rate_limit([tight, way(throttle=Limit(50.0, 100))], ACCOUNT)
    assert (both["rate"], both["burst"]) == (50.0, 100)


def test_throttles_at_or_above_the_account_level_limit_nothing() -> None:
    console_default = way(throttle=Limit(10000.0, 5000))
    assert rate_limit([console_default], ACCOUNT)["configured"] is False
    raised_account = Limit(20000.0, 8000)
    assert rate_limit([console_default], raised_account)["configured"] is True
    # Unreadable account settings: AWS's default account limit is the ceiling.
    assert rate_limit([console_default], Limit())["configured"] is False
    assert rate_limit([way(throttle=Limit(-1.0, -1))], ACCOUNT)["configured"] is False


def test_gateway_summary_names_apis_stages_and_routes() -> None:
    ways = [
        way(stage="prod", access_logs=True),
        way(stage="beta"),
        way(api_id="h1", api_name="http", protocol="http", stage="$default", auth="jwt"),
    ]
    summary = gateway_summary(ways, ACCOUNT)
    assert summary["present"] is True
    assert summary["apis"] == [
        {"id": "a1", "name": "api", "protocol": "rest", "stages": ["prod", "beta"]},
        {"id": "h1", "name": "http", "protocol": "http", "stages": ["$default"]},
    ]
    assert [r["auth"] for r in summary["routes"]] == ["none", "none", "jwt"]
    assert [r["access_logs"] for r in summary["routes"]] == [True, False, False]
