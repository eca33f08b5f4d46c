"""What a reader needs first, computed once from results.json for every human-facing format.

The HTML report, the Markdown summary and the CSV all answer the same questions — where does
the estate stand, what to fix first, and why — so the answers are computed here, from the
results document alone, and the writers only lay them out.

"What to fix first" ranks every policy with failing findings: by severity, then by how much
its failures hold back (the next maturity rung, and framework controls kept from `met`), then
by how many resources fail it. Fixing the top entry moves the most controls for the worst risk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.terminal import LADDER_MAPPING

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
# What being at a rung means, for a reader who has not read the policy catalogue. Foundational
# has no policy of its own: it is where an estate is until every applied policy passes.
RUNG_MEANING = {
    "foundational": "models are kept wherever they landed: no complete inventory, broad access "
    "to model storage, artefacts nobody verifies",
    "applied": "baseline controls hold: an inventory, no public or over-broad access, "
    "encryption, read logging, authenticated and rate-limited APIs, safe serialization",
    "advanced": "applied, plus provenance, verified signatures, private network paths, "
    "calibrated limits, extraction detection, a threat model and a privacy assessment",
    "strategic": "advanced, plus watermarking, red teaming, board-level risk ownership, "
    "external audit and monitoring for stolen models",
}


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
    def meaning(self) -> str:
        return RUNG_MEANING.get(self.level, "")

    @property
    def sentence(self) -> str:
        """Why the estate is at its level, in words: what holds it below the next rung."""
        if self.next is None:
            return f"{self.level}, the top rung: every evaluated policy passes"
        if not self.next_checked:
            return (
                f"{self.level}; no evaluated policy checks the {self.next} rung, so nothing "
                f"shows whether it holds"
            )
        count = len(self.blocking)
        policies = len(self.blocking_policies)
        return (
            f"{self.level}, because {self.next} does not hold yet: {count} "
            f"finding{'s' if count != 1 else ''} from {policies} "
            f"polic{'ies' if policies != 1 else 'y'} stand in the way"
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


@dataclass(frozen=True)
class FrameworkScore:
    """A framework in one number: the share of its automated controls that are met. Manual
    controls (evidence a person provides) and controls that do not apply are left out of the
    share and counted beside it."""

    id: str
    title: str
    met: int
    automated: int
    manual: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.met / self.automated) if self.automated else None


def framework_scores(document: Mapping[str, Any]) -> list[FrameworkScore]:
    """Every framework but the maturity ladder's own mapping (the rung says that)."""
    scores = []
    for fw in document["frameworks"]:
        if fw["id"] == LADDER_MAPPING:
            continue
        counts = fw["summary"]
        automated = sum(counts.values()) - counts["manual"] - counts["not_applicable"]
        scores.append(
            FrameworkScore(
                fw["id"], fw["title"] or fw["id"], counts["met"], automated, counts["manual"]
            )
        )
    return scores


def control_label(fw_control: Sequence[str] | Mapping[str, str]) -> str:
    if isinstance(fw_control, Mapping):
        return f"{fw_control['framework']}:{fw_control['control']}"
    return f"{fw_control[0]}:{fw_control[1]}"


def failing_sources(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in document["scan"]["sources"] if s["status"] != "ok"]


_DENIED = re.compile(r"denied: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)")


@dataclass(frozen=True)
class Gap:
    """Values of one source's resources that could not be determined, for one reason."""

    reason: str
    resources: tuple[Mapping[str, Any], ...]  # {id, name, type}


@dataclass(frozen=True)
class SourceView:
    """A source as a reader needs it: complete, with gaps (its resources hold Unknown values:
    an object it was denied, an account it does not scan, a registry no source in the scan
    reads), or failed. "Sources 3 of 3 read" would hide the gaps."""

    name: str
    type: str
    status: str  # read | partial | failed
    resource_count: int
    problems: tuple[str, ...]
    gaps: tuple[Gap, ...]

    @property
    def unread(self) -> int:
        return len({r["id"] for g in self.gaps for r in g.resources})

    @property
    def denied(self) -> tuple[str, ...]:
        """The permissions whose denial left values unknown (`s3:GetObject`)."""
        return tuple(sorted({m for g in self.gaps for m in _DENIED.findall(g.reason)}))


def _unknowns(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("$unknown"), str):
            yield value["$unknown"]
            return
        for item in value.values():
            yield from _unknowns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _unknowns(item)


def root_reasons(attributes: Mapping[str, Any]) -> list[str]:
    """A resource's distinct Unknown reasons, without those that only repeat another: a file's
    `denied: s3:GetObject` also explains `format of model.safetensors could not be determined
    (denied: s3:GetObject)` and what follows from it."""
    reasons = sorted(set(_unknowns(attributes)), key=len)
    kept: list[str] = []
    for reason in reasons:
        if not any(k in reason for k in kept):
            kept.append(reason)
    return kept


def source_views(document: Mapping[str, Any]) -> list[SourceView]:
    gaps: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in document["resources"]:
        for reason in root_reasons(r["attributes"]):
            shown = {"id": r["id"], "name": r["name"] or r["id"], "type": r["type"]}
            gaps.setdefault(r["source"], {}).setdefault(reason, []).append(shown)
    views = []
    for s in document["scan"]["sources"]:
        by_reason = gaps.get(s["name"], {})
        ordered = sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0]))
        failed = s["status"] != "ok"
        views.append(
            SourceView(
                name=s["name"],
                type=s["type"],
                status="failed" if failed else "partial" if by_reason else "read",
                resource_count=s["resource_count"],
                problems=tuple(s.get("problems") or ([s["error"]] if s.get("error") else [])),
                gaps=tuple(Gap(reason, tuple(found)) for reason, found in ordered),
            )
        )
    return views


def plural(count: int, noun: str) -> str:
    """`1 artefact`, `4 artefacts`, `2 model versions` (resource types read as nouns)."""
    words = noun.replace("_", " ")
    return f"{count} {words}{'' if count == 1 else 's'}"
