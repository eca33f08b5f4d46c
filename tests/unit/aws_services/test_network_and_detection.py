"""Flow-log and GuardDuty rules, and the call wrapper the four collectors share."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from scanner.inventory import Unknown
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.ec2 import flow_log_summary
from scanner.sources.aws.guardduty import detector_summary, s3_protection
from scanner.sources.aws.sagemaker_calls import Reader, region_disabled


def log(**changes: str) -> dict[str, str]:
    base = {
        "FlowLogId": "fl-1",
        "FlowLogStatus": "ACTIVE",
        "DeliverLogsStatus": "SUCCESS",
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": "arn:aws:s3:::logs",
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("logs", "enabled"),
    [
        ([log()], True),
        ([log(TrafficType="ACCEPT")], True),
        ([log(TrafficType="REJECT")], False),
        ([log(DeliverLogsStatus="FAILED")], False),
        ([log(FlowLogStatus="DELETED")], False),
        ([log(TrafficType="REJECT"), log(FlowLogId="fl-2")], True),
        ([], False),
    ],
)
def test_flow_logs_are_enabled_when_an_active_log_delivers_accepted_traffic(
    logs: list[dict[str, str]], enabled: bool
) -> None:
    summary = flow_log_summary(logs)
    assert summary["enabled"] is enabled
    assert len(summary["logs"]) == len(logs)


def test_s3_protection_prefers_the_feature_over_the_legacy_data_source() -> None:
    legacy_on = {"DataSources": {"S3Logs": {"Status": "ENABLED"}}}
    assert s3_protection(legacy_on) is True
    feature_off = {**legacy_on, "Features": [{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}]}
    assert s3_protection(feature_off) is False
    feature_on = {
        "DataSources": {"S3Logs": {"Status": "DISABLED"}},
        "Features": [
            {"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"},
            {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
        ],
    }
    assert s3_protection(feature_on) is True
    assert s3_protection({}) is False


def test_detector_summary_is_kleene_over_unreadable_detectors() -> None:
    on = {"Status": "ENABLED", "Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}]}
    off = {"Status": "DISABLED"}
    bare = {"Status": "ENABLED"}
    denied = Unknown("denied: guardduty:GetDetector")
    assert detector_summary(["a"], [on]) == {
        "enabled": True,
        "storage_protection": True,
        "detector_id": "a",
    }
    assert detector_summary(["a"], [off])["enabled"] is False
    assert detector_summary(["a"], [denied])["enabled"] is denied
    mixed = detector_summary(["a", "b"], [denied, bare])
    assert mixed["enabled"] is True
    assert mixed["storage_protection"] is denied  # the unreadable one might protect S3
    assert detector_summary(["a", "b"], [denied, on])["storage_protection"] is True


class FailingContext:
    """Stands in for AwsContext only to drive the wrapper's own bookkeeping."""

    _max_pool = 2

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return self.outcome

    pages = call


def test_reader_reports_denials() -> None:
    denied = Unknown("denied: ec2:DescribeFlowLogs")
    reader = Reader(FailingContext(denied), "ec2", "eu-west-1")  # type: ignore[arg-type]
    assert reader.call("ec2", "describe_flow_logs") is denied
    assert reader.problems() == ("ec2 eu-west-1: denied: ec2:DescribeFlowLogs",)


def test_reader_maps_on_the_sources_one_pool() -> None:
    threads: set[str] = set()

    def double(x: int) -> int:
        threads.add(threading.current_thread().name)
        time.sleep(0.01)  # long enough for the pool's idle worker to take items too
        return x * 2

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="aws") as pool:
        ctx = AwsContext(None, "123456789012", max_pool=2, pool=pool)
        reader = Reader(ctx, "ec2", "eu-west-1")
        assert pool.submit(reader.map, double, list(range(10))).result() == [
            x * 2 for x in range(10)
        ]
    assert threads == {"aws_0", "aws_1"}  # the source's own workers, no second pool


def test_region_disabled_recognises_the_context_s_reason() -> None:
    assert region_disabled(
        Unknown("region ap-east-1 not enabled for this account (ec2:DescribeVpcs)"), "ap-east-1"
    )
    assert not region_disabled(Unknown("denied: ec2:DescribeVpcs"), "ap-east-1")
    assert not region_disabled([], "ap-east-1")
