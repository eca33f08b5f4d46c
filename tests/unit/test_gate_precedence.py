"""The gate's precedence rules (docs/ci-gating.md), one test per rule, and Checkov's table."""

from __future__ import annotations

import pytest

from scanner.errors import UsageError
from scanner.findings import Finding
from scanner.gate import GateSettings, Selector, classify, decide

OK = [{"name": "path:x", "status": "ok", "error": None}]
DEAD = [{"name": "aws:", "status": "error", "error": "unreachable"}]


def finding(policy: str, severity: str, status: str = "fail", resource: str = "r1") -> Finding:
    return Finding(policy, "t", severity, "applied", resource, "storage", resource, status, "m")


def gate(
    fail_on: str = "high",
    hard: tuple[str, ...] = (),
    soft: tuple[str, ...] = (),
    soft_fail: bool = False,
    allow_partial: bool = False,
) -> GateSettings:
    return GateSettings(
        fail_on=fail_on,
        allow_partial=allow_partial,
        hard_fail_on=Selector.parse(hard),
        soft_fail_on=Selector.parse(soft),
        soft_fail=soft_fail,
    )


@pytest.mark.parametrize(
    ("f", "settings", "known", "expected"),
    [
        # 1. a waived finding never blocks, whatever the lists say
        (
            finding("MW-STO-01", "critical", "waived"),
            gate(hard=("MW-STO-01",)),
            (),
            ("waived", "waiver", ""),
        ),
        # 2. a finding in the baseline is not new: it does not block, even if hard-listed
        (
            finding("MW-STO-01", "critical"),
            gate(hard=("MW-STO-01",)),
            {("MW-STO-01", "r1")},
            ("baselined", "baseline", ""),
        ),
        # 3. an id (or wildcard) in the hard list blocks at any severity, even under --soft-fail
        #    and even when the soft list names the same policy
        (
            finding("MW-STO-01", "info"),
            gate(hard=("MW-STO-*",), soft=("MW-STO-01",), soft_fail=True),
            (),
            ("hard", "hard_fail_on_id", "MW-STO-*"),
        ),
        # 4. an id in the soft list beats a hard severity and the threshold
        (
            finding("MW-STO-01", "critical"),
            gate(hard=("high",), soft=("MW-STO-01",)),
            (),
            ("soft", "soft_fail_on_id", "MW-STO-01"),
        ),
        # 5. a hard severity beats a soft severity naming the same level, and --soft-fail
        (
            finding("MW-STO-01", "medium"),
            gate(hard=("medium",), soft=("medium",), soft_fail=True),
            (),
            ("hard", "hard_fail_on_severity", "medium"),
        ),
        # 5'. with several hard severities the lowest is the threshold
        (
            finding("MW-STO-01", "low"),
            gate(hard=("critical", "low")),
            (),
            ("hard", "hard_fail_on_severity", "low"),
        ),
        # 6. a soft severity raises the bar above --fail-on (the highest soft severity counts)
        (
            finding("MW-STO-01", "high"),
            gate(fail_on="low", soft=("low", "high")),
            (),
            ("soft", "soft_fail_on_severity", "high"),
        ),
        # 7. --soft-fail: nothing matched an explicit rule, so nothing blocks
        (
            finding("MW-STO-01", "critical"),
            gate(soft_fail=True),
            (),
            ("soft", "soft_fail", ""),
        ),
        # 8. the --fail-on threshold decides the rest, both ways
        (finding("MW-STO-01", "high"), gate(), (), ("hard", "fail_on", "high")),
        (finding("MW-STO-01", "medium"), gate(), (), ("soft", "fail_on", "high")),
        (finding("MW-STO-01", "critical"), gate(fail_on="none"), (), ("soft", "fail_on", "none")),
    ],
)
def test_each_precedence_rule(f, settings, known, expected):
    d = classify(f, settings, known)
    assert (d.outcome, d.rule, d.matched) == expected


def test_hard_ids_never_weaken_the_threshold():
    """Checkov treats `--hard-fail-on ID` alone as "only these block"; modelward does not: a
    list of hard ids adds to --fail-on, so naming something hard cannot let a critical through."""
    settings = gate(hard=("MW-API-01",))
    assert classify(finding("MW-STO-01", "critical"), settings).outcome == "hard"
    only_ids = gate(fail_on="none", hard=("MW-API-01",))
    assert classify(finding("MW-STO-01", "critical"), only_ids).outcome == "soft"
    assert classify(finding("MW-API-01", "low"), only_ids).outcome == "hard"


# Checkov's documented example (docs/2.Basics/Hard and soft fail.md): two failed checks, CKV_123
# LOW and CKV_789 HIGH. Checkov fails on everything by default, which is --fail-on info here.
CHECKOV = [
    (True, (), (), 0),
    (False, ("CKV_123",), (), 1),
    # Checkov: 0 (a hard list alone makes everything else soft). modelward: 1, see above.
    (False, (), ("CKV_999",), 1),
    (False, ("low", "CKV_789"), ("CKV_123",), 1),
    (False, ("CKV_789",), ("high",), 1),
    (True, ("CKV_789",), ("high",), 0),
]


@pytest.mark.parametrize(("soft_fail", "soft", "hard", "code"), CHECKOV)
def test_checkovs_example_table(soft_fail, soft, hard, code):
    findings = [finding("CKV_123", "low"), finding("CKV_789", "high", resource="r2")]
    settings = gate(fail_on="info", hard=hard, soft=soft, soft_fail=soft_fail)
    assert decide(findings, OK, settings)["exit_code"] == code


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        (gate(), 3),  # a hard error: nobody could tell whether it passes
        (gate(soft=("MW-STO-01",)), 0),
        (gate(soft_fail=True), 0),
        (gate(soft_fail=True, hard=("critical",)), 3),
    ],
)
def test_errors_follow_the_same_rules(settings, code):
    assert decide([finding("MW-STO-01", "critical", "error")], OK, settings)["exit_code"] == code


def test_soft_fail_still_exits_3_when_a_source_failed():
    assert decide([finding("P", "critical")], DEAD, gate(soft_fail=True))["exit_code"] == 3
    settings = gate(soft_fail=True, allow_partial=True)
    assert decide([finding("P", "critical")], DEAD, settings)["exit_code"] == 0


def test_gate_block_records_settings_decisions_and_reasons():
    findings = [
        finding("MW-STO-01", "low", resource="b"),
        finding("MW-STO-01", "low", resource="a"),
        finding("MW-API-02", "critical", "error"),
        finding("MW-GOV-01", "critical"),
        finding("MW-GOV-02", "medium"),
        finding("MW-GOV-03", "high", "waived"),
        finding("MW-GOV-04", "high", "pass"),
    ]
    settings = gate(hard=("MW-STO-*",), soft=("MW-GOV-01",))
    block = decide(findings, OK, settings, known={("MW-API-02", "r1")})
    assert block["exit_code"] == 1
    assert block["hard_fail_on"] == ["MW-STO-*"]
    assert block["soft_fail_on"] == ["MW-GOV-01"]
    assert block["reasons"] == [
        "2 finding(s) matching --hard-fail-on 'MW-STO-*' failed: MW-STO-01 on a, MW-STO-01 on b"
    ]
    assert block["notes"] == [
        "1 failing finding(s) reported without failing the gate (soft fail): MW-GOV-01 on r1"
    ]
    assert block["counts"] == {"hard": 2, "soft": 2, "waived": 1, "baselined": 1}
    rules = {
        (d["policy_id"], d["resource_id"]): (d["outcome"], d["rule"]) for d in block["decisions"]
    }
    assert rules == {
        ("MW-API-02", "r1"): ("baselined", "baseline"),
        ("MW-GOV-01", "r1"): ("soft", "soft_fail_on_id"),
        ("MW-GOV-02", "r1"): ("soft", "fail_on"),
        ("MW-GOV-03", "r1"): ("waived", "waiver"),
        ("MW-STO-01", "a"): ("hard", "hard_fail_on_id"),
        ("MW-STO-01", "b"): ("hard", "hard_fail_on_id"),
    }
    assert [d["resource_id"] for d in block["decisions"]][-2:] == ["a", "b"]  # sorted by key


def test_reasons_name_the_rule_that_blocked():
    findings = [finding("A-1", "medium"), finding("B-1", "critical")]
    block = decide(findings, OK, gate(hard=("medium",)))
    assert block["reasons"] == [
        "2 finding(s) at or above 'medium' (--hard-fail-on) failed: A-1 on r1, B-1 on r1"
    ]


def test_selector_parsing():
    s = Selector.parse(["MW-STO-*", "HIGH", " low ", "MW-STO-*", "", "MW-API-01"])
    assert s.patterns == ("MW-STO-*", "MW-API-01")
    assert s.severities == ("high", "low")
    assert (s.lowest, s.highest) == ("low", "high")
    assert s.listed() == ["MW-STO-*", "MW-API-01", "high", "low"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (gate(hard=("MW-STO-99",)), "--hard-fail-on 'MW-STO-99' matches no loaded policy"),
        (gate(soft=("MW-NOPE-*",)), "--soft-fail-on 'MW-NOPE-*' matches no loaded policy"),
    ],
)
def test_patterns_that_name_no_policy_are_refused(settings, message):
    with pytest.raises(UsageError, match=message.replace("*", r"\*")):
        settings.check_patterns(["MW-STO-01", "MW-API-01"])


def test_known_patterns_and_severities_are_accepted():
    gate(hard=("MW-STO-*", "critical"), soft=("MW-API-01", "Low")).check_patterns(
        ["MW-STO-01", "MW-API-01"]
    )


# The worked examples of docs/ci-gating.md, row by row: MW-ART-01 critical, MW-LOG-02 low.
DOC_TABLE = [
    ({}, (), ("hard", 8), ("soft", 8), 1),
    ({"fail_on": "low"}, (), ("hard", 8), ("hard", 8), 1),
    ({"soft_fail": True}, (), ("soft", 7), ("soft", 7), 0),
    ({"soft_fail": True, "hard": ("critical",)}, (), ("hard", 5), ("soft", 7), 1),
    ({"soft": ("MW-ART-01",)}, (), ("soft", 4), ("soft", 8), 0),
    ({"soft": ("critical",)}, (), ("soft", 6), ("soft", 6), 0),
    ({"hard": ("MW-LOG-*",)}, (), ("hard", 8), ("hard", 3), 1),
    ({"hard": ("MW-LOG-02",), "soft": ("MW-LOG-02",)}, (), ("hard", 8), ("hard", 3), 1),
    ({"fail_on": "none", "hard": ("MW-LOG-02",)}, (), ("soft", 8), ("hard", 3), 1),
    ({}, {("MW-ART-01", "r1")}, ("baselined", 2), ("soft", 8), 0),
]
RULE_NUMBER = {
    "waiver": 1, "baseline": 2, "hard_fail_on_id": 3, "soft_fail_on_id": 4,
    "hard_fail_on_severity": 5, "soft_fail_on_severity": 6, "soft_fail": 7, "fail_on": 8,
}  # fmt: skip


@pytest.mark.parametrize(("kw", "known", "art", "log", "code"), DOC_TABLE)
def test_the_documented_examples(kw, known, art, log, code):
    settings = gate(**kw)
    findings = [finding("MW-ART-01", "critical"), finding("MW-LOG-02", "low")]
    got = [classify(f, settings, known) for f in findings]
    assert [(d.outcome, RULE_NUMBER[d.rule]) for d in got] == [art, log]
    assert decide(findings, OK, settings, known)["exit_code"] == code
