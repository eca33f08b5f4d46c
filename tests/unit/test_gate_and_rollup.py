"""Exit-code decisions, control roll-up and the maturity ladder, on hand-made findings."""

from __future__ import annotations

import pytest

from scanner.findings import Finding
from scanner.frameworks import Control, Framework, control_status, maturity, roll_up
from scanner.gate import GateSettings, decide
from scanner.policy.model import AllOf, Policy


def finding(
    status: str,
    severity: str = "high",
    policy: str = "P-1",
    resource: str = "r1",
    rung: str = "applied",
) -> Finding:
    return Finding(
        policy_id=policy,
        title="t",
        severity=severity,
        maturity=rung,
        resource_id=resource,
        resource_type="storage",
        resource_name=resource,
        status=status,
        message="m",
    )


OK_SOURCE = {"name": "path:x", "status": "ok", "error": None}
DEAD_SOURCE = {"name": "aws:", "status": "error", "error": "unreachable"}


@pytest.mark.parametrize(
    ("findings", "sources", "settings", "code"),
    [
        ([], [OK_SOURCE], GateSettings(), 0),
        ([finding("pass")], [OK_SOURCE], GateSettings(), 0),
        ([finding("fail", "high")], [OK_SOURCE], GateSettings(), 1),
        ([finding("fail", "medium")], [OK_SOURCE], GateSettings(), 0),
        ([finding("fail", "medium")], [OK_SOURCE], GateSettings(fail_on="medium"), 1),
        ([finding("fail", "critical")], [OK_SOURCE], GateSettings(fail_on="none"), 0),
        ([finding("waived", "critical")], [OK_SOURCE], GateSettings(), 0),
        ([finding("not_applicable", "critical")], [OK_SOURCE], GateSettings(), 0),
        ([finding("error", "high")], [OK_SOURCE], GateSettings(), 3),
        ([finding("error", "low")], [OK_SOURCE], GateSettings(), 0),
        (
            [finding("fail", "critical"), finding("error", "high", resource="r2")],
            [OK_SOURCE],
            GateSettings(),
            3,
        ),
        ([], [DEAD_SOURCE], GateSettings(), 3),
        ([], [DEAD_SOURCE], GateSettings(allow_partial=True), 0),
        ([finding("fail")], [DEAD_SOURCE], GateSettings(allow_partial=True), 1),
        ([finding("error")], [DEAD_SOURCE], GateSettings(allow_partial=True), 3),
    ],
)
def test_exit_codes(findings, sources, settings, code):
    gate = decide(findings, sources, settings)
    assert gate["exit_code"] == code
    assert gate["passed"] is (code == 0)
    assert bool(gate["reasons"]) is (code != 0 or any(s["status"] == "error" for s in sources))


def test_reasons_name_findings_and_sources():
    gate = decide(
        [finding("fail", "critical", resource=f"b{i}") for i in range(7)],
        [DEAD_SOURCE],
        GateSettings(),
    )
    assert gate["reasons"][0] == (
        "7 finding(s) at or above 'high' failed: P-1 on b0, P-1 on b1, "
        "P-1 on b2, P-1 on b3, P-1 on b4 and 2 more"
    )
    assert gate["reasons"][1] == "source aws: failed: unreachable"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "not_applicable"),
        (["not_applicable"], "not_applicable"),
        (["pass", "waived"], "met"),
        (["pass", "fail"], "partial"),
        (["fail", "fail"], "not_met"),
        (["fail", "error"], "not_met"),
        (["pass", "error"], "error"),
        (["waived", "fail", "error"], "partial"),
    ],
)
def test_control_status(statuses, expected):
    findings = [finding(s, resource=f"r{i}") for i, s in enumerate(statuses)]
    assert control_status(findings, has_policies=True) == expected


def test_control_without_policies_is_manual():
    assert control_status([], has_policies=False) == "manual"


def test_roll_up_lists_failing_resources():
    fw = Framework(
        "f",
        "F",
        "1",
        "",
        (
            Control("C1", "c", ("P-1", "P-2")),
            Control("C2", "manual", (), attestation="risk_register"),
        ),
    )
    findings = [
        finding("fail", policy="P-1", resource="b"),
        finding("error", policy="P-2", resource="a"),
        finding("pass", policy="P-1", resource="c"),
    ]
    out = roll_up([fw], findings)[0]
    assert out["controls"][0] == {
        "id": "C1",
        "title": "c",
        "status": "partial",
        "policies": ["P-1", "P-2"],
        "failing": ["a", "b"],
    }
    assert out["controls"][1]["status"] == "manual"
    assert out["controls"][1]["attestation"] == "risk_register"
    assert out["summary"]["partial"] == 1 and out["summary"]["manual"] == 1


def policy(pid: str, rung: str) -> Policy:
    return Policy(
        id=pid,
        title=pid,
        severity="high",
        maturity=rung,
        resource="storage",
        check=AllOf(where="", items=()),
    )


def test_maturity_is_cumulative():
    policies = [policy("A", "applied"), policy("B", "advanced"), policy("S", "strategic")]
    # Strategic passes but advanced fails: the level stops at applied.
    findings = [
        finding("pass", policy="A"),
        finding("fail", policy="B"),
        finding("pass", policy="S"),
    ]
    out = maturity(policies, findings)
    assert out["level"] == "applied"
    assert out["next"] == "advanced"
    assert [r["status"] for r in out["rungs"]] == [
        "reached",
        "reached",
        "not_reached",
        "not_reached",
    ]
    assert out["rungs"][2]["blocking"] == [
        {"policy_id": "B", "resource_id": "r1", "status": "fail", "severity": "high"}
    ]
    assert out["rungs"][3]["passed"] == 1 and out["rungs"][3]["blocking"] == []


def test_maturity_error_blocks_and_waived_does_not():
    policies = [policy("A", "applied"), policy("B", "advanced")]
    assert maturity(policies, [finding("error", policy="A")])["level"] == "foundational"
    out = maturity(policies, [finding("waived", policy="A"), finding("pass", policy="B")])
    assert out["level"] == "advanced" and out["next"] == "strategic"
    na = maturity(policies, [finding("not_applicable", policy="A"), finding("pass", policy="B")])
    assert na["level"] == "advanced"


def test_all_rungs_reached():
    policies = [policy("A", "applied"), policy("B", "advanced"), policy("S", "strategic")]
    findings = [finding("pass", policy=p.id) for p in policies]
    out = maturity(policies, findings)
    assert out["level"] == "strategic" and out["next"] is None


def test_a_rung_without_policies_is_not_reached():
    out = maturity([policy("A", "applied")], [finding("pass", policy="A")])
    assert out["level"] == "applied"
    assert out["rungs"][2] == {
        "name": "advanced",
        "status": "not_reached",
        "passed": 0,
        "total": 0,
        "blocking": [],
    }


def test_manual_control_met_by_a_valid_attestation():
    import datetime as dt

    from scanner.inventory import Resource

    fw = Framework(
        "f",
        "F",
        "1",
        "",
        (
            Control("R1", "risk register", (), attestation="risk_register"),
            Control("R2", "listed explicitly", ()),
            Control("R3", "nothing attests it", ()),
        ),
    )
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    atts = [
        Resource(
            "attestation:risk_register:2026-01-01",
            "attestation",
            "rr",
            "ev",
            {"kind": "risk_register", "date": "2026-01-01", "controls": []},
        ),
        Resource(
            "attestation:other:old",
            "attestation",
            "old",
            "ev",
            {"kind": "other", "date": "2024-01-01", "expires": "2025-01-01", "controls": ["f:R2"]},
        ),
        Resource(
            "attestation:other:new",
            "attestation",
            "new",
            "ev",
            {"kind": "other", "date": "2026-02-01", "controls": ["f:R2"]},
        ),
    ]
    out = {c["id"]: c for c in roll_up([fw], [], atts, now)[0]["controls"]}
    assert out["R1"]["status"] == "met"
    assert out["R1"]["attested_by"] == ["attestation:risk_register:2026-01-01"]
    assert out["R2"]["status"] == "met"
    assert out["R2"]["attested_by"] == ["attestation:other:new"]
    assert out["R2"]["notes"] == ["attestation:other:old expired on 2025-01-01"]
    assert out["R3"]["status"] == "manual" and "attested_by" not in out["R3"]
    expired_only = roll_up([fw], [], atts[1:2], now)[0]["controls"][1]
    assert expired_only["status"] == "manual"
    assert expired_only["notes"] == ["attestation:other:old expired on 2025-01-01"]
