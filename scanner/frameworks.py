"""Framework mappings (control → policy ids), their roll-up, and the maturity ladder.

Mappings live in YAML files, never in policies, so adding a framework never touches a policy
(Prowler's split of checks from framework files). The maturity ladder is computed from each
policy's `maturity` rung: a user's own policy joins the ladder without editing a mapping.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.bundled import bundled_dir
from scanner.errors import InputFileError
from scanner.findings import ControlRef, Finding
from scanner.inventory import Resource, Unknown
from scanner.policy.conditions import as_datetime
from scanner.policy.model import RUNGS, Policy
from scanner.schemas import error_lines
from scanner.yamlpos import LoadedYaml, display_path, load_yaml_file

CONTROL_STATUSES = ("met", "not_met", "partial", "error", "manual", "not_applicable")
MAPPING_SCHEMA = "mapping.schema.json"


class FrameworkError(InputFileError):
    """A mapping file is invalid or names policies that do not exist (exit 2)."""


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    policies: tuple[str, ...]
    attestation: str = ""
    description: str = ""


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    version: str
    url: str
    controls: tuple[Control, ...]
    description: str = ""
    file: str = ""


def builtin_mapping_files() -> list[Path]:
    root = bundled_dir("mappings")
    return sorted(p for p in root.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_framework(path: str | os.PathLike[str]) -> Framework:
    loaded = load_yaml_file(path, what="framework mapping")
    errors = error_lines(loaded, MAPPING_SCHEMA)
    if not errors:
        errors = _duplicate_controls(loaded) + _malformed_control_ids(loaded)
    if errors:
        raise FrameworkError(
            errors[0] + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""), details=errors
        )
    doc = loaded.data
    return Framework(
        id=doc["framework"],
        title=doc["title"],
        version=str(doc.get("version", "")),
        url=doc.get("url", ""),
        description=doc.get("description", ""),
        file=loaded.path,
        controls=tuple(
            Control(
                id=c["id"],
                title=c["title"],
                policies=tuple(c["policies"]),
                attestation=c.get("attestation", ""),
                description=c.get("description", ""),
            )
            for c in doc["controls"]
        ),
    )


def _duplicate_controls(loaded: LoadedYaml) -> list[str]:
    seen: set[str] = set()
    errors = []
    for i, control in enumerate(loaded.data["controls"]):
        if control["id"] in seen:
            errors.append(
                loaded.error_line(("controls", i, "id"), f"duplicate control id '{control['id']}'")
            )
        seen.add(control["id"])
    return errors


def _malformed_control_ids(loaded: LoadedYaml) -> list[str]:
    """Control ids that break the framework's own id syntax (`control_id_pattern`)."""
    pattern = loaded.data.get("control_id_pattern")
    if pattern is None:
        return []
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return [
            loaded.error_line(("control_id_pattern",), f"not a valid regular expression: {exc}")
        ]
    return [
        loaded.error_line(
            ("controls", i, "id"),
            f"control id {control['id']!r} does not match this framework's control_id_pattern "
            f"{pattern!r}",
        )
        for i, control in enumerate(loaded.data["controls"])
        if not compiled.fullmatch(control["id"])
    ]


def load_frameworks(
    files: Iterable[str | os.PathLike[str]], known_policies: Iterable[str]
) -> tuple[Framework, ...]:
    """Load mapping files; every policy id they name must exist in the loaded pack."""
    known = set(known_policies)
    frameworks: dict[str, Framework] = {}
    errors: list[str] = []
    for file in files:
        try:
            fw = load_framework(file)
        except InputFileError as exc:
            errors.extend(exc.details or [exc.message])
            continue
        if fw.id in frameworks:
            errors.append(
                f"{fw.file}: framework id '{fw.id}' is also defined in {frameworks[fw.id].file}"
            )
            continue
        for control in fw.controls:
            for pid in control.policies:
                if pid not in known:
                    errors.append(f"{fw.file}: control {control.id} maps unknown policy id '{pid}'")
        frameworks[fw.id] = fw
    if errors:
        raise FrameworkError(
            errors[0] + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""), details=errors
        )
    return tuple(sorted(frameworks.values(), key=lambda f: f.id))


def select(frameworks: Sequence[Framework], wanted: Sequence[str]) -> tuple[Framework, ...]:
    """Only the frameworks the user asked for (all when none named); unknown ids are errors."""
    if not wanted:
        return tuple(frameworks)
    by_id = {f.id: f for f in frameworks}
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise FrameworkError(
            f"unknown framework {', '.join(map(repr, missing))} "
            f"(available: {', '.join(by_id) or 'none'})"
        )
    return tuple(by_id[w] for w in wanted)


def attach_controls(findings: Sequence[Finding], frameworks: Sequence[Framework]) -> list[Finding]:
    """Each finding carries every control its policy serves: framework ids in every output."""
    from dataclasses import replace

    by_policy: dict[str, list[ControlRef]] = {}
    for fw in frameworks:
        for control in fw.controls:
            for pid in control.policies:
                by_policy.setdefault(pid, []).append(ControlRef(fw.id, control.id))
    return [replace(f, controls=tuple(by_policy.get(f.policy_id, ()))) for f in findings]


def control_status(findings: Sequence[Finding], has_policies: bool) -> str:
    if not has_policies:
        return "manual"
    relevant = [f for f in findings if f.status != "not_applicable"]
    if not relevant:
        return "not_applicable"
    fails = [f for f in relevant if f.status == "fail"]
    if fails:
        ok = [f for f in relevant if f.status in ("pass", "waived")]
        return "partial" if ok else "not_met"
    if any(f.status == "error" for f in relevant):
        return "error"
    return "met"


def _attesting(
    control: Control, fw: Framework, attestations: Sequence[Resource], now: dt.datetime
) -> tuple[list[str], list[str]]:
    """Attestations that satisfy a manual control: those listing it under `controls`, or of
    the kind the mapping names. Returns (valid ids, notes about expired ones)."""
    key = f"{fw.id}:{control.id}"
    valid, notes = [], []
    for att in attestations:
        attrs = att.attributes
        # An attestation whose fields could not be read attests nothing (fail closed): only a
        # list of controls, a kind that is text and an expiry that is a date or absent count.
        controls = attrs.get("controls")
        listed = isinstance(controls, list) and key in controls
        kind = attrs.get("kind")
        of_kind = isinstance(kind, str) and kind == (control.attestation or None)
        if not (listed or of_kind):
            continue
        if isinstance(attrs.get("expires"), Unknown) or isinstance(attrs.get("date"), Unknown):
            notes.append(f"{att.id} cannot count: its dates could not be read")
            continue
        expires = as_datetime(attrs.get("expires"))
        if expires is not None and expires <= now:
            notes.append(f"{att.id} expired on {attrs.get('expires')}")
        else:
            valid.append(att.id)
    return sorted(valid), notes


def roll_up(
    frameworks: Sequence[Framework],
    findings: Sequence[Finding],
    attestations: Sequence[Resource] = (),
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    now = now or dt.datetime.now(dt.UTC)
    by_policy: dict[str, list[Finding]] = {}
    for f in findings:
        by_policy.setdefault(f.policy_id, []).append(f)
    out = []
    for fw in frameworks:
        controls = []
        summary = dict.fromkeys(CONTROL_STATUSES, 0)
        for control in fw.controls:
            mapped = [f for pid in control.policies for f in by_policy.get(pid, [])]
            status = control_status(mapped, bool(control.policies))
            attested_by: list[str] = []
            notes: list[str] = []
            if status == "manual":
                attested_by, notes = _attesting(control, fw, attestations, now)
                if attested_by:
                    status = "met"
            summary[status] += 1
            failing = sorted({f.resource_id for f in mapped if f.status in ("fail", "error")})
            entry: dict[str, Any] = {
                "id": control.id,
                "title": control.title,
                "status": status,
                "policies": list(control.policies),
                "failing": failing,
            }
            if control.attestation:
                entry["attestation"] = control.attestation
            if attested_by:
                entry["attested_by"] = attested_by
            if notes:
                entry["notes"] = notes
            controls.append(entry)
        out.append(
            {
                "id": fw.id,
                "title": fw.title,
                "version": fw.version,
                "url": fw.url,
                "controls": controls,
                "summary": summary,
            }
        )
    return out


def maturity(policies: Sequence[Policy], findings: Sequence[Finding]) -> dict[str, Any]:
    """Rungs are cumulative: the level is the highest rung whose policies and all lower rungs'
    policies pass (waived and not_applicable count as passing; fail and error do not).

    A rung no loaded policy checks is not reached: a pack without strategic policies must not
    declare an estate strategic by default.
    """
    blocking_by_policy: dict[str, list[Finding]] = {}
    for f in findings:
        if f.status in ("fail", "error"):
            blocking_by_policy.setdefault(f.policy_id, []).append(f)
    rungs = []
    level = RUNGS[0]
    reached_so_far = True
    for rung in RUNGS:
        at_rung = [p for p in policies if p.maturity == rung]
        blocking = [f for p in at_rung for f in blocking_by_policy.get(p.id, [])]
        passed = sum(1 for p in at_rung if p.id not in blocking_by_policy)
        reached = reached_so_far and not blocking and (rung == RUNGS[0] or bool(at_rung))
        if reached:
            level = rung
        reached_so_far = reached
        rungs.append(
            {
                "name": rung,
                "status": "reached" if reached else "not_reached",
                "passed": passed,
                "total": len(at_rung),
                "blocking": [
                    {
                        "policy_id": f.policy_id,
                        "resource_id": f.resource_id,
                        "status": f.status,
                        "severity": f.severity,
                    }
                    for f in sorted(blocking, key=lambda f: f.key)
                ],
            }
        )
    index = RUNGS.index(level)
    return {
        "level": level,
        "next": RUNGS[index + 1] if index + 1 < len(RUNGS) else None,
        "rungs": rungs,
    }


def framework_files(extra: Iterable[str | os.PathLike[str]], builtin: bool = True) -> list[Path]:
    files = builtin_mapping_files() if builtin else []
    return [*files, *(Path(p) for p in extra)]


def describe_framework(fw: Framework) -> Mapping[str, Any]:
    return {
        "id": fw.id,
        "title": fw.title,
        "version": fw.version,
        "url": fw.url,
        "file": display_path(fw.file) if fw.file else "",
        "controls": len(fw.controls),
    }
