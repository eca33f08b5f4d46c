"""The integrity facts of one artefact: its signature and what its files would run when loaded.

Shared by the `path:` source (every artefact it reports), the object-store sources and
`modelward verify` (one model), so all say the same thing about the same files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.artefacts.formats import PICKLE_BASED
from scanner.artefacts.hashing import bounded_map
from scanner.artefacts.serialization import (
    DEFAULT_MAX_DECOMPRESSED,
    FileScan,
    Issue,
    scan_file,
)
from scanner.artefacts.signatures import (
    ATTESTATION_SUFFIXES,
    SignatureResult,
    check,
    find_signature,
)
from scanner.artefacts.signatures.provenance import NO_PROVENANCE
from scanner.artefacts.signatures.staged import (
    Digests,
    check_file,
    judge_attestation,
    signature_from_attestation,
)
from scanner.artefacts.signatures.trust import TrustSet
from scanner.inventory import Unknown

# Formats whose content can carry code, run operations or nest other files; the rest
# (safetensors, ONNX, GGUF) hold data only, as far as loading them goes.
SCANNED_FORMATS = PICKLE_BASED | {
    "numpy",
    "numpy-archive",
    "keras",
    "hdf5",
    "skops",
    "zip",
    "7z",
    "tensorflow-savedmodel",  # graph operations that reach files, Python or the network
    "keras-metadata",  # Lambda layers of a Keras SavedModel
}
_SCAN_BATCH = 16


@dataclass(frozen=True)
class ScanTarget:
    rel: str  # path relative to the model directory, as findings name it
    path: str  # where to read it
    format: str | Unknown | None


@dataclass(frozen=True)
class SniffedFile:
    """What content sniffing said of one file of an artefact."""

    path: str  # relative to the model directory
    format: str | Unknown | None  # Unknown: it could not be established (unreadable, damaged)
    pickle_based: bool


def serialization_summary(files: Iterable[SniffedFile]) -> dict[str, Any]:
    """An artefact's `serialization` block from sniffing alone: `formats` and `pickle_based`.

    `pickle_based` is true when any file is a pickle; otherwise a file whose format could not
    be established makes it Unknown (that file may be one), naming the first such file.
    `formats` is Unknown then too: the files' formats are not all known, and a list of the
    known ones would read as the whole (an empty list as "no model formats at all").
    """
    ordered = sorted(files, key=lambda f: f.path)
    formats: list[str] | Unknown = sorted({f.format for f in ordered if isinstance(f.format, str)})
    undetermined = [f for f in ordered if isinstance(f.format, Unknown)]
    pickle_based: bool | Unknown
    if undetermined:
        first = undetermined[0]
        assert isinstance(first.format, Unknown)
        more = f" and {len(undetermined) - 1} more" if len(undetermined) > 1 else ""
        formats = Unknown(
            f"format of {first.path}{more} could not be determined ({first.format.reason})"
        )
    if any(f.pickle_based for f in ordered):
        pickle_based = True
    elif isinstance(formats, Unknown):
        pickle_based = formats
    else:
        pickle_based = False
    return {"formats": formats, "pickle_based": pickle_based}


def should_scan(rel: str, fmt: str | Unknown | None) -> bool:
    return (isinstance(fmt, str) and fmt in SCANNED_FORMATS) or rel.lower().endswith(
        (".zip", ".7z")
    )


def scan_files(
    artefacts: Mapping[str, Sequence[ScanTarget]],
    workers: int,
    max_bytes: int = DEFAULT_MAX_DECOMPRESSED,
) -> dict[str, dict[str, FileScan]]:
    """Serialization scans of the files that need one: artefact key -> rel -> scan; no member
    or compressed stream is decompressed past `max_bytes` (the source's integrity_max_bytes)."""
    todo = [(key, t) for key, ts in artefacts.items() for t in ts if should_scan(t.rel, t.format)]
    out: dict[str, dict[str, FileScan]] = {key: {} for key in artefacts}
    for (key, target), result in bounded_map(
        lambda item: scan_file(
            item[1].path,
            item[1].rel,
            item[1].format if isinstance(item[1].format, str) else None,
            max_bytes,
        ),
        todo,
        workers,
        batch_cost=_SCAN_BATCH,
    ):
        if isinstance(result, Exception):  # scan_file reports its own errors; this is a bug
            result = FileScan([Issue(target.rel, None, f"could not be scanned: {result}")])
        out[key][target.rel] = result
    return out


def serialization_facts(
    targets: Sequence[ScanTarget], scans: dict[str, FileScan]
) -> dict[str, Any]:
    """`unsafe` and `lambda_layers` for an artefact's `serialization` block.

    `unsafe` is the list of findings; when there are none but some file's format could not be
    established (it may be a pickle), it is Unknown: an unreadable file is not a safe one.
    """
    issues = [i.as_dict() for t in targets if t.rel in scans for i in scans[t.rel].issues]
    lambdas = [layer for t in targets if t.rel in scans for layer in scans[t.rel].lambda_layers]
    unsafe: list[dict[str, Any]] | Unknown = issues
    undetermined = [t.rel for t in targets if isinstance(t.format, Unknown)]
    if not issues and undetermined:
        more = f" and {len(undetermined) - 1} more" if len(undetermined) > 1 else ""
        unsafe = Unknown(f"{undetermined[0]}{more} could not be scanned (format unknown)")
    return {"unsafe": unsafe, "lambda_layers": lambdas}


def signature_facts(model: Path, rel_names: list[str], trust: TrustSet) -> SignatureResult:
    return check(model, find_signature(model, rel_names), trust)


def attestation_file(model: Path, rel_names: Sequence[str]) -> tuple[Path, str] | None:
    """The in-toto attestation of a model directory (a top-level `*.intoto.jsonl`,
    `*.intoto.json`, `*.dsse.json` or `*.sigstore.json`, else `DIR.intoto.jsonl` beside it), or
    of a single model file (`FILE.intoto.jsonl` beside it): (path, name relative to the model).
    A `.sigstore.json` that turns out to be a model-signing signature is not an attestation."""
    if model.is_dir():
        for name in sorted(n for n in rel_names if "/" not in n):
            lower = name.lower()
            if lower.endswith(ATTESTATION_SUFFIXES) or lower.endswith(".sigstore.json"):
                return model / name, name
    for suffix in (".intoto.jsonl", ".intoto.json", ".sigstore.json"):
        candidate = model.with_name(model.name + suffix)
        if candidate.is_file():
            return candidate, f"../{candidate.name}" if model.is_dir() else candidate.name
    return None


def add_integrity(
    attributes: dict[str, Any],
    targets: Sequence[ScanTarget],
    scans: dict[str, FileScan],
    trust: TrustSet,
) -> None:
    """Fill an artefact's `serialization.unsafe/lambda_layers`, `signature` and `provenance`
    in place. An attestation is checked like the object stores check it (its statement, then
    its subjects against the files' digests the source computed)."""
    attributes["serialization"].update(serialization_facts(targets, scans))
    model = Path(attributes["location"]["path"])
    names = [t.rel for t in targets]
    signature = signature_facts(model, names, trust)
    provenance = NO_PROVENANCE
    found = attestation_file(model, names)
    checked = None
    if found is not None:
        digests = {
            str(f["path"]): f["sha256"] if isinstance(f.get("sha256"), str) else None
            for f in attributes.get("files") or ()
        }
        checked = check_file(found[0], found[1], trust)
        if checked.is_attestation or checked.final is not None:
            provenance = judge_attestation(checked, Digests(digests, "not hashed", ("read",)))
        else:
            checked = None
    if signature.kind == "in-toto" and checked is not None and signature.file == checked.rel:
        signature = signature_from_attestation(checked, provenance, names)
    attributes["signature"] = signature.attributes()
    attributes["provenance"] = provenance.attributes()


def attestation_as_signature(
    model: Path, attestation: Path, rel: str, rel_names: Sequence[str], trust: TrustSet
) -> SignatureResult:
    """An in-toto attestation standing in for a model's signature (`modelward verify`): its
    statement checked, then its subjects against the files, hashed here."""
    from scanner.artefacts.hashing import hash_files

    base = model if model.is_dir() else model.parent
    names = list(rel_names) if model.is_dir() else [model.name]
    hashed = hash_files([str(base / n) for n in names])
    digests = {
        n: value if isinstance(value := hashed.get(str(base / n)), str) else None for n in names
    }
    checked = check_file(attestation, rel, trust)
    if not checked.is_attestation and checked.final is None:
        return check(model, attestation, trust)
    provenance = judge_attestation(checked, Digests(digests, "the file could not be read"))
    return signature_from_attestation(checked, provenance, names)
