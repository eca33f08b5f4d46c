"""What a reader needs first, computed once from results.json for every human-facing format.

The HTML report, the Markdown summary and the CSV all answer the same questions — where does
the estate stand, what to fix first, and why — so the answers are computed here, from the
results document alone, and the writers only lay them out.

"What to fix first" ranks every policy with failing findings: by severity, then by how much
its failures hold back (the next maturity rung, and framework controls kept from `met`), then
by how many resources fail it. Fixing the top entry moves the most controls for the worst risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
STATUSES = ("fail", "error", "waived", "pass", "not_applicable")
STATUS_RANK = {name: rank for rank, name in enumerate(STATUSES)}
FAILING = frozenset({"fail", "error"})
CONTROL_STATUSES = ("met", "partial", "not_met", "error", "manual", "not_applicable")
CONTROL_LABELS = {
    "met": "met",
    "partial": "partial",
    "not_met": "not met",
    "error": "error",
    "manual": "manual",
    "not_applicable": "n/a",
}
UNMET = frozenset({"partial", "not_met", "error"})
RUNGS = ("foundational", "applied", "advanced", "strategic")


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as the results describe it; files without a `policies` list still get one."""

    id: str
    title: str
    severity: str
    maturity: str
    resource: str = ""
    description: str = ""
    rationale: str = ""
    remediation: Mapping[str, Any] | None = None
    references: tuple[str, ...] = ()

    @property
    def fix(self) -> str:
        summary = (self.remediation or {}).get("summary", "")
        return summary if isinstance(summary, str) else ""


@dataclass(frozen=True)
class Priority:
    """One failing policy, with what its failures hold back."""

    rank: int
    policy: PolicyInfo
    failing: tuple[str, ...]  # resource ids with a fail finding
    errors: tuple[str, ...]  # resource ids whose verdict could not be reached
    controls: tuple[tuple[str, str], ...]  # (framework, control) kept from met
    blocks_rungs: tuple[str, ...]  # rungs not reached because of it (its own and above)
    blocks_next: bool

    @property
    def weight(self) -> int:
        return len(self.controls) + (1 if self.blocks_next else 0)

    @property
    def resource_count(self) -> int:
        return len(self.failing) + len(self.errors)


@dataclass(frozen=True)
class MaturityView:
    level: str
    next: str | None
    next_checked: bool  # some evaluated policy sits on the next rung
    blocking: tuple[Mapping[str, Any], ...]
    blocking_policies: tuple[str, ...]

    @property
    def sentence(self) -> str:
        if self.next is None:
            return f"{self.level} reached: the top rung"
        if not self.next_checked:
            return f"{self.level} reached; no evaluated policy checks the {self.next} rung"
        count = len(self.blocking)
        policies = len(self.blocking_policies)
        return (
            f"{self.level} reached; {count} finding{'s' if count != 1 else ''} from "
            f"{policies} polic{'ies' if policies != 1 else 'y'} block {self.next}"
        )


def policies(document: Mapping[str, Any]) -> dict[str, PolicyInfo]:
    """Policy id → what is known about it: the `policies` list, else what findings repeat."""
    known: dict[str, PolicyInfo] = {}
    for p in document.get("policies") or ():
        known[p["id"]] = PolicyInfo(
            id=p["id"],
            title=p["title"],
            severity=p["severity"],
            maturity=p["maturity"],
            resource=p["resource"],
            description=p["description"],
            rationale=p["rationale"],
            remediation=p["remediation"],
            references=tuple(p["references"]),
        )
    for f in document["findings"]:
        if f["policy_id"] not in known:
            known[f["policy_id"]] = PolicyInfo(
                id=f["policy_id"],
                title=f["title"],
                severity=f["severity"],
                maturity=f["maturity"],
                resource=f["resource_type"],
            )
    return dict(sorted(known.items()))


def maturity_view(document: Mapping[str, Any]) -> MaturityView:
    maturity = document["maturity"]
    nxt = maturity["next"]
    rung = next((r for r in maturity["rungs"] if r["name"] == nxt), None)
    blocking = tuple(rung["blocking"]) if rung else ()
    return MaturityView(
        level=maturity["level"],
        next=nxt,
        next_checked=bool(rung and rung["total"]),
        blocking=blocking,
        blocking_policies=tuple(sorted({b["policy_id"] for b in blocking})),
    )


def unmet_controls(document: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Policy id → the (framework, control) pairs it maps to that are not met."""
    out: dict[str, list[tuple[str, str]]] = {}
    for fw in document["frameworks"]:
        for control in fw["controls"]:
            if control["status"] in UNMET:
                for pid in control["policies"]:
                    out.setdefault(pid, []).append((fw["id"], control["id"]))
    return out


def priorities(document: Mapping[str, Any]) -> list[Priority]:
    """Every policy with a fail or error finding, most urgent first (see the module doc)."""
    info = policies(document)
    failing: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    for f in document["findings"]:
        if f["status"] == "fail":
            failing.setdefault(f["policy_id"], []).append(f["resource_id"])
        elif f["status"] == "error":
            errors.setdefault(f["policy_id"], []).append(f["resource_id"])
    controls = unmet_controls(document)
    view = maturity_view(document)
    next_index = RUNGS.index(view.next) if view.next else len(RUNGS)
    not_reached = [r["name"] for r in document["maturity"]["rungs"] if r["status"] != "reached"]
    items = []
    for pid in sorted(set(failing) | set(errors)):
        policy = info[pid]
        rung_index = RUNGS.index(policy.maturity)
        items.append(
            Priority(
                rank=0,
                policy=policy,
                failing=tuple(failing.get(pid, ())),
                errors=tuple(errors.get(pid, ())),
                controls=tuple(controls.get(pid, ())),
                blocks_rungs=tuple(r for r in not_reached if RUNGS.index(r) >= rung_index),
                blocks_next=rung_index <= next_index and view.next is not None,
            )
        )
    items.sort(
        key=lambda p: (
            SEVERITY_RANK[p.policy.severity],
            -p.weight,
            -p.resource_count,
            p.policy.id,
        )
    )
    return [
        Priority(i, p.policy, p.failing, p.errors, p.controls, p.blocks_rungs, p.blocks_next)
        for i, p in enumerate(items, start=1)
    ]


def why(priority: Priority) -> str:
    """The ranking in words: the reason this policy sits where it does."""
    parts = [priority.policy.severity]
    if priority.blocks_next and priority.blocks_rungs:
        parts.append(f"blocks maturity {priority.blocks_rungs[0]}")
    if priority.controls:
        n = len(priority.controls)
        frameworks = len({fw for fw, _ in priority.controls})
        parts.append(
            f"keeps {n} control{'s' if n != 1 else ''} in {frameworks} "
            f"framework{'s' if frameworks != 1 else ''} from met"
        )
    counts = []
    if priority.failing:
        counts.append(f"{len(priority.failing)} failing")
    if priority.errors:
        counts.append(f"{len(priority.errors)} not evaluable")
    n = priority.resource_count
    parts.append(f"{' + '.join(counts)} resource{'s' if n != 1 else ''}")
    return " · ".join(parts)


def ordered_findings(
    findings: Iterable[Mapping[str, Any]], ranks: Mapping[str, int]
) -> list[Mapping[str, Any]]:
    """Problems first (fail, error, waived, pass, n/a), then by the fix-first ranking."""
    last = len(ranks) + 1
    return sorted(
        findings,
        key=lambda f: (
            STATUS_RANK[f["status"]],
            SEVERITY_RANK[f["severity"]],
            ranks.get(f["policy_id"], last),
            f["policy_id"],
            f["resource_name"],
            f["resource_id"],
        ),
    )


def control_label(fw_control: Sequence[str] | Mapping[str, str]) -> str:
    if isinstance(fw_control, Mapping):
        return f"{fw_control['framework']}:{fw_control['control']}"
    return f"{fw_control[0]}:{fw_control[1]}"


def failing_sources(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in document["scan"]["sources"] if s["status"] != "ok"]
