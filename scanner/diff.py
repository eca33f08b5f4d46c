"""`modelward diff`: what changed between two scans, from their results.json files alone.

Findings are matched by (policy id, resource id), the key that is stable across scans. What a
reviewer asks first is whether anything got worse, so findings are sorted into:

- `new`: failing (fail or error) now, and not failing before (passing, or not there at all);
- `fixed`: failing before, and evaluated now without failing (pass, waived, not applicable);
- `gone`: failing before, with no verdict now: the resource is no longer there (or the
  policy is not), so nothing was fixed, and a reviewer should know which it was;
- `unchanged`: failing in both (the status may move between fail and error);
- `changed`: present in both, failing in neither, with a different status (pass → waived …).

A finding that is not failing and exists in one file only (a new resource that passes) is
not listed. The document is described by `scanner/schemas/diff.schema.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.outputs.digest import FAILING, RUNGS, SEVERITY_RANK

# 1.1 added `gone` (before, a vanished resource's findings were counted as `fixed`).
DIFF_SCHEMA_VERSION = "1.1"
CATEGORIES = ("new", "fixed", "gone", "unchanged", "changed")


def _side(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    scan = document["scan"]
    return {
        "file": name,
        "scan_id": scan["id"],
        "finished_at": scan["finished_at"],
        "as_of": scan.get("as_of"),
        "tool_version": document["tool"]["version"],
        "policy_pack": dict(scan["policy_pack"]),
        "maturity": document["maturity"]["level"],
        "gate_passed": document["gate"]["passed"],
    }


def _entry(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    base = new if new is not None else old
    assert base is not None
    return {
        "policy_id": base["policy_id"],
        "resource_id": base["resource_id"],
        "resource_name": base["resource_name"],
        "resource_type": base["resource_type"],
        "title": base["title"],
        "severity": base["severity"],
        "old_status": old["status"] if old is not None else None,
        "new_status": new["status"] if new is not None else None,
        "message": base["message"],
    }


def _category(old: str | None, new: str | None) -> str | None:
    was, now = old in FAILING, new in FAILING
    if now and not was:
        return "new"
    if was and new is None:
        return "gone"
    if was and not now:
        return "fixed"
    if was and now:
        return "unchanged"
    if old is not None and new is not None and old != new:
        return "changed"
    return None


def _frameworks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    before = {fw["id"]: fw for fw in old["frameworks"]}
    after = {fw["id"]: fw for fw in new["frameworks"]}
    out = []
    for fid in [*after, *(f for f in before if f not in after)]:
        a, b = before.get(fid), after.get(fid)
        a_controls = {c["id"]: c for c in a["controls"]} if a else {}
        b_controls = {c["id"]: c for c in b["controls"]} if b else {}
        controls = []
        for cid in [*b_controls, *(c for c in a_controls if c not in b_controls)]:
            ca, cb = a_controls.get(cid), b_controls.get(cid)
            sa = ca["status"] if ca else None
            sb = cb["status"] if cb else None
            if sa != sb:
                controls.append(
                    {
                        "id": cid,
                        "title": (cb or ca or {}).get("title", ""),
                        "old_status": sa,
                        "new_status": sb,
                    }
                )
        change = "added" if a is None else "removed" if b is None else "changed"
        if controls or change != "changed":
            out.append(
                {
                    "id": fid,
                    "title": (b or a or {}).get("title", ""),
                    "change": change,
                    "controls": controls,
                }
            )
    return out


def _direction(old: str, new: str) -> str:
    delta = RUNGS.index(new) - RUNGS.index(old)
    return "up" if delta > 0 else "down" if delta < 0 else "same"


def diff(
    old: Mapping[str, Any], new: Mapping[str, Any], old_name: str, new_name: str
) -> dict[str, Any]:
    before = {(f["policy_id"], f["resource_id"]): f for f in old["findings"]}
    after = {(f["policy_id"], f["resource_id"]): f for f in new["findings"]}
    found: dict[str, list[dict[str, Any]]] = {c: [] for c in CATEGORIES}
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        category = _category(a["status"] if a else None, b["status"] if b else None)
        if category is not None:
            found[category].append(_entry(a, b))
    for items in found.values():
        items.sort(key=lambda e: (SEVERITY_RANK[e["severity"]], e["policy_id"], e["resource_id"]))
    level_a, level_b = old["maturity"]["level"], new["maturity"]["level"]
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "old": _side(old, old_name),
        "new": _side(new, new_name),
        "maturity": {"old": level_a, "new": level_b, "change": _direction(level_a, level_b)},
        "policy_pack_changed": old["scan"]["policy_pack"]["sha256"]
        != new["scan"]["policy_pack"]["sha256"],
        "summary": {c: len(found[c]) for c in CATEGORIES},
        "findings": found,
        "frameworks": _frameworks(old, new),
    }


def new_at_or_above(document: Mapping[str, Any], severity: str) -> list[Mapping[str, Any]]:
    """The new failing findings that `--fail-on-new SEVERITY` counts."""
    limit = SEVERITY_RANK[severity]
    return [e for e in document["findings"]["new"] if SEVERITY_RANK[e["severity"]] <= limit]
