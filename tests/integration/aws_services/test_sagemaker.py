"""The SageMaker collector against the emulator: registry, endpoints, and their failures."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.inventory import Ref, Resource, Unknown
from scanner.sources.aws import apigateway, sagemaker
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.sagemaker_calls import Reader
from tests.integration.aws_services.estate import (
    ACCOUNT,
    FRAUD_SHA256,
    IMAGE,
    REGION,
    SOURCE,
    WEST,
    Estate,
    aws_context,
)
from tests.servers.moto import MotoServer

pytestmark = pytest.mark.slow


def by_id(resources: tuple[Resource, ...]) -> dict[str, Resource]:
    return {r.id: r for r in resources}


@pytest.fixture(scope="module")
def collected(module_ctx: AwsContext) -> dict[str, Resource]:
    result = sagemaker.collect(module_ctx, REGION, SOURCE)
    assert result.problems == ()
    return by_id(result.resources)


def test_groups_become_models_with_group_tags_before_latest_package_metadata(
    collected: dict[str, Resource], estate: Estate
) -> None:
    fraud = collected[estate.fraud_group]
    assert (fraud.type, fraud.name) == ("model", "fraud")
    assert fraud.attributes["owner"] == "team-risk"  # group tag, not carol's metadata on fraud/4
    assert fraud.attributes["classification"] == "confidential"
    assert fraud.attributes["version_count"] == 4
    assert fraud.attributes["description"] == "card fraud scoring"
    assert "ip_value" not in fraud.attributes
    assert (fraud.attributes["retired"], fraud.attributes["watermarked"]) == (False, False)
    churn = collected[estate.churn_group]
    # No group tags: the latest package's CustomerMetadataProperties.
    assert churn.attributes["owner"] == "bob"
    assert churn.attributes["retired"] is True
    assert churn.attributes["watermarked"] is True
    assert churn.attributes["output_mode"] == "scores"
    assert churn.attributes["tags"] == {}


def test_package_stages_follow_approval_and_serving(
    collected: dict[str, Resource], estate: Estate
) -> None:
    stages = {
        name: (collected[arn].attributes["stage"], collected[arn].attributes["approval_status"])
        for name, arn in estate.packages.items()
    }
    assert stages == {
        "fraud/1": ("production", "approved"),  # served by fraud-prod
        "fraud/2": ("archived", "rejected"),
        "fraud/3": ("none", "pending_manual_approval"),
        "fraud/4": ("staging", "approved"),  # approved, served by nothing
        "churn/1": ("production", "approved"),  # retired, yet still served
    }


def test_package_metadata_provenance_artefact_and_digest(
    collected: dict[str, Resource], estate: Estate
) -> None:
    v1 = collected[estate.packages["fraud/1"]]
    a = v1.attributes
    assert v1.name == "fraud/1"
    assert a["model"] == Ref(estate.fraud_group)
    assert a["version"] == "1"
    assert (a["owner"], a["classification"], a["ip_value"]) == ("alice", "restricted", "high")
    assert a["authorized_deployments"] == ["fraud-prod", "fraud-shadow"]
    assert a["source_uri"] == "s3://models/fraud/1/model.tar.gz"
    assert a["artefact"] == Ref("s3://models/fraud/1")
    assert a["recorded_digest"] == {
        "algorithm": "sha256",
        "value": FRAUD_SHA256,
        "source": "CustomerMetadataProperties.sha256",
    }
    assert a["provenance"]["code"] == {
        "repo": "https://git.example.com/risk/fraud.git",
        "commit": "4f2a9c1",
    }
    assert a["provenance"]["created_by"].endswith(":pipeline/fraud-train")
    assert a["provenance"]["created_at"].endswith("Z")
    # Without a metadata digest, the ETag SageMaker stored is the recorded digest.
    v4 = collected[estate.packages["fraud/4"]].attributes
    assert v4["recorded_digest"] == {
        "algorithm": "s3-etag",
        "value": "etag-fraud-4",
        "source": "ModelDataETag",
    }


def test_versions_inherit_the_model_s_facts_key_by_key(
    collected: dict[str, Resource], estate: Estate
) -> None:
    v2 = collected[estate.packages["fraud/2"]].attributes
    assert (v2["owner"], v2["classification"]) == ("team-risk", "confidential")
    assert "authorized_deployments" not in v2  # never inherited: it names this version's uses
    assert "recorded_digest" not in v2
    v4 = collected[estate.packages["fraud/4"]].attributes
    assert (v4["owner"], v4["classification"]) == ("carol", "confidential")


def test_endpoints_in_a_vpc_with_capture_and_kms_and_their_open_twin(
    collected: dict[str, Resource], estate: Estate
) -> None:
    fraud = collected[estate.endpoints["fraud-prod"]].attributes
    network = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{estate.ml_vpc}"
    assert fraud["in_private_network"] is True
    assert fraud["vpc"] == Ref(network) and fraud["vpcs"] == [Ref(network)]
    assert fraud["data_capture"] == {
        "enabled": True,
        "destination": "s3://capture/fraud",
        "captures": ["input", "output"],
        "sampling_percentage": 100,
    }
    assert fraud["encryption"]["kms_key"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    # The model is built from package fraud/1: the endpoint serves it and loads its data.
    assert fraud["model_versions"] == [Ref(estate.packages["fraud/1"])]
    # the model data, then the image the model runs (linked to the oci: source's image)
    image = f"oci://{IMAGE}"
    assert fraud["artefacts"] == [Ref("s3://models/fraud/1"), Ref(image)]
    assert fraud["images"] == [Ref(image)]
    assert (fraud["output_mode"], fraud["decision_api"]) == ("label", True)
    assert (fraud["provider"], fraud["status"]) == ("sagemaker", "in_service")

    churn = collected[estate.endpoints["churn-public"]].attributes
    assert churn["in_private_network"] is False
    assert churn["vpcs"] == [] and "vpc" not in churn
    assert churn["data_capture"] == {"enabled": False}
    assert churn["encryption"] == {}
    assert (churn["output_mode"], churn["decision_api"]) == ("scores", False)

    raw = collected[estate.endpoints["raw-direct"]].attributes
    assert raw["model_versions"] == []
    assert raw["artefacts"] == [Ref("s3://models/raw"), Ref(f"oci://{IMAGE}")]
    assert raw["data_capture"]["captures"] == ["output"]
    assert "output_mode" not in raw


def test_network_isolation_is_what_describe_model_says_and_moto_drops_it(
    moto: MotoServer, collected: dict[str, Resource], estate: Estate
) -> None:
    # fraud-model was created with EnableNetworkIsolation=True; moto answers False (see
    # docs/sources/aws-services.md). The collector reports the provider's answer; the True
    # path is covered on a real-shaped answer in tests/unit/aws_services.
    answer = moto.client("sagemaker", REGION).describe_model(ModelName="fraud-model")
    fraud = collected[estate.endpoints["fraud-prod"]].attributes
    assert fraud["network_isolation"] is answer["EnableNetworkIsolation"]


def test_endpoint_facts_are_read_once_for_both_collectors(
    moto: MotoServer, estate: Estate, session: Any
) -> None:
    ctx = aws_context(moto, session, max_pool=1)
    sagemaker.collect(ctx, REGION, SOURCE)
    apigateway.collect(ctx, REGION, SOURCE)
    assert ctx.calls["sagemaker:Search"] == 3  # endpoints, groups, packages: once each
    assert ctx.calls["sagemaker:DescribeEndpointConfig"] == 3  # shared configs described once
    assert ctx.calls["sagemaker:DescribeModel"] == 3
    assert ctx.calls["ec2:DescribeSubnets"] == 1


def test_a_region_without_sagemaker_resources_reports_nothing(ctx: AwsContext) -> None:
    result = sagemaker.collect(ctx, "eu-west-1", SOURCE)
    assert result.resources == () and result.problems == ()


def test_an_endpoint_whose_model_was_deleted_is_kept_with_unknowns(ctx: AwsContext) -> None:
    result = sagemaker.collect(ctx, WEST, SOURCE)
    (ghost,) = [r for r in result.resources if r.name == "ghost"]
    for key in ("network_isolation", "in_private_network", "artefacts", "model_versions"):
        value = ghost.attributes[key]
        assert isinstance(value, Unknown), key
        assert "sagemaker:DescribeModel" in value.reason and "ValidationException" in value.reason
    assert ghost.attributes["data_capture"] == {"enabled": False}  # still readable
    (problem,) = result.problems
    assert problem.startswith(f"sagemaker {WEST}: failed: sagemaker:DescribeModel")


def test_search_and_the_listing_fallback_give_the_same_resources(
    moto: MotoServer, estate: Estate, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search answers in a few pages what listing answers in a call per group, package and
    endpoint; without sagemaker:Search the collector lists and describes instead."""
    searched_ctx = aws_context(moto, session, max_pool=1)
    searched = sagemaker.collect(searched_ctx, REGION, SOURCE)
    assert searched_ctx.calls["sagemaker:Search"] == 3
    assert searched_ctx.calls["sagemaker:DescribeModelPackage"] == 0
    assert searched_ctx.calls["sagemaker:ListTags"] == 0
    monkeypatch.setattr(Reader, "search", lambda self, resource, *keys: None)
    listed_ctx = aws_context(moto, session, max_pool=1)
    listed = sagemaker.collect(listed_ctx, REGION, SOURCE)
    assert listed_ctx.calls["sagemaker:DescribeModelPackage"] == 5
    assert listed_ctx.calls["sagemaker:DescribeEndpoint"] == 5
    assert listed.problems == searched.problems == ()
    attributes = {r.id: dict(r.attributes) for r in listed.resources}
    assert attributes == {r.id: dict(r.attributes) for r in searched.resources}
