"""results.json as archived against the same scan judged again: every difference, in words.

Evaluation is a pure function of the inventory, the policies, their params and the evaluation
date (docs/design.md), so judging the archived resources with the archived pack as of the
archived date must give back the archived findings, controls, maturity and gate. Anything
else means the results were edited or produced by other rules than the pack holds, and each
difference is named: which policy on which resource, what results.json says, what the
re-evaluation says.

The scan's own facts (id, clock times, source statuses) are not re-derived: they are what was
signed, and the statement check compares them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

SECTIONS = ("policies", "resources", "frameworks", "maturity", "summary", "gate")
SCAN_KEYS = ("as_of", "policy_pack", "params")
MAX_NAMED = 50


def differences(archived: Mapping[str, Any], again: Mapping[str, Any]) -> list[str]:
    out = _findings(archived["findings"], again["findings"])
    for key in SCAN_KEYS:
        a, b = archived["scan"].get(key), again["scan"].get(key)
        if a != b:
            out.append(f"scan.{key}: results.json has {_short(a)}, re-evaluation {_short(b)}")
    for section in SECTIONS:
        where = _first_difference(archived.get(section), again.get(section), section)
        if where is not None:
            out.append(where)
    return out


def _findings(
    archived: Sequence[Mapping[str, Any]], again: Sequence[Mapping[str, Any]]
) -> list[str]:
    def keyed(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {(str(f["policy_id"]), str(f["resource_id"])): f for f in items}

    a, b = keyed(archived), keyed(again)
    out = []
    for key in sorted(set(a) | set(b)):
        policy, resource = key
        if key not in b:
            out.append(
                f"{policy} on {resource}: results.json has a {a[key]['status']} finding the "
                "re-evaluation does not produce"
            )
        elif key not in a:
            out.append(
                f"{policy} on {resource}: the re-evaluation produces a {b[key]['status']} "
                f"finding results.json does not have ({_short(b[key]['message'])})"
            )
        elif a[key]["status"] != b[key]["status"]:
            out.append(
                f"{policy} on {resource}: results.json says {a[key]['status']}, the "
                f"re-evaluation says {b[key]['status']} ({_short(b[key]['message'])})"
            )
        else:
            where = _first_difference(a[key], b[key], "")
            if where is not None:
                out.append(f"{policy} on {resource}: same verdict, but {where.lstrip('.')}")
    if len(out) > MAX_NAMED:
        out = [*out[:MAX_NAMED], f"... and {len(out) - MAX_NAMED} more findings differ"]
    return out


def _first_difference(a: Any, b: Any, path: str) -> str | None:
    """Where two JSON values first differ, as `path: results.json has X, re-evaluation Y`."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: results.json has {len(a)} entries, re-evaluation {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    if a != b or type(a) is not type(b):
        return f"{path}: results.json has {_short(a)}, re-evaluation {_short(b)}"
    return None


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
