"""The SageMaker rules the docs state, on plain answers (including shapes moto never returns)."""

from __future__ import annotations

import pytest

from scanner.inventory import Unknown
from scanner.sources.aws.sagemaker_parse import (
    artefact_dirs,
    container_data,
    data_capture,
    model_directory,
    package_arn,
    package_refs,
    recorded_digest,
    snake,
    version_stage,
)
from scanner.sources.tags import governance_facts


@pytest.mark.parametrize(
    ("uri", "is_prefix", "expected"),
    [
        ("s3://b/fraud/3/model.tar.gz", False, "s3://b/fraud/3"),
        ("s3://b/model.tar.gz", False, "s3://b"),
        ("s3://b/fraud/3/", True, "s3://b/fraud/3"),
        ("s3://b/fraud/3", True, "s3://b/fraud/3"),
        ("s3://b/", True, "s3://b"),
        ("https://user:pw@host/x/model.tar.gz", False, "https://***@host/x"),
    ],
)
def test_model_directory_is_the_parent_of_an_object_and_the_prefix_itself(
    uri: str, is_prefix: bool, expected: str
) -> None:
    assert model_directory(uri, is_prefix=is_prefix) == expected


def test_container_data_reads_model_data_url_then_an_s3_data_source() -> None:
    assert container_data({"ModelDataUrl": "s3://b/p/m.tar.gz"}) == ("s3://b/p/m.tar.gz", False)
    source = {"S3DataSource": {"S3Uri": "s3://b/p/", "S3DataType": "S3Prefix"}}
    assert container_data({"ModelDataSource": source}) == ("s3://b/p/", True)
    single = {"S3DataSource": {"S3Uri": "s3://b/p/m.tar.gz", "S3DataType": "S3Object"}}
    assert container_data({"ModelDataSource": single}) == ("s3://b/p/m.tar.gz", False)
    assert container_data({"Image": "x"}) is None


def test_artefact_dirs_cover_pipeline_containers_without_repeats() -> None:
    model = {
        "PrimaryContainer": {"ModelDataUrl": "s3://b/a/model.tar.gz"},
        "Containers": [
            {"ModelDataUrl": "s3://b/a/other.tar.gz"},
            {"ModelDataUrl": "s3://b/c/model.tar.gz"},
            {"Image": "no-data"},
        ],
    }
    assert artefact_dirs(model) == ["s3://b/a", "s3://b/c"]


def test_package_refs_keep_arns_and_qualify_bare_names() -> None:
    arn = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/fraud/3"
    model = {
        "PrimaryContainer": {"ModelPackageName": arn},
        "Containers": [{"ModelPackageName": "Legacy"}],
    }
    assert package_refs(model, "us-east-1", "123456789012") == [
        arn,
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/legacy",
    ]
    assert package_arn(arn, "x", "y") == arn


def test_inventory_facts_normalise_and_leave_out_what_is_not_set() -> None:
    facts = governance_facts(
        {
            "owner": " Alice ",
            "classification": "Restricted",
            "ip_value": "HIGH",
            "output_mode": "Top_K",
            "retired": "TRUE",
            "watermark": "radioactive",
            "authorized_deployments": "fraud-prod, ,arn:aws:sagemaker:x:1:endpoint/e",
            "unrelated": "x",
        }
    )
    assert facts == {
        "owner": "Alice",
        "classification": "restricted",
        "ip_value": "high",
        "output_mode": "top_k",
        "retired": True,
        "watermarked": True,
        "authorized_deployments": ["fraud-prod", "arn:aws:sagemaker:x:1:endpoint/e"],
    }
    assert governance_facts({}) == {}
    assert governance_facts({"owner": "  "}) == {}


@pytest.mark.parametrize("value", ["", "false", "No", "NONE", "0", "off"])
def test_watermark_values_that_mean_no(value: str) -> None:
    assert governance_facts({"watermark": value}) == {"watermarked": False}


@pytest.mark.parametrize(
    ("value", "retired"),
    [("true", True), ("Yes", True), ("1", True), ("on", True), ("no", False), ("false-ish", False)],
)
def test_retired_words(value: str, retired: bool) -> None:
    assert governance_facts({"retired": value}) == {"retired": retired}


def test_recorded_digest_prefers_metadata_over_the_etag() -> None:
    containers = {"InferenceSpecification": {"Containers": [{"ModelDataETag": '"e-1"'}]}}
    hexdigest = "AB" * 32
    assert recorded_digest({"sha256": hexdigest}, containers) == {
        "algorithm": "sha256",
        "value": hexdigest.lower(),
        "source": "CustomerMetadataProperties.sha256",
    }
    assert (
        recorded_digest({"digest": f"sha256:{hexdigest}"}, containers)["value"] == hexdigest.lower()
    )
    assert recorded_digest({"digest": hexdigest}, containers)["algorithm"] == "sha256"
    assert recorded_digest({"digest": "md5-ish"}, containers)["algorithm"] == "unknown"
    assert recorded_digest({"sha256": f"SHA256:{hexdigest}"}, containers)["value"] == (
        hexdigest.lower()
    )
    assert recorded_digest({}, containers) == {
        "algorithm": "s3-etag",
        "value": "e-1",
        "source": "ModelDataETag",
    }
    assert recorded_digest({}, {}) is None


def test_version_stage_rules() -> None:
    reason = Unknown("denied: sagemaker:DescribeModel")
    assert version_stage("Approved", True, False) == "production"
    assert version_stage("Approved", True, True) == "production"  # served wins over retired
    assert version_stage("Approved", False, False) == "staging"
    assert version_stage("Approved", False, True) == "archived"
    assert version_stage("Approved", reason, False) is reason
    assert version_stage("Approved", False, reason) is reason
    assert version_stage("Rejected", reason, reason) == "archived"
    assert version_stage("PendingManualApproval", True, False) == "none"
    assert version_stage("PendingManualApproval", False, True) == "archived"


def test_snake_case_of_provider_enumerations() -> None:
    assert snake("InService") == "in_service"
    assert snake("PendingManualApproval") == "pending_manual_approval"
    assert snake("Completed") == "completed"


def test_data_capture_uses_the_state_in_force_and_what_the_config_captures() -> None:
    endpoint = {
        "DataCaptureConfig": {
            "EnableCapture": True,
            "CaptureStatus": "Started",
            "CurrentSamplingPercentage": 50,
            "DestinationS3Uri": "s3://cap/x?X-Amz-Signature=abc",
        }
    }
    config = {"DataCaptureConfig": {"CaptureOptions": [{"CaptureMode": "Input"}]}}
    capture = data_capture(endpoint, config)
    assert capture == {
        "enabled": True,
        "destination": "s3://cap/x?X-Amz-Signature=***",
        "captures": ["input"],
        "sampling_percentage": 50,
    }
    stopped = {"DataCaptureConfig": {"EnableCapture": True, "CaptureStatus": "Stopped"}}
    assert data_capture(stopped, config)["enabled"] is False
    # Without the config (unreadable), what is captured is not claimed.
    assert "captures" not in data_capture(endpoint, None)
    assert data_capture({}, None) == {"enabled": False}
