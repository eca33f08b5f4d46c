"""What an object-store artefact's files would run when loaded, within a byte budget.

Sniffing (first bytes) says a file is a pickle; only the whole opcode stream says what it
imports. When an artefact holds pickle-based files (or Keras, NumPy, zip), and its total size
is within `integrity_max_bytes`, the files the serialization scan reads are copied whole into a
private temporary directory and scanned with the same code the `path:` source and `modelward
verify` use, never loaded. Over the budget, or unreadable, `unsafe` stays Unknown with the
reason: never a pass.

Signatures are detected (a `model.sig` beside the files) but not verified here yet:
`signature.verified` stays Unknown.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner.artefacts.integrity import SCANNED_FORMATS, ScanTarget, scan_files, should_scan
from scanner.artefacts.integrity import serialization_facts as facts_of
from scanner.inventory import Unknown
from scanner.sources.objectstore.reader import (
    Container,
    ObjectReadError,
    ObjectStoreReader,
    StoredObject,
)

SCAN_WORKERS = 4
_CHUNK = 1024 * 1024


def needs_scan(attributes: Mapping[str, Any]) -> bool:
    ser = attributes.get("serialization")
    if not isinstance(ser, Mapping) or "unsafe" in ser:
        return False
    formats = ser.get("formats")
    risky = isinstance(formats, list) and bool(SCANNED_FORMATS & set(formats))
    return ser.get("pickle_based") is True or risky


def scan_serialization(
    attributes: Mapping[str, Any],
    members: Sequence[StoredObject],
    reader: ObjectStoreReader,
    container: Container,
    budget: int,
) -> dict[str, Any] | None:
    """The artefact's `serialization` with `unsafe` and `lambda_layers` added, or None when
    it holds nothing the scan reads. `members` are its objects, `attributes` as built."""
    if not needs_scan(attributes):
        return None
    ser = dict(attributes["serialization"])
    total = attributes.get("total_size")
    if isinstance(total, int) and total > budget:
        ser["unsafe"] = Unknown(
            f"{total} bytes of model files: over the {budget}-byte budget for scanning "
            f"{container.label} artefacts ({container.source_kind} option integrity_max_bytes)"
        )
        return ser
    files = [f for f in attributes.get("files") or () if isinstance(f, Mapping)]
    prefix = attributes["location"]["prefix"]
    cut = len(prefix) + 1 if prefix else 0
    by_path = {m.key[cut:]: m for m in members}
    with tempfile.TemporaryDirectory(prefix="modelward-objects-") as tmp:
        targets: list[ScanTarget] = []
        for f in files:
            local = Path(tmp) / "files" / str(len(targets))
            targets.append(ScanTarget(f["path"], str(local), f.get("format")))
            if should_scan(f["path"], f.get("format")):
                try:
                    _copy(reader, by_path[f["path"]], local)
                except ObjectReadError as exc:
                    ser["unsafe"] = Unknown(f"model files could not be read: {f['path']}: {exc}")
                    return ser
        scans = scan_files({"artefact": targets}, SCAN_WORKERS, budget)["artefact"]
        ser.update(facts_of(targets, scans))
    return ser


def _copy(reader: ObjectStoreReader, obj: StoredObject, local: Path) -> None:
    """The whole object into `local`, refusing one that is not the size the listing said (it
    changed since, and the budget was decided on the listed size)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    with local.open("wb") as out:
        bounded = _Bounded(out, obj.size)
        reader.read_all(obj, bounded)
    if bounded.written != obj.size:
        raise ObjectReadError(f"{bounded.written} bytes read, {obj.size} listed: it changed")


class _Bounded:
    """A writable file that refuses more than `limit` bytes."""

    def __init__(self, out: Any, limit: int) -> None:
        self._out = out
        self._limit = limit
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.written + len(data) > self._limit:
            raise ObjectReadError(f"more than the {self._limit} bytes listed: it changed")
        self.written += len(data)
        return int(self._out.write(data))
