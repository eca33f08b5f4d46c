"""Fail closed at the wire: malformed answers, failed calls and stalls never become clean verdicts.

The demo estate (plus a bucket public through its ACL) on real moto and MLflow servers, each
behind a fault-injecting proxy (`tests/servers/fault_proxy.py`, `tests/wire_faults.py`).

The matrix: one representative call of every API family the collectors use, under every
fault kind (empty 200, HTML 200, cut body, garbage, 500, 403, throttling, reset, stall), on
every request. Compared with the fault-free scan, no finding moves from fail to pass or to
not_applicable, none disappears unless the scan exits 3, --allow-partial does not pass the
gate, and no computed value turns from something into a definite empty or false. The full
sweep (every operation, first request only too) is `python -m scripts.fault_sweep`.

After the matrix, one test per defect that was found this way, asserting what the user sees.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from scanner import scan as scan_module
from scanner.demo import aws_estate
from scanner.progress import PlainReporter
from tests.servers.fault_proxy import KINDS
from tests.wire_faults import (
    ACL_PUBLIC,
    AWS,
    FAMILIES,
    FAST,
    MLFLOW,
    FaultedEstate,
    faulted_estate,
    findings,
    problems,
    violations,
)

pytestmark = pytest.mark.slow

# The bucket that holds the production models (the release experiment writes there).
ARTIFACTS = f"s3://{aws_estate.REGISTRY}"


@pytest.fixture(scope="module")
def estate() -> Iterator[FaultedEstate]:
    with faulted_estate() as faulted:
        yield faulted


def resource(document: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in document["resources"] if r["id"] == rid)
    return found["attributes"]


def unknown(value: Any, *words: str) -> bool:
    reason = value.get("$unknown", "") if isinstance(value, dict) else ""
    return bool(reason) and all(w in reason for w in words)


def test_the_fault_free_scan_reads_everything_and_fails_the_gate(estate: FaultedEstate) -> None:
    base = estate.baseline
    assert {s["name"]: s["status"] for s in base["scan"]["sources"]} == {AWS: "ok", MLFLOW: "ok"}
    # Failing findings, and (as in the demo) checks the emulator cannot answer: exit 3.
    assert base["summary"]["by_status"]["fail"] > 0
    verdicts = findings(base)
    assert verdicts[("MW-STO-01", f"s3://{ACL_PUBLIC}")] == "fail"
    assert verdicts[("MW-STO-01", f"s3://{aws_estate.PUBLIC_SHARE}")] == "fail"
    assert resource(base, ARTIFACTS)["holds_production_models"] is True


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_fault_never_makes_a_verdict_cleaner(
    estate: FaultedEstate, family: str, kind: str
) -> None:
    _, operation = FAMILIES[family]
    source = estate.fault(kind, operation)
    document = estate.scan(source, FAST)
    assert estate.rules_hit() > 0, f"{operation} was never called: the cell tests nothing"
    assert violations(estate.baseline, document) == []
    statuses = {s["name"]: s["status"] for s in document["scan"]["sources"]}
    # A fault is said where it cost something: the source's problem, or an Unknown naming the
    # operation on what it touched (a denied read of a model file's bytes is the artefact's);
    # one that the source read around (an empty run search: each run asked for by id) may
    # cost nothing at all.
    assert (
        statuses[source] == "error"
        or _names(document["resources"], operation)
        or findings(document) == findings(estate.baseline)
    ), "the fault is neither reported nor read around"
    assert document["gate"]["exit_code"] == 3


def _names(value: Any, operation: str) -> bool:
    """Whether an Unknown anywhere in `value` names `operation`."""
    if isinstance(value, Mapping):
        if set(value) == {"$unknown"}:
            return operation in str(value["$unknown"])
        return any(_names(v, operation) for v in value.values())
    # Results hold resources as a lazy sequence (`scanner.results.Items`), not a list.
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return any(_names(v, operation) for v in value)
    return False


def test_any_one_failed_call_never_turns_something_into_none(estate: FaultedEstate) -> None:
    """The property over every operation the fault-free scan makes (not only one per family):
    each one failing alone (HTTP 500 on every request) leaves every computed value as it was,
    or Unknown - never a definite empty or false - and every verdict no cleaner."""
    assert len(estate.operations) > len(FAMILIES)
    found = {}
    for operation in estate.operations:
        source = estate.fault("500", operation)
        document = estate.scan(source, FAST)
        broken = violations(estate.baseline, document)
        if broken:
            found[operation] = broken
    assert found == {}


# One test per defect ------------------------------------------------------------------------


def test_an_empty_200_object_listing_is_a_malformed_answer_not_an_empty_bucket(
    estate: FaultedEstate,
) -> None:
    document = estate.scan(estate.fault("empty", "s3:ListObjectsV2"), FAST)
    storage = resource(document, f"s3://{ACL_PUBLIC}")
    assert unknown(storage["holds_models"], "malformed answer from s3:ListObjectsV2")
    assert unknown(storage["object_count"], "malformed answer from s3:ListObjectsV2")
    assert document["gate"]["exit_code"] == 3


def test_an_html_acl_answer_does_not_pass_a_bucket_public_through_its_acl(
    estate: FaultedEstate,
) -> None:
    document = estate.scan(estate.fault("html", "s3:GetBucketAcl"), FAST)
    storage = resource(document, f"s3://{ACL_PUBLIC}")
    assert unknown(storage["public"], "malformed answer from s3:GetBucketAcl")
    assert findings(document)[("MW-STO-01", f"s3://{ACL_PUBLIC}")] == "error"
    assert any("malformed answer from s3:GetBucketAcl" in p for p in problems(document))
    # The ACL's grant to anyone is the cross-account read MW-IAM-04 fails: without the ACL
    # the grant list is unknown, not the policy's grants alone.
    assert unknown(storage["access_grants"], "bucket ACL unreadable")
    assert findings(document)[("MW-IAM-04", f"s3://{ACL_PUBLIC}")] == "error"


def test_a_cut_search_answer_is_read_again_by_listing(estate: FaultedEstate) -> None:
    document = estate.scan(estate.fault("cut", "sagemaker:Search"), FAST)
    before = findings(estate.baseline)
    endpoints = {k: v for k, v in before.items() if ":endpoint/" in k[1]}
    assert endpoints and all(findings(document).get(k) == v for k, v in endpoints.items())
    assert any("malformed answer from sagemaker:Search" in p for p in problems(document))
    assert document["gate"]["exit_code"] == 3


def test_failed_authorization_details_make_readers_unknown_not_none(
    estate: FaultedEstate,
) -> None:
    document = estate.scan(estate.fault("500", "iam:GetAccountAuthorizationDetails"), FAST)
    storage = resource(document, ARTIFACTS)
    assert unknown(storage["readers"], "IAM principals unreadable")
    assert unknown(storage["reader_count"])
    assert findings(document)[("MW-IAM-02", ARTIFACTS)] not in ("pass", "not_applicable")


def test_unlisted_buckets_make_every_principals_reads_unknown(estate: FaultedEstate) -> None:
    document = estate.scan(estate.fault("500", "s3:ListBuckets"), FAST)
    alice = resource(document, "arn:aws:iam::123456789012:user/alice")
    assert unknown(alice["can_read"], "some buckets are unlisted")
    assert unknown(alice["grants"], "some buckets are unlisted")


def test_a_failed_registry_makes_what_storage_holds_unknown(estate: FaultedEstate) -> None:
    document = estate.scan(estate.fault("500", "mlflow:registered-models/search"), FAST)
    storage = resource(document, ARTIFACTS)
    assert unknown(storage["holds_production_models"], "source mlflow-registry failed")
    # A high-value SageMaker package is stored in the artifact bucket: a known positive stands.
    assert resource(document, f"s3://{aws_estate.ARTIFACTS}")["holds_high_value_models"] is True
    for policy in ("MW-IAM-01", "MW-IAM-02"):
        assert findings(document).get((policy, ARTIFACTS)) not in ("pass", "not_applicable")


def test_endpoints_that_cannot_be_read_make_hosts_models_unknown(estate: FaultedEstate) -> None:
    estate.fault("500", "sagemaker:Search")
    source = estate.fault("500", "sagemaker:ListEndpoints", also=True)
    document = estate.scan(source, FAST)
    networks = [r for r in document["resources"] if r["type"] == "network"]
    assert networks and all(unknown(n["attributes"]["hosts_models"]) for n in networks)


def test_unreadable_trails_make_read_events_unknown(estate: FaultedEstate) -> None:
    document = estate.scan(estate.fault("500", "cloudtrail:DescribeTrails"), FAST)
    logging = resource(document, ARTIFACTS)["access_logging"]
    assert unknown(logging["read_events"], "failed: cloudtrail:DescribeTrails: HTTP 500")


def test_one_buckets_failure_costs_that_bucket_only(estate: FaultedEstate) -> None:
    source = estate.fault("500", "s3:GetBucketAcl", subject=ACL_PUBLIC)
    document = estate.scan(source, FAST)
    assert unknown(resource(document, f"s3://{ACL_PUBLIC}")["public"], "s3:GetBucketAcl")
    assert resource(document, f"s3://{aws_estate.PUBLIC_SHARE}")["public"] is True
    assert resource(document, ARTIFACTS)["public"] is False
    assert len(document["resources"]) == len(estate.baseline["resources"])


def test_one_connection_reset_costs_the_runs_it_touches_not_the_registry(
    estate: FaultedEstate,
) -> None:
    document = estate.scan(estate.fault("reset", "mlflow:runs/search"), FAST)
    registry = next(s for s in document["scan"]["sources"] if s["name"] == MLFLOW)
    expected = next(s for s in estate.baseline["scan"]["sources"] if s["name"] == MLFLOW)
    assert registry["resource_count"] == expected["resource_count"]
    versions = [
        r for r in document["resources"] if r["type"] == "model_version" and r["source"] == MLFLOW
    ]
    assert versions and all(
        unknown(v["attributes"]["provenance"]["datasets"], "could not be read") for v in versions
    )


def test_a_throttled_credential_check_is_retried_adaptively_and_named(
    estate: FaultedEstate,
) -> None:
    source = estate.fault("throttle", "sts:GetCallerIdentity")
    document = estate.scan(source, {**FAST, "aws": {**FAST["aws"], "max_attempts": 3}})
    assert estate.proxies[AWS].seen.count("sts:GetCallerIdentity") == 3
    (error,) = [s["error"] for s in document["scan"]["sources"] if s["name"] == AWS]
    assert "throttled past retries: sts:GetCallerIdentity" in error
    assert "credentials rejected" not in error


def test_a_stalled_call_is_given_up_after_two_timeouts(estate: FaultedEstate) -> None:
    source = estate.fault("stall", "s3:GetBucketAcl", subject=ACL_PUBLIC)
    patient = {**FAST, "aws": {"read_timeout": 1, "max_attempts": 8}}
    document = estate.scan(source, patient)
    acl_calls = [op for op in estate.proxies[AWS].seen if op == "s3:GetBucketAcl"]
    buckets = len([r for r in document["resources"] if r["type"] == "storage"])
    assert len(acl_calls) == buckets - 1 + 2  # one for each other bucket, two for the stalled
    public = resource(document, f"s3://{ACL_PUBLIC}")["public"]
    assert unknown(public, "no answer within 1 s from s3:GetBucketAcl")


def test_the_progress_names_what_a_scan_waits_on(
    estate: FaultedEstate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "HEARTBEAT", 0.5)
    monkeypatch.setattr(scan_module, "WAIT_NOTICE", 0.5)
    out = io.StringIO()
    source = estate.fault("stall", "s3:GetBucketAcl", subject=ACL_PUBLIC)
    slow = {**FAST, "aws": {"read_timeout": 3, "max_attempts": 2}}
    estate.scan(source, slow, reporter=PlainReporter(out))
    assert f"{AWS}: waiting" in out.getvalue()
    assert f"on s3:GetBucketAcl {ACL_PUBLIC}" in out.getvalue()


def test_the_time_limit_stops_new_requests_and_the_scan_exits_3(estate: FaultedEstate) -> None:
    source = estate.fault("stall", "s3:ListObjectsV2")
    slow = {**FAST, "aws": {"read_timeout": 4, "max_attempts": 2}}
    started = time.monotonic()
    document = estate.scan(source, slow, timeout=2)
    assert time.monotonic() - started < 2 + 4 + scan_module.DEADLINE_GRACE
    assert document["gate"]["exit_code"] == 3
    assert any("time limit" in p for p in problems(document)), problems(document)


def test_an_unparseable_credential_answer_is_one_line_without_a_traceback(
    estate: FaultedEstate, cli: Any
) -> None:
    estate.fault("garbage", "sts:GetCallerIdentity")
    with estate.environment():
        result = cli("scan", "--source", "aws:", "--no-builtin-policies", "-q")
    assert result.code == 3
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines == [
        "modelward: source aws: failed: source 'aws:': cannot check the credentials: "
        "malformed answer from sts:GetCallerIdentity (not XML)"
    ], result.err
