"""results.json: build it, serialise it deterministically, read it back and validate it.

It is the contract every output is rendered from (`modelward report` re-renders without
rescanning), so it is validated against the shipped JSON Schema both when written and when read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.errors import InputFileError
from scanner.findings import STATUSES, Finding
from scanner.inventory import Resource, to_jsonable
from scanner.policy.model import SEVERITIES, Policy
from scanner.redact import redact
from scanner.schemas import describe, validator
from scanner.yamlpos import display_path, read_text

# 1.1 added `policies`, the waiver object and the gate's rules, decisions, waivers and baseline.
# 1.2 added per-provider remediation steps (`policies[].remediation.providers`, `providers_note`).
# Additions only: 1.0 and 1.1 documents are still read, and writers cope with their absence.
SCHEMA_VERSION = "1.2"
RESULTS_SCHEMA = "results.schema.json"
MAX_RESULTS_BYTES = 2 * 1024 * 1024 * 1024


class ResultsError(InputFileError):
    """A results file is not valid modelward results (exit 2)."""


def summarise(findings: Sequence[Finding]) -> dict[str, Any]:
    by_status = dict.fromkeys(STATUSES, 0)
    by_severity = {sev: dict.fromkeys(STATUSES, 0) for sev in SEVERITIES}
    for f in findings:
        by_status[f.status] += 1
        by_severity[f.severity][f.status] += 1
    return {"total": len(findings), "by_status": by_status, "by_severity": by_severity}


def resource_dict(resource: Resource) -> dict[str, Any]:
    # Ids and names are redacted like everything else, so findings still point at them.
    redacted: dict[str, Any] = redact(
        {
            "id": resource.id,
            "type": resource.type,
            "name": resource.name,
            "source": resource.source,
            "attributes": to_jsonable(resource.attributes),
        }
    )
    return redacted


def policy_dict(policy: Policy) -> dict[str, Any]:
    """What outputs say about a policy (SARIF rules, JUnit suites): its text and its file, with
    the path made absolute so a report rendered from another directory still points at it."""
    return {
        "id": policy.id,
        "title": policy.title,
        "severity": policy.severity,
        "maturity": policy.maturity,
        "resource": policy.resource,
        "description": policy.description,
        "rationale": policy.rationale,
        "remediation": {
            key: {name: dict(steps) for name, steps in value.items()}
            if key == "providers"
            else value
            for key, value in policy.remediation.items()
        },
        "references": list(policy.references),
        "tags": list(policy.tags),
        "file": str(Path(policy.file).resolve()) if policy.file else "",
        "line": policy.line,
    }


def build(
    *,
    scan: Mapping[str, Any],
    resources: Sequence[Resource],
    findings: Sequence[Finding],
    frameworks: Sequence[Mapping[str, Any]],
    maturity: Mapping[str, Any],
    gate: Mapping[str, Any],
    policies: Sequence[Policy] = (),
) -> dict[str, Any]:
    # Every string, whatever stage wrote it (source errors, gate reasons, control lists), goes
    # through redaction: no credential in a URI reaches a file meant to be shared.
    document: dict[str, Any] = redact(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "modelward", "version": __version__},
            "scan": dict(scan),
            "policies": [policy_dict(p) for p in sorted(policies, key=lambda p: p.id)],
            "resources": [
                resource_dict(r) for r in sorted(resources, key=lambda r: (r.type, r.id))
            ],
            "findings": [redact(f.to_dict()) for f in sorted(findings, key=lambda f: f.key)],
            "frameworks": list(frameworks),
            "maturity": dict(maturity),
            "summary": summarise(findings),
            "gate": dict(gate),
        }
    )
    return document


def problems(document: Any) -> list[str]:
    errors = sorted(
        validator(RESULTS_SCHEMA).iter_errors(document),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    return [describe(e) if e.absolute_path else e.message for e in errors]


# A lone surrogate (from a hostile tag decoded with surrogateescape, say) cannot be encoded
# as UTF-8: it would crash the write after the whole scan. It becomes U+FFFD instead.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(document: Mapping[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return _LONE_SURROGATE.sub("\ufffd", text)


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    shown = display_path(path)
    text = read_text(path, what="results file", max_bytes=MAX_RESULTS_BYTES)
    try:
        document: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{shown}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    found = problems(document)
    if found:
        raise ResultsError(
            f"{shown}: not a valid modelward results file: {found[0]}"
            + (f" (+{len(found) - 1} more)" if len(found) > 1 else ""),
            details=found[:20],
        )
    return document
