"""VPCs with and without flow logs; GuardDuty on, off, without S3 protection, absent."""

from __future__ import annotations

import pytest

from scanner.sources.aws import ec2, guardduty
from scanner.sources.aws.context import AwsContext
from tests.integration.aws_services.estate import ACCOUNT, REGION, SOURCE, Estate

pytestmark = pytest.mark.slow


def test_vpcs_become_networks_with_flow_log_state(ctx: AwsContext, estate: Estate) -> None:
    result = ec2.collect(ctx, REGION, SOURCE)
    assert result.problems == ()
    networks = {r.attributes["vpc_id"]: r for r in result.resources}
    ml = networks[estate.ml_vpc]
    assert ml.id == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{estate.ml_vpc}"
    assert (ml.type, ml.name) == ("network", "ml-vpc")
    assert ml.attributes["flow_logs"]["enabled"] is True
    assert (ml.attributes["account"], ml.attributes["region"]) == (ACCOUNT, REGION)
    reject = networks[estate.reject_vpc].attributes["flow_logs"]
    assert reject["enabled"] is False  # a reject-only log does not show egress
    assert [log["traffic_type"] for log in reject["logs"]] == ["reject"]
    assert networks[estate.bare_vpc].attributes["flow_logs"] == {"enabled": False, "logs": []}
    assert "hosts_models" not in ml.attributes  # linked later (scanner/linking.py), not collected
    assert sum(1 for r in result.resources if r.attributes["is_default"]) == 1


@pytest.mark.parametrize(
    ("region", "enabled", "protected"),
    [
        ("us-east-1", True, True),  # feature S3_DATA_EVENTS enabled
        ("eu-west-1", True, False),
        ("ap-southeast-2", False, False),  # detector suspended
        ("us-west-2", False, False),  # no detector at all
    ],
)
def test_one_threat_detection_per_region(
    ctx: AwsContext, estate: Estate, region: str, enabled: bool, protected: bool
) -> None:
    result = guardduty.collect(ctx, region, SOURCE)
    assert result.problems == ()
    (detection,) = result.resources
    assert detection.id == f"aws-guardduty://{ACCOUNT}/{region}"
    assert detection.type == "threat_detection"
    assert detection.name == f"guardduty {ACCOUNT} {region}"
    assert detection.attributes["enabled"] is enabled
    assert detection.attributes["storage_protection"] is protected
    assert ("detector_id" in detection.attributes) is (region != "us-west-2")
