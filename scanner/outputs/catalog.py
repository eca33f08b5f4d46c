"""What several writers need from a results document, looked up once: each policy's text,
its framework controls, the gate's decision per finding, and where a resource lives on disk.

Writers render from results.json alone (so `modelward report` can re-render any scan); a
results document of schema 1.0 has no `policies` section, so policies are then described from
their findings (id, title, severity) and the rest is left empty rather than invented.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str]


@dataclass(frozen=True)
class FileLocation:
    path: str  # absolute
    line: int | None = None


def policies(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {p["id"]: dict(p) for p in document.get("policies", [])}
    for f in document["findings"]:
        out.setdefault(
            f["policy_id"],
            {
                "id": f["policy_id"],
                "title": f["title"],
                "severity": f["severity"],
                "maturity": f["maturity"],
                "resource": f["resource_type"],
                "description": "",
                "rationale": "",
                "remediation": {},
                "references": [],
                "tags": [],
                "file": "",
                "line": 1,
            },
        )
    return dict(sorted(out.items()))


def controls(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Policy id → sorted `FRAMEWORK:CONTROL` ids, from the mappings and the findings."""
    found: dict[str, set[str]] = {}
    for fw in document["frameworks"]:
        for control in fw["controls"]:
            for pid in control["policies"]:
                found.setdefault(pid, set()).add(f"{fw['id']}:{control['id']}")
    for f in document["findings"]:
        for c in f["controls"]:
            found.setdefault(f["policy_id"], set()).add(f"{c['framework']}:{c['control']}")
    return {pid: sorted(ids) for pid, ids in found.items()}


def decisions(document: Mapping[str, Any]) -> dict[Key, Mapping[str, Any]]:
    return {(d["policy_id"], d["resource_id"]): d for d in document["gate"].get("decisions", [])}


def resource_file(resource: Mapping[str, Any] | None) -> FileLocation | None:
    """The file a resource came from, when it came from one: an attestation's file and line,
    or for a model directory on disk, the file most likely at fault (a file the serialization
    scan flagged, else a pickle-based one, else the first one)."""
    if not resource:
        return None
    attrs = resource.get("attributes", {})
    if resource.get("type") == "attestation":
        file, line = attrs.get("file"), attrs.get("line")
        if isinstance(file, str) and os.path.isabs(file):
            return FileLocation(file, line if isinstance(line, int) and line > 0 else None)
        return None
    location = attrs.get("location")
    if not isinstance(location, Mapping) or location.get("provider") != "local":
        return None
    root = location.get("path")
    if not isinstance(root, str) or not os.path.isabs(root):
        return None
    # Any of these can be `{"$unknown": reason}` in results (a value a source could not read):
    # only lists are walked and only strings compared, never a marker used as a key.
    files = [f for f in _items(attrs.get("files")) if isinstance(f, Mapping)]
    serialization = attrs.get("serialization")
    unsafe = _items(serialization.get("unsafe")) if isinstance(serialization, Mapping) else []
    flagged = [u.get("file") for u in unsafe if isinstance(u, Mapping)]
    pickled = [
        f.get("path")
        for f in files
        if isinstance(f.get("format"), str) and f.get("format") in _PICKLE_FORMATS
    ]
    ordered = [*flagged, *pickled, *(f.get("path") for f in files)]
    rel = next((p for p in ordered if isinstance(p, str) and p), None)
    if rel is None:
        return None
    # A single-file source reports the file itself as the location, with the file's own name.
    full = root if os.path.basename(root) == rel and not files[1:] else os.path.join(root, rel)
    return FileLocation(os.path.normpath(full))


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# Serialization formats that execute code on load (scanner/artefacts/formats/base.py); kept as
# data here so writers do not import the artefact sniffers.
_PICKLE_FORMATS = frozenset({"pickle", "joblib", "pytorch", "pytorch-legacy"})
