"""An object-store artefact's integrity, verified where it lives, within a byte budget.

Three questions need an artefact's bytes: would its files run code when loaded (the
serialization scan), is it signed by someone trusted with its files unchanged (the
OpenSSF model-signing signature), and do its in-toto attestations name its files? They are
answered together so each object is read at most once:

1. the signature and attestation files (small) are read and checked first
   (`scanner.artefacts.signatures.staged`): an untrusted or forged signature, or one whose
   file names differ from the listing, is decided without reading a model file;
2. a file whose digest the check needs and whose store keeps a full-object SHA-256 (S3
   `ChecksumSHA256`) is compared by that digest, without a download;
3. every other object the checks need is streamed once: hashed on the way (its `sha256` on
   the artefact, the digest the signature is compared with) and, if the serialization scan
   reads it, written to a private temporary file under a numbered name (object keys never
   become local paths) and scanned like a local file, never loaded.

`integrity_max_bytes` bounds what one artefact may read. When the reads a check needs do not
fit, that check's answer is Unknown with the sizes and what to do ("model is 14.0 GiB;
budget 2.0 GiB: raise integrity_max_bytes or verify in the pipeline"), never a pass; the
signature's reads are served first, the serialization scan's next.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.artefacts.integrity import SCANNED_FORMATS, ScanTarget, scan_files, should_scan
from scanner.artefacts.integrity import serialization_facts as facts_of
from scanner.artefacts.signatures import MODEL_SIG, NO_SIGNATURE, is_signature_name
from scanner.artefacts.signatures.bundle import MAX_SIGNATURE_BYTES
from scanner.artefacts.signatures.provenance import NO_PROVENANCE
from scanner.artefacts.signatures.staged import (
    Checked,
    Digests,
    check_file,
    judge_attestation,
    judge_signature,
    needed_digests,
    signature_from_attestation,
)
from scanner.artefacts.signatures.trust import TrustSet
from scanner.inventory import Unknown
from scanner.sources.objectstore.reader import (
    Container,
    ObjectReadError,
    ObjectStoreReader,
    StoredObject,
)

SCAN_WORKERS = 4


def needs_scan(attributes: Mapping[str, Any]) -> bool:
    ser = attributes.get("serialization")
    if not isinstance(ser, Mapping) or "unsafe" in ser:
        return False
    formats = ser.get("formats")
    risky = isinstance(formats, list) and bool(SCANNED_FORMATS & set(formats))
    return ser.get("pickle_based") is True or risky


def human_size(n: int) -> str:
    """Bytes for people: `14.0 GiB`, `512.0 MiB`, `900 bytes`."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class RecordedSignature:
    """A signature a registry records for the model (`scanner.artefacts.signatures.recorded`)."""

    uri: str
    source: str  # where the registry keeps the pointer (`CustomerMetadataProperties.signature`)
    obj: StoredObject | None  # the object it names, None when the listing does not hold it


def _note_recorded(
    attributes: dict[str, Any],
    recorded: RecordedSignature,
    rel: str | None,
    container: Container,
) -> None:
    signature = attributes["signature"]
    if rel is not None and signature.get("file") == rel:
        signature["recorded_in"] = recorded.source
        return
    if rel is not None:
        return  # it was read, and is an attestation: `provenance` reports it
    attributes["signature"] = {
        **signature,
        "present": True,
        "verified": Unknown(
            f"the registry ({recorded.source}) records the signature at {recorded.uri}, which "
            f"the {container.label} listing of {container.uri} does not hold"
        ),
        "error": None,
        "recorded_in": recorded.source,
    }


@dataclass
class _Plan:
    """What one artefact reads, and what it found."""

    members: dict[str, StoredObject]  # model-relative path -> object
    budget: int
    spent: int = 0
    digests: dict[str, str] = field(default_factory=dict)  # read while streaming
    errors: dict[str, str] = field(default_factory=dict)  # path -> why it could not be read

    def fits(self, paths: set[str]) -> bool:
        return self.spent + sum(self.members[p].size for p in paths) <= self.budget


def check_integrity(
    attributes: dict[str, Any],
    members: Sequence[StoredObject],
    reader: ObjectStoreReader,
    container: Container,
    budget: int,
    trust: TrustSet,
    siblings: Sequence[StoredObject] = (),
    recorded: RecordedSignature | None = None,
) -> None:
    """Fill an artefact's `signature`, `provenance`, `serialization.unsafe/lambda_layers` and
    the `sha256` of the files it read, in place. `siblings` are signature or attestation
    objects beside the model directory (`fraud.sig` next to `fraud/`), known as `../NAME`.
    Never raises for a read that fails: the answers that needed it become Unknown."""
    prefix = attributes["location"]["prefix"]
    cut = len(prefix) + 1 if prefix else 0
    plan = _Plan({m.key[cut:]: m for m in members}, budget)
    paths = sorted(plan.members)
    beside = [f"../{s.name}" for s in siblings]
    plan.members.update(zip(beside, siblings, strict=True))
    first = None
    if recorded is not None and recorded.obj is not None:
        # The registry's word comes first: the signature it names is the one checked.
        first = posixpath.relpath(recorded.obj.key, prefix or ".")
        plan.members[first] = recorded.obj
    files = [f for f in attributes.get("files") or () if isinstance(f, dict)]
    stored = {f["path"]: f["sha256"] for f in files if isinstance(f.get("sha256"), str)}
    total = sum(m.size for m in members)
    over_budget = (
        f"model is {human_size(total)}; budget {human_size(budget)}: raise "
        f"integrity_max_bytes ({container.source_kind} source option) or verify in the pipeline"
    )
    scan_wanted = needs_scan(attributes)

    with tempfile.TemporaryDirectory(prefix="modelward-objects-") as tmp:
        local = _LocalCopies(Path(tmp))
        checked = _check_signature_files(plan, paths, beside, first, reader, local, trust)
        needed: set[str] = set()
        for c in checked:
            needed |= needed_digests(c, paths)
        digest_reads = {p for p in needed if p not in stored}
        scan_reads = {
            f["path"] for f in files if scan_wanted and should_scan(f["path"], f.get("format"))
        }
        if plan.fits(digest_reads | scan_reads):
            reads = digest_reads | scan_reads
        elif plan.fits(digest_reads):
            reads = set(digest_reads)
        elif plan.fits(scan_reads):
            reads = set(scan_reads)
        else:
            reads = set()
        for path in sorted(reads):
            _stream(reader, plan, path, local.path_for(path) if path in scan_reads else None)

        for f in files:
            if "sha256" not in f and f["path"] in plan.digests:
                f["sha256"] = plan.digests[f["path"]]
        digests = _digests(plan, stored, needed, digest_reads - reads, over_budget, container)
        _judge(attributes, checked, digests, paths)
        if recorded is not None:
            _note_recorded(attributes, recorded, first, container)
        if scan_wanted:
            attributes["serialization"] = _scan(
                attributes, files, plan, local, scan_reads, reads, over_budget
            )


class _LocalCopies:
    """Numbered private files for the objects that are read whole."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names: dict[str, Path] = {}

    def path_for(self, rel: str) -> Path:
        if rel not in self.names:
            self.names[rel] = self.root / "files" / str(len(self.names))
        return self.names[rel]


def _check_signature_files(
    plan: _Plan,
    paths: Sequence[str],
    beside: Sequence[str],
    first: str | None,
    reader: ObjectStoreReader,
    local: _LocalCopies,
    trust: TrustSet,
) -> list[Checked]:
    """Stage one for the signature a registry records (`first`), every signature or
    attestation file at the top of the model directory (`model.sig` first), then those beside
    it, each read whole within the budget."""
    found = sorted(
        (p for p in paths if "/" not in p and is_signature_name(p)),
        key=lambda p: (p != MODEL_SIG, p),
    )
    found.extend(beside)
    if first is not None:
        found = [first, *(f for f in found if f != first)]
    out: list[Checked] = []
    for rel in found:
        obj = plan.members[rel]
        target = local.path_for(rel)
        if obj.size > MAX_SIGNATURE_BYTES:
            out.append(_unreadable(rel, f"over {MAX_SIGNATURE_BYTES} bytes"))
            continue
        if not plan.fits({rel}):
            out.append(_unreadable(rel, "over the integrity_max_bytes budget", unknown=True))
            continue
        if not _stream(reader, plan, rel, target):
            out.append(_unreadable(rel, plan.errors[rel], unknown=True))
            continue
        out.append(check_file(target, rel, trust))
    return out


def _unreadable(rel: str, reason: str, *, unknown: bool = False) -> Checked:
    from scanner.artefacts.signatures import SignatureResult

    verified: bool | Unknown = Unknown(f"signature {rel} could not be read: {reason}")
    if not unknown:
        verified = False
    error = None if unknown else f"unreadable signature {rel}: {reason}"
    return Checked(rel, None, final=SignatureResult(True, None, verified, None, error, rel))


def _stream(reader: ObjectStoreReader, plan: _Plan, rel: str, target: Path | None) -> bool:
    """Read one object whole (once): its sha256 into the plan, its bytes into `target` when
    given. False, with the reason in `plan.errors`, when it could not be read as listed."""
    obj = plan.members[rel]
    plan.spent += obj.size
    sink = _HashingSink(obj.size, target)
    try:
        reader.read_all(obj, sink)
        sink.close()
        if sink.written != obj.size:
            raise ObjectReadError(f"{sink.written} bytes read, {obj.size} listed: it changed")
    except ObjectReadError as exc:
        sink.close()
        plan.errors[rel] = str(exc)
        return False
    plan.digests[rel] = sink.hexdigest()
    return True


class _HashingSink:
    """A writable file that hashes what passes, refuses more than the listed size, and keeps
    the bytes on disk only when the serialization scan will read them."""

    def __init__(self, limit: int, target: Path | None) -> None:
        self._limit = limit
        self._hash = hashlib.sha256()
        self._out = None
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._out = target.open("wb")
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.written + len(data) > self._limit:
            raise ObjectReadError(f"more than the {self._limit} bytes listed: it changed")
        self.written += len(data)
        self._hash.update(data)
        if self._out is not None:
            self._out.write(data)
        return len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _digests(
    plan: _Plan,
    recorded: Mapping[str, str],
    needed: set[str],
    not_read: set[str],
    over_budget: str,
    container: Container,
) -> Digests:
    known: dict[str, str | None] = {p: None for p in plan.members}
    known.update(recorded)
    known.update(plan.digests)
    reason = None
    failed = sorted(p for p in needed if p in plan.errors)
    if failed:
        reason = f"{failed[0]} could not be read: {plan.errors[failed[0]]}"
    elif not_read:
        reason = over_budget
    sources = []
    if any(p in recorded and p not in plan.digests for p in needed):
        sources.append(f"{container.label} checksum")
    if any(p in plan.digests for p in needed):
        sources.append("read")
    return Digests(known, reason, tuple(sources))


def _judge(
    attributes: dict[str, Any], checked: Sequence[Checked], digests: Digests, paths: list[str]
) -> None:
    signatures = [c for c in checked if not c.is_attestation]
    attestations = [c for c in checked if c.is_attestation]
    provenance = judge_attestation(attestations[0], digests) if attestations else NO_PROVENANCE
    if signatures:
        signature = judge_signature(signatures[0], digests)
    elif attestations:
        signature = signature_from_attestation(attestations[0], provenance, paths)
    else:
        signature = NO_SIGNATURE
    attributes["signature"] = signature.attributes()
    attributes["provenance"] = provenance.attributes()


def _scan(
    attributes: Mapping[str, Any],
    files: Sequence[Mapping[str, Any]],
    plan: _Plan,
    local: _LocalCopies,
    scan_reads: set[str],
    reads: set[str],
    over_budget: str,
) -> dict[str, Any]:
    ser = dict(attributes["serialization"])
    if not scan_reads <= reads:
        ser["unsafe"] = Unknown(f"not scanned: {over_budget}")
        return ser
    failed = sorted(p for p in scan_reads if p in plan.errors)
    if failed:
        reason = plan.errors[failed[0]]
        ser["unsafe"] = Unknown(f"model files could not be read: {failed[0]}: {reason}")
        return ser
    targets = [
        ScanTarget(
            f["path"],
            str(local.path_for(f["path"]) if f["path"] in scan_reads else posixpath.devnull),
            f.get("format"),
        )
        for f in files
    ]
    # No member or compressed stream inflates past the budget either (integrity_max_bytes).
    scans = scan_files({"artefact": targets}, SCAN_WORKERS, plan.budget)["artefact"]
    ser.update(facts_of(targets, scans))
    return ser
