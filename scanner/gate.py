"""Findings and source statuses → the exit code a pipeline gates on, with the reasons.

Every `fail` or `error` finding is classified *hard* (it blocks) or *soft* (it is reported
and does not block) by the first rule that matches, in the order Checkov documents for its
`--hard-fail-on` / `--soft-fail-on` / `--soft-fail` (docs/ci-gating.md has the table):

1. waived (the finding's status is `waived`) → never blocks
2. in the baseline (same policy id and resource id) → does not block: it is not new
3. policy id matches an id or wildcard in `hard_fail_on` → hard
4. policy id matches an id or wildcard in `soft_fail_on` → soft
5. severity at or above the lowest severity in `hard_fail_on` → hard
6. severity at or below the highest severity in `soft_fail_on` → soft
7. `soft_fail` → soft
8. severity at or above `fail_on` → hard; otherwise soft

Exit codes (highest wins): 0 gate passed; 1 a hard `fail`; 3 a hard `error` (an unknown
verdict on a check the user gates on must not deploy), or a source failed unless partial
results are allowed. Unlike Checkov, naming something in `hard_fail_on` never makes the gate
weaker: ids there add to the `fail_on` threshold instead of replacing it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE, UsageError
from scanner.findings import Finding
from scanner.policy.model import SEVERITIES, SEVERITY_RANK

FAIL_ON_CHOICES = (*SEVERITIES, "none")
MAX_NAMED = 5
# Rule names as recorded in results (gate.decisions[].rule); documented in docs/ci-gating.md.
RULES = (
    "waiver",
    "baseline",
    "hard_fail_on_id",
    "soft_fail_on_id",
    "hard_fail_on_severity",
    "soft_fail_on_severity",
    "soft_fail",
    "fail_on",
)


@dataclass(frozen=True)
class Selector:
    """A `--hard-fail-on` / `--soft-fail-on` list, split into ids/wildcards and severities."""

    patterns: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Selector:
        patterns: list[str] = []
        severities: list[str] = []
        for raw in entries:
            entry = raw.strip()
            if entry.lower() in SEVERITIES:
                severities.append(entry.lower())
            elif entry:
                patterns.append(entry)
        return cls(tuple(dict.fromkeys(patterns)), tuple(dict.fromkeys(severities)))

    def id_match(self, policy_id: str) -> str | None:
        return next((p for p in self.patterns if fnmatch.fnmatchcase(policy_id, p)), None)

    @property
    def lowest(self) -> str | None:
        return min(self.severities, key=SEVERITY_RANK.__getitem__, default=None)

    @property
    def highest(self) -> str | None:
        return max(self.severities, key=SEVERITY_RANK.__getitem__, default=None)

    def listed(self) -> list[str]:
        return [*self.patterns, *self.severities]


@dataclass(frozen=True)
class GateSettings:
    fail_on: str = "high"
    allow_partial: bool = False
    hard_fail_on: Selector = field(default_factory=Selector)
    soft_fail_on: Selector = field(default_factory=Selector)
    soft_fail: bool = False

    def check_patterns(self, policy_ids: Collection[str]) -> None:
        """An id or wildcard that names no loaded policy is almost always a typo, and a typo in
        a gate list silently changes what blocks a deploy (Checkov's users lost hours to this):
        refuse it before scanning."""
        for flag, selector in (
            ("--hard-fail-on", self.hard_fail_on),
            ("--soft-fail-on", self.soft_fail_on),
        ):
            for pattern in selector.patterns:
                if not any(fnmatch.fnmatchcase(pid, pattern) for pid in policy_ids):
                    raise UsageError(
                        f"{flag} {pattern!r} matches no loaded policy "
                        f"(give policy ids, wildcards such as MW-STO-*, or severities: "
                        f"{', '.join(SEVERITIES)})"
                    )


def at_or_above(severity: str, fail_on: str | None) -> bool:
    if fail_on is None or fail_on == "none":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[fail_on]


@dataclass(frozen=True)
class Decision:
    finding: Finding
    outcome: str  # hard | soft | waived | baselined
    rule: str
    matched: str = ""

    def to_dict(self) -> dict[str, Any]:
        entry = {
            "policy_id": self.finding.policy_id,
            "resource_id": self.finding.resource_id,
            "status": self.finding.status,
            "severity": self.finding.severity,
            "outcome": self.outcome,
            "rule": self.rule,
        }
        if self.matched:
            entry["matched"] = self.matched
        return entry


def classify(
    finding: Finding, settings: GateSettings, known: Collection[tuple[str, str]] = ()
) -> Decision:
    """The first matching rule decides (see the module docstring)."""
    if finding.status == "waived":
        return Decision(finding, "waived", "waiver")
    if finding.key in known:
        return Decision(finding, "baselined", "baseline")
    hard, soft = settings.hard_fail_on, settings.soft_fail_on
    if (pattern := hard.id_match(finding.policy_id)) is not None:
        return Decision(finding, "hard", "hard_fail_on_id", pattern)
    if (pattern := soft.id_match(finding.policy_id)) is not None:
        return Decision(finding, "soft", "soft_fail_on_id", pattern)
    if hard.lowest is not None and at_or_above(finding.severity, hard.lowest):
        return Decision(finding, "hard", "hard_fail_on_severity", hard.lowest)
    if soft.highest is not None and at_or_above(soft.highest, finding.severity):
        return Decision(finding, "soft", "soft_fail_on_severity", soft.highest)
    if settings.soft_fail:
        return Decision(finding, "soft", "soft_fail")
    if at_or_above(finding.severity, settings.fail_on):
        return Decision(finding, "hard", "fail_on", settings.fail_on)
    return Decision(finding, "soft", "fail_on", settings.fail_on)


def _named(findings: Sequence[Finding]) -> str:
    names = [f"{f.policy_id} on {f.resource_name or f.resource_id}" for f in findings[:MAX_NAMED]]
    more = f" and {len(findings) - MAX_NAMED} more" if len(findings) > MAX_NAMED else ""
    return ", ".join(names) + more


def _why(rule: str, matched: str) -> str:
    """How a group of blocking findings was selected, in the words of the reason line."""
    if rule == "fail_on":
        return f"at or above '{matched}'"
    if rule == "hard_fail_on_severity":
        return f"at or above '{matched}' (--hard-fail-on)"
    return f"matching --hard-fail-on '{matched}'"


def _blocking_reasons(decisions: Sequence[Decision], status: str, verb: str) -> list[str]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for d in decisions:
        if d.outcome == "hard" and d.finding.status == status:
            groups.setdefault((d.rule, d.matched), []).append(d.finding)
    order = {rule: i for i, rule in enumerate(RULES)}
    return [
        f"{len(found)} finding(s) {_why(rule, matched)} {verb}: {_named(found)}"
        for (rule, matched), found in sorted(groups.items(), key=lambda g: (order[g[0][0]], g[0]))
    ]


def _soft_notes(decisions: Sequence[Decision]) -> list[str]:
    """Failures that an explicit soft rule kept from blocking are worth a line: someone chose
    to let them through. Those merely below the threshold are the normal case and stay quiet."""
    chosen = [d for d in decisions if d.outcome == "soft" and d.rule != "fail_on"]
    if not chosen:
        return []
    return [
        f"{len(chosen)} failing finding(s) reported without failing the gate (soft fail): "
        + _named([d.finding for d in chosen])
    ]


def decide(
    findings: Sequence[Finding],
    sources: Sequence[Mapping[str, Any]],
    settings: GateSettings,
    known: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The `gate` block of results. `known` holds the baseline's (policy id, resource id) keys."""
    decisions = [
        classify(f, settings, known)
        for f in sorted(findings, key=lambda f: f.key)
        if f.status in ("fail", "error", "waived")
    ]
    exit_code = EXIT_OK
    reasons = _blocking_reasons(decisions, "fail", "failed")
    if reasons:
        exit_code = EXIT_FINDINGS
    errored = _blocking_reasons(decisions, "error", "could not be evaluated")
    if errored:
        exit_code = EXIT_SOURCE
        reasons += errored
    for source in sources:
        if source["status"] == "error":
            if settings.allow_partial:
                reasons.append(
                    f"source {source['name']} failed, allowed by --allow-partial: {source['error']}"
                )
            else:
                exit_code = EXIT_SOURCE
                reasons.append(f"source {source['name']} failed: {source['error']}")
    counts = dict.fromkeys(("hard", "soft", "waived", "baselined"), 0)
    for d in decisions:
        counts[d.outcome] += 1
    return {
        "fail_on": settings.fail_on,
        "allow_partial": settings.allow_partial,
        "soft_fail": settings.soft_fail,
        "hard_fail_on": settings.hard_fail_on.listed(),
        "soft_fail_on": settings.soft_fail_on.listed(),
        "exit_code": exit_code,
        "passed": exit_code == EXIT_OK,
        "reasons": reasons,
        "notes": _soft_notes(decisions),
        "counts": counts,
        "decisions": [d.to_dict() for d in decisions],
    }
