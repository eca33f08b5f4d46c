"""What the pickle-based model files in S3 would run when loaded, within a byte budget.

Sniffing (first bytes) says a file is a pickle; only the whole opcode stream says what it
imports. Artefacts whose files are pickle-based (or Keras, NumPy, zip) are downloaded to a
private temporary directory, if their size is within `integrity_max_bytes`, and scanned with
the same code the `path:` source and `modelward verify` use, never loaded. Over the budget, or
unreadable, the finding stays Unknown with the reason: never a pass.

Signatures of S3 artefacts are detected (a `model.sig` beside the files) but not verified here
yet: `signature.verified` stays Unknown.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.artefacts.integrity import SCANNED_FORMATS, ScanTarget, scan_files
from scanner.artefacts.integrity import serialization_facts as facts_of
from scanner.artefacts.s3fetch import fetch
from scanner.errors import ModelwardError
from scanner.inventory import Resource, Unknown

SCAN_WORKERS = 4


def needs_scan(attributes: Mapping[str, Any]) -> bool:
    ser = attributes.get("serialization")
    if not isinstance(ser, Mapping) or "unsafe" in ser:
        return False
    formats = ser.get("formats")
    risky = isinstance(formats, list) and bool(SCANNED_FORMATS & set(formats))
    return ser.get("pickle_based") is True or risky


def _scan_one(resource: Resource, client: Any, budget: int) -> dict[str, Any]:
    attrs = resource.attributes
    ser = dict(attrs["serialization"])
    total = attrs.get("total_size")
    if isinstance(total, int) and total > budget:
        ser["unsafe"] = Unknown(
            f"{total} bytes of model files: over the {budget}-byte budget for scanning S3 "
            "artefacts (aws option integrity_max_bytes)"
        )
        return ser
    with tempfile.TemporaryDirectory(prefix="modelward-s3-") as tmp:
        try:
            fetched = fetch(attrs["uri"], Path(tmp), budget, client)
        except ModelwardError as exc:
            ser["unsafe"] = Unknown(f"model files could not be read: {exc.message}")
            return ser
        if fetched.path is None:
            ser["unsafe"] = Unknown(f"not scanned: {fetched.over_budget}")
            return ser
        files = attrs.get("files") if isinstance(attrs.get("files"), list) else []
        targets = [
            ScanTarget(f["path"], str(fetched.path / f["path"]), f.get("format"))
            for f in files
            if (fetched.path / f["path"]).is_file()
        ]
        scans = scan_files({"artefact": targets}, SCAN_WORKERS)["artefact"]
        ser.update(facts_of(targets, scans))
    return ser


def scan_artefacts(
    resources: Iterable[Resource], client_for: Callable[[Resource], Any], budget: int
) -> list[Resource]:
    out = []
    for resource in resources:
        if resource.type == "artefact" and needs_scan(resource.attributes):
            ser = _scan_one(resource, client_for(resource), budget)
            resource = replace(resource, attributes={**resource.attributes, "serialization": ser})
        out.append(resource)
    return out
