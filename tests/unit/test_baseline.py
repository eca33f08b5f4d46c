"""Baselines: created from results, loaded from either form, new/unchanged/fixed, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner import baseline as baselines
from scanner.findings import Finding
from scanner.gate import GateSettings, decide
from tests.helpers import make_document, make_policy


def finding(pid: str, rid: str, status: str = "fail", severity: str = "high") -> Finding:
    return Finding(pid, "t", severity, "applied", rid, "artefact", rid, status, "m")


@pytest.fixture
def old_results() -> dict:
    findings = [
        finding("T-1", "a"),
        finding("T-1", "b", "error"),
        finding("T-1", "c", "pass"),
        finding("T-2", "a", "not_applicable"),
    ]
    return make_document(findings, [make_policy("T-1"), make_policy("T-2")])


def test_create_keeps_only_what_fails_or_errors(old_results):
    doc = baselines.create(old_results)
    assert doc["modelward_baseline"] == 1
    assert doc["created_at"] == "2025-06-30T00:00:01Z"
    assert doc["findings"] == [
        {"policy_id": "T-1", "resource_id": "a", "severity": "high", "status": "fail"},
        {"policy_id": "T-1", "resource_id": "b", "severity": "high", "status": "error"},
    ]


def test_round_trip_and_results_form_give_the_same_keys(old_results, tmp_path: Path):
    made = tmp_path / "baseline.json"
    made.write_bytes(baselines.dumps(baselines.create(old_results)))
    as_results = tmp_path / "results.json"
    as_results.write_text(json.dumps(old_results))
    a = baselines.load_baseline(made)
    b = baselines.load_baseline(as_results)
    assert (a.kind, b.kind) == ("baseline", "results")
    assert a.keys == b.keys == {("T-1", "a"), ("T-1", "b")}


def test_new_unchanged_and_fixed(tmp_path: Path, old_results):
    path = tmp_path / "b.json"
    path.write_bytes(baselines.dumps(baselines.create(old_results)))
    base = baselines.load_baseline(path)
    now = [finding("T-1", "a"), finding("T-1", "b", "pass"), finding("T-1", "d", "fail", "low")]
    summary, notes = baselines.summarise(base, now)
    assert summary | {"file": "x"} == {
        "file": "x",
        "kind": "baseline",
        "entries": 2,
        "unchanged": 1,
        "new": 1,
        "fixed": 1,
        "fixed_findings": [{"policy_id": "T-1", "resource_id": "b"}],
    }
    assert notes[0].endswith(
        "1 new failing finding(s), 1 already in the baseline (not gated), 1 no longer failing"
    )
    # the gate: the old failure is known, the new low one is below the threshold
    assert decide(now, [], GateSettings(), base.keys)["exit_code"] == 0
    now.append(finding("T-1", "e", "fail", "critical"))
    gate = decide(now, [], GateSettings(), base.keys)
    assert gate["exit_code"] == 1
    assert gate["reasons"] == ["1 finding(s) at or above 'high' failed: T-1 on e"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "b.json:1:2: not JSON"),
        ("[]", "not a valid modelward baseline (or results) file: [] is not of type 'object'"),
        ('{"modelward_baseline": 1}', "'created_at' is a required property"),
        (
            '{"modelward_baseline": 1, "created_at": "2025-01-01T00:00:00Z", '
            '"tool": {"name": "modelward", "version": "0"}, "findings": [{"policy_id": "T-1"}]}',
            "'resource_id' is a required property (in findings/0)",
        ),
        ('{"schema_version": "1.1", "findings": []}', "not a valid modelward results file"),
    ],
)
def test_bad_baselines_are_refused(tmp_path: Path, content, message):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(baselines.BaselineError) as err:
        baselines.load_baseline(path)
    assert err.value.exit_code == 2
    assert message in err.value.message


def test_missing_baseline_is_exit_2(tmp_path: Path):
    with pytest.raises(baselines.BaselineError, match="baseline file not found"):
        baselines.load_baseline(tmp_path / "nope.json")
