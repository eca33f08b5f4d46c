"""API Gateway in front of SageMaker endpoints, and how its partial endpoints merge."""

from __future__ import annotations

import pytest

from scanner.inventory import Inventory, Resource
from scanner.sources.aws import apigateway, sagemaker
from scanner.sources.aws.context import AwsContext
from tests.integration.aws_services.estate import REGION, SOURCE, WEST, Estate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(module_ctx: AwsContext) -> dict[str, Resource]:
    result = apigateway.collect(module_ctx, REGION, SOURCE)
    assert result.problems == ()
    return {r.name: r for r in result.resources}


def test_rest_api_with_usage_plan_key_and_cognito_is_limited_per_client(
    gateway: dict[str, Resource], estate: Estate
) -> None:
    fraud = gateway["fraud-prod"]
    assert fraud.id == estate.endpoints["fraud-prod"]
    a = fraud.attributes
    # Stage 50/s, plan 20/s, plan's method throttle 5/s: one key gets 5/s; 7000/week = 1000/day.
    assert a["rate_limit"] == {
        "configured": True,
        "rate": 5.0,
        "burst": 10,
        "per_client": True,
        "quota": 7000,
        "quota_period": "week",
        "daily_per_client": 1000,
    }
    assert a["auth_required"] is True
    assert a["access_logging"] is True
    assert a["gateway"]["present"] is True
    assert a["gateway"]["apis"] == [
        {"id": estate.rest_fraud_api, "name": "fraud-api", "protocol": "rest", "stages": ["prod"]}
    ]
    (route,) = a["gateway"]["routes"]
    assert (route["route"], route["auth"], route["api_key_required"]) == (
        "POST /predict",
        "cognito",
        True,
    )


def test_rest_api_without_plan_key_or_authorizer_leaves_the_endpoint_open(
    gateway: dict[str, Resource],
) -> None:
    a = gateway["churn-public"].attributes
    assert a["rate_limit"] == {"configured": False, "per_client": False}
    assert a["auth_required"] is False
    assert a["access_logging"] is False
    assert a["gateway"]["present"] is True


def test_http_api_route_with_jwt_authorizer_and_its_open_twin(
    gateway: dict[str, Resource], estate: Estate
) -> None:
    secure = gateway["vision-secure"].attributes
    assert secure["auth_required"] is True
    assert secure["rate_limit"] == {
        "configured": True,
        "rate": 10.0,
        "burst": 20,
        "per_client": False,  # HTTP APIs have no usage plans
    }
    assert secure["access_logging"] is True
    assert secure["gateway"]["apis"][0]["id"] == estate.http_api
    opened = gateway["vision-open"].attributes
    assert opened["auth_required"] is False
    assert opened["gateway"]["routes"][0]["auth"] == "none"


def test_an_endpoint_with_no_gateway_is_reported_as_such(gateway: dict[str, Resource]) -> None:
    a = gateway["raw-direct"].attributes
    assert a["gateway"] == {"present": False, "apis": [], "routes": []}
    assert a["rate_limit"] == {"configured": False, "per_client": False}
    assert a["auth_required"] is True  # the SageMaker runtime takes only SigV4-signed calls
    assert a["access_logging"] is True  # data capture (of outputs) records every invocation


def test_the_two_collectors_own_disjoint_attributes_and_merge_in_either_order(
    ctx: AwsContext, estate: Estate
) -> None:
    assert not sagemaker.ENDPOINT_ATTRIBUTES & apigateway.GATEWAY_ATTRIBUTES
    from_sagemaker = [
        r for r in sagemaker.collect(ctx, REGION, SOURCE).resources if r.type == "endpoint"
    ]
    from_gateway = list(apigateway.collect(ctx, REGION, SOURCE).resources)
    assert {r.id for r in from_sagemaker} == {r.id for r in from_gateway}
    for r in from_sagemaker:
        assert set(r.attributes) <= sagemaker.ENDPOINT_ATTRIBUTES
    for r in from_gateway:
        assert set(r.attributes) == apigateway.GATEWAY_ATTRIBUTES
    one = Inventory([*from_sagemaker, *from_gateway])
    other = Inventory([*from_gateway, *from_sagemaker])
    for arn in estate.endpoints.values():
        merged = one.get(arn)
        assert merged is not None and merged.attributes == other.get(arn).attributes
        assert "rate_limit" in merged.attributes and "network_isolation" in merged.attributes


def test_a_gateway_in_another_region_is_reported_not_linked(ctx: AwsContext) -> None:
    result = apigateway.collect(ctx, "eu-west-1", SOURCE)
    assert result.resources == ()
    (problem,) = result.problems
    assert "invokes endpoint fraud-prod in us-east-1: cross-region gateways are not linked" in (
        problem
    )


def test_stage_variables_name_the_endpoint_per_stage(ctx: AwsContext) -> None:
    (ghost,) = apigateway.collect(ctx, WEST, SOURCE).resources
    gateway = ghost.attributes["gateway"]
    # Only the stage that defines the variable invokes the endpoint.
    assert [(r["stage"], r["auth"]) for r in gateway["routes"]] == [("live", "iam")]
    assert ghost.attributes["auth_required"] is True
