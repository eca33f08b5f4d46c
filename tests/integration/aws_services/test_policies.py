"""What the collectors produce, evaluated by the real policy engine.

The policies here resemble MW-API-01/04/06, MW-NET-01/02/03 and MW-INV-05 closely enough to
prove the attributes carry what those checks need; the built-in pack is written elsewhere.
Linked attributes (`hosts_models`, `served`) are computed later, by `scanner/linking.py`, so the
network and inventory checks here go through the references the collectors set instead.
"""

from __future__ import annotations

import datetime as dt

import pytest

from scanner.inventory import Inventory
from scanner.policy.evaluate import evaluate_all
from scanner.policy.loader import load_policy_dirs
from scanner.sources.aws import apigateway, ec2, guardduty, sagemaker
from scanner.sources.aws.context import AwsContext
from tests.helpers import write
from tests.integration.aws_services.estate import ACCOUNT, SOURCE, WEST, Estate

pytestmark = pytest.mark.slow

POLICIES = {
    "api01.yaml": """
        id: T-API-01
        title: Rate limits configured, per client
        severity: high
        maturity: applied
        resource: endpoint
        check:
          all:
            - {field: rate_limit.configured, equals: true}
            - {field: rate_limit.per_client, equals: true}
            - {field: rate_limit.daily_per_client, at_most: {param: max_daily}}
        params: {max_daily: 5000}
    """,
    "api04.yaml": """
        id: T-API-04
        title: Inference requests are logged
        severity: high
        maturity: applied
        resource: endpoint
        check: {field: access_logging, equals: true}
    """,
    "api06.yaml": """
        id: T-API-06
        title: Authentication required
        severity: critical
        maturity: applied
        resource: endpoint
        check: {field: auth_required, equals: true}
    """,
    "net01.yaml": """
        id: T-NET-01
        title: Inference runs in a private network or isolated
        severity: high
        maturity: advanced
        resource: endpoint
        check:
          any:
            - {field: in_private_network, equals: true}
            - {field: network_isolation, equals: true}
    """,
    "net02.yaml": """
        id: T-NET-02
        title: The network an endpoint runs in has flow logs
        severity: medium
        maturity: advanced
        resource: endpoint
        scope: {field: in_private_network, equals: true}
        check: {field: vpc.flow_logs.enabled, equals: true}
    """,
    "net03.yaml": """
        id: T-NET-03
        title: Threat detection with storage protection
        severity: medium
        maturity: advanced
        resource: threat_detection
        check:
          all:
            - {field: enabled, equals: true}
            - {field: storage_protection, equals: true}
    """,
    "inv05.yaml": """
        id: T-INV-05
        title: Served versions are neither retired nor archived
        severity: high
        maturity: applied
        resource: endpoint
        check:
          field: model_versions
          every_item:
            all:
              - {field: retired, equals: false}
              - {field: stage, not_equals: archived}
    """,
}


@pytest.fixture(scope="module")
def verdicts(
    module_ctx: AwsContext, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[str, str]]:
    root = tmp_path_factory.mktemp("policies")
    for name, text in POLICIES.items():
        write(root / name, text)
    inventory = Inventory()
    for region in ("us-east-1", "eu-west-1", WEST):
        for collector in (sagemaker, apigateway, ec2, guardduty):
            for resource in collector.collect(module_ctx, region, SOURCE).resources:
                inventory.add(resource)
    findings = evaluate_all(
        load_policy_dirs([root]).policies, inventory, dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    )
    return {(f.policy_id, f.resource_name): (f.status, f.message) for f in findings}


def statuses(verdicts: dict, policy: str, names: list[str]) -> list[str]:
    return [verdicts[(policy, name)][0] for name in names]


ENDPOINTS = ["fraud-prod", "churn-public", "vision-secure", "vision-open", "raw-direct"]


def test_rate_limits(verdicts: dict) -> None:
    assert statuses(verdicts, "T-API-01", ENDPOINTS) == ["pass", "fail", "fail", "fail", "fail"]
    assert "rate_limit.per_client` is not true" in verdicts[("T-API-01", "vision-secure")][1]


def test_request_logging_and_authentication(verdicts: dict) -> None:
    assert statuses(verdicts, "T-API-04", ENDPOINTS) == ["pass", "fail", "pass", "pass", "pass"]
    assert statuses(verdicts, "T-API-06", ENDPOINTS) == ["pass", "fail", "pass", "fail", "pass"]


def test_private_network_and_its_flow_logs(verdicts: dict) -> None:
    assert statuses(verdicts, "T-NET-01", ENDPOINTS) == ["pass", "fail", "fail", "fail", "fail"]
    # The endpoint's `vpc` reference reaches the network the EC2 collector reported.
    assert statuses(verdicts, "T-NET-02", ENDPOINTS) == ["pass", *["not_applicable"] * 4]


def test_threat_detection_per_region(verdicts: dict) -> None:
    names = [f"guardduty {ACCOUNT} {region}" for region in ("us-east-1", "eu-west-1", WEST)]
    assert statuses(verdicts, "T-NET-03", names) == ["pass", "fail", "fail"]


def test_served_versions_and_unreadable_endpoints(verdicts: dict, estate: Estate) -> None:
    assert statuses(verdicts, "T-INV-05", ENDPOINTS) == ["pass", "fail", "pass", "pass", "pass"]
    assert "retired` is true" in verdicts[("T-INV-05", "churn-public")][1]
    # The endpoint whose model was deleted: nothing passes on what could not be read.
    status, message = verdicts[("T-INV-05", "ghost")]
    assert status == "error" and "sagemaker:DescribeModel" in message
    assert verdicts[("T-NET-01", "ghost")][0] == "error"
    assert verdicts[("T-API-06", "ghost")][0] == "pass"  # only IAM-signed routes reach it
