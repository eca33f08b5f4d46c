"""Findings and source statuses → the exit code a pipeline gates on, with the reasons.

Exit codes (highest wins): 0 gate passed; 1 a finding at or above the threshold failed;
3 a source failed (unless partial results are allowed) or a finding at or above the threshold
could not be evaluated. Errors are gated like failures because an unknown verdict on a check
the user cares about must not deploy; `--allow-partial` forgives dead sources, not unknowns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scanner.errors import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE
from scanner.findings import Finding
from scanner.policy.model import SEVERITIES, SEVERITY_RANK

FAIL_ON_CHOICES = (*SEVERITIES, "none")
MAX_NAMED = 5


@dataclass(frozen=True)
class GateSettings:
    fail_on: str = "high"
    allow_partial: bool = False


def at_or_above(severity: str, fail_on: str) -> bool:
    if fail_on == "none":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[fail_on]


def _named(findings: Sequence[Finding]) -> str:
    names = [f"{f.policy_id} on {f.resource_name or f.resource_id}" for f in findings[:MAX_NAMED]]
    more = f" and {len(findings) - MAX_NAMED} more" if len(findings) > MAX_NAMED else ""
    return ", ".join(names) + more


def decide(
    findings: Sequence[Finding], sources: Sequence[dict[str, Any]], settings: GateSettings
) -> dict[str, Any]:
    exit_code = EXIT_OK
    reasons: list[str] = []
    failing = [
        f for f in findings if f.status == "fail" and at_or_above(f.severity, settings.fail_on)
    ]
    if failing:
        exit_code = EXIT_FINDINGS
        reasons.append(
            f"{len(failing)} finding(s) at or above '{settings.fail_on}' failed: {_named(failing)}"
        )
    errored = [
        f for f in findings if f.status == "error" and at_or_above(f.severity, settings.fail_on)
    ]
    if errored:
        exit_code = EXIT_SOURCE
        reasons.append(
            f"{len(errored)} finding(s) at or above '{settings.fail_on}' could not be "
            f"evaluated: {_named(errored)}"
        )
    for source in sources:
        if source["status"] == "error":
            if settings.allow_partial:
                reasons.append(
                    f"source {source['name']} failed, allowed by --allow-partial: {source['error']}"
                )
            else:
                exit_code = EXIT_SOURCE
                reasons.append(f"source {source['name']} failed: {source['error']}")
    return {
        "fail_on": settings.fail_on,
        "allow_partial": settings.allow_partial,
        "exit_code": exit_code,
        "passed": exit_code == EXIT_OK,
        "reasons": reasons,
    }
