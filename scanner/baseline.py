"""Baselines: adopt the gate on an estate with known debt, and fail only on what is new.

`--create-baseline FILE` writes a small baseline document: the (policy id, resource id) keys of
the findings that fail or error now, plus their severity and status for a reader. It is small
and carries no resource attributes, so it can be committed next to the pipeline and reviewed
in a pull request. `--baseline FILE` accepts that document or a whole results.json (the
issue's `--baseline OLD_RESULTS.json`); either is validated against its schema and a bad one is
exit 2, because a baseline that silently fails to load would turn the gate back on everything
(or, worse, a hand-edited one could hide new failures).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner import __version__, results
from scanner.errors import InputFileError
from scanner.findings import Finding
from scanner.schemas import describe, validator
from scanner.yamlpos import display_path, read_text

BASELINE_SCHEMA = "baseline.schema.json"
WHAT = "baseline file"
BASELINED = ("fail", "error")
MAX_LISTED = 100


class BaselineError(InputFileError):
    """A baseline file is not a valid baseline or results document (exit 2)."""


@dataclass(frozen=True)
class Baseline:
    file: str
    kind: str  # "baseline" (a --create-baseline document) or "results" (a results.json)
    keys: frozenset[tuple[str, str]]


def _refuse(shown: str, found: list[str], what: str) -> BaselineError:
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return BaselineError(f"{shown}: not a valid {what}: {found[0]}{more}", details=found[:20])


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    shown = display_path(path)
    try:
        text = read_text(path, what=WHAT, max_bytes=results.MAX_RESULTS_BYTES)
    except InputFileError as exc:
        raise BaselineError(exc.message) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{shown}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if isinstance(document, Mapping) and "schema_version" in document:
        found = results.problems(document)
        if found:
            raise _refuse(shown, found, "modelward results file")
        keys = {
            (f["policy_id"], f["resource_id"])
            for f in document["findings"]
            if f["status"] in BASELINED
        }
        return Baseline(shown, "results", frozenset(keys))
    errors = sorted(
        validator(BASELINE_SCHEMA).iter_errors(document),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        found = [describe(e) if e.absolute_path else e.message for e in errors]
        raise _refuse(shown, found, "modelward baseline (or results) file")
    keys = {(f["policy_id"], f["resource_id"]) for f in document["findings"]}
    return Baseline(shown, "baseline", frozenset(keys))


def create(document: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline of a results document: what fails or errors in it now (after waivers)."""
    failing = sorted(
        (f for f in document["findings"] if f["status"] in BASELINED),
        key=lambda f: (f["policy_id"], f["resource_id"]),
    )
    return {
        "modelward_baseline": 1,
        "created_at": document["scan"]["finished_at"],
        "scan_id": document["scan"]["id"],
        "tool": {"name": "modelward", "version": __version__},
        "findings": [
            {
                "policy_id": f["policy_id"],
                "resource_id": f["resource_id"],
                "severity": f["severity"],
                "status": f["status"],
            }
            for f in failing
        ],
    }


def dumps(baseline: Mapping[str, Any]) -> bytes:
    return (json.dumps(baseline, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def summarise(baseline: Baseline, findings: Sequence[Finding]) -> tuple[dict[str, Any], list[str]]:
    """The `gate.baseline` block: how the scan compares with the baseline, and a note."""
    failing = {f.key for f in findings if f.status in BASELINED}
    unchanged = failing & baseline.keys
    new = failing - baseline.keys
    fixed = sorted(baseline.keys - failing)
    summary = {
        "file": baseline.file,
        "kind": baseline.kind,
        "entries": len(baseline.keys),
        "unchanged": len(unchanged),
        "new": len(new),
        "fixed": len(fixed),
        "fixed_findings": [{"policy_id": p, "resource_id": r} for p, r in fixed[:MAX_LISTED]],
    }
    note = (
        f"baseline {baseline.file}: {len(new)} new failing finding(s), {len(unchanged)} already "
        f"in the baseline (not gated), {len(fixed)} no longer failing"
    )
    return summary, [note]
