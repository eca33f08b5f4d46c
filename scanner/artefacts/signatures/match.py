"""Do a model's files have the digests an authentic statement lists?

`scanner.artefacts.signatures.content` establishes that a statement is authentic; this module
compares what it lists with the files, given as `path -> sha256 hex` (None: not known yet,
the caller has not read the file). Where the digests come from is the caller's business: a
local hash, a hash computed while an object streamed past, or the SHA-256 an object store
keeps for an object. Comparing names first costs nothing: an added or removed file fails
without a byte being read, and only the files that are in both need a digest.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.artefacts.signatures.content import ContentError


@dataclass(frozen=True)
class ModelManifest:
    """The files a model-signing statement lists, and how the signer hashed them."""

    entries: tuple[tuple[str, str, str], ...]  # (path, algorithm, hex digest), sorted
    method: str  # `files` (one digest per file) or `shards` (per byte range)
    hash_type: str
    ignore_paths: tuple[str, ...] = ()


def model_manifest(statement: dict[str, Any]) -> ModelManifest:
    """The manifest of an authentic model-signing statement, through the library's own reader
    (which also checks that the subject's root digest covers exactly the listed resources)."""
    from model_signing._signing.signing import dsse_payload_to_manifest

    try:
        manifest = dsse_payload_to_manifest(statement)
        settings = dict(manifest.serialization_type)
        entries = tuple(
            sorted(
                (d.identifier, d.digest.algorithm, d.digest.digest_hex)
                for d in manifest.resource_descriptors()
            )
        )
    except (ValueError, KeyError, TypeError) as e:
        raise ContentError(f"the signed manifest is malformed: {type(e).__name__} {e}") from e
    return ModelManifest(
        entries=entries,
        method=str(settings.get("method", "files")),
        hash_type=str(settings.get("hash_type", "sha256")),
        ignore_paths=tuple(str(p) for p in settings.get("ignore_paths", []) or ()),
    )


@dataclass(frozen=True)
class Comparison:
    """Signed names and digests against the files."""

    added: tuple[str, ...] = ()  # files the signature does not list
    removed: tuple[str, ...] = ()  # listed files that are not there
    changed: tuple[str, ...] = ()  # files whose digest differs
    unhashed: tuple[str, ...] = field(default=())  # listed files whose digest is not known yet

    @property
    def failed(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def verdict(self) -> bool | None:
        """False on any difference; True when every listed file matched; None: digests needed."""
        if self.failed:
            return False
        return None if self.unhashed else True

    def describe(self) -> str:
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("changed", self.changed),
                ("added", self.added),
                ("removed", self.removed),
            )
            if names
        ]
        return "files do not match the signature: " + "; ".join(parts)


def _ignored(path: str, ignore: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in ignore)


def covered_files(paths: Iterable[str], manifest: ModelManifest, signature: str) -> list[str]:
    """The files a model-signing signature must account for: every file of the model except
    the signature itself and the paths the signer said to ignore (the library's own rule)."""
    ignore = [posixpath.normpath(p) for p in manifest.ignore_paths]
    return sorted(p for p in paths if p != signature and not _ignored(p, ignore))


def compare_manifest(
    manifest: ModelManifest, files: Mapping[str, str | None], signature: str
) -> Comparison:
    """The model's files (`path -> sha256 hex or None`) against a `files` manifest."""
    signed = {path: digest for path, _, digest in manifest.entries}
    present = set(covered_files(files, manifest, signature))
    both = sorted(present & set(signed))
    return Comparison(
        added=tuple(sorted(present - set(signed))),
        removed=tuple(sorted(set(signed) - present)),
        changed=tuple(p for p in both if files[p] is not None and files[p] != signed[p]),
        unhashed=tuple(p for p in both if files[p] is None),
    )


@dataclass(frozen=True)
class SubjectMatch:
    """An attestation's subjects against the files: each subject by name and sha256."""

    matched: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()  # a file of that name with another digest
    missing: tuple[str, ...] = ()  # no file of that name
    unhashed: tuple[str, ...] = ()  # a file of that name whose digest is not known yet
    no_sha256: tuple[str, ...] = ()  # subjects without a sha256 digest (cannot be compared)

    @property
    def verdict(self) -> bool | None:
        if self.mismatched or self.missing or (not self.matched and not self.unhashed):
            return False
        if self.unhashed or self.no_sha256:
            return None
        return True

    def describe(self) -> str:
        if not (self.matched or self.mismatched or self.missing or self.unhashed):
            return "the attestation names no subject with a sha256 digest"
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("digest differs", self.mismatched),
                ("no such file", self.missing),
                ("no sha256 to compare", self.no_sha256),
            )
            if names
        ]
        return "attestation subjects do not match the files: " + "; ".join(parts)


def subjects(statement: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(name, digest set) of each subject; names normalised to model-relative paths."""
    out = []
    for subject in statement.get("subject") or []:
        if not isinstance(subject, dict):
            continue
        name = str(subject.get("name", ""))
        raw = subject.get("digest")
        digest: dict[str, Any] = raw if isinstance(raw, dict) else {}
        clean = posixpath.normpath(name.removeprefix("./")) if name else ""
        out.append((clean, {str(k).lower(): str(v).lower() for k, v in digest.items()}))
    return out


def compare_subjects(statement: dict[str, Any], files: Mapping[str, str | None]) -> SubjectMatch:
    matched, mismatched, missing, unhashed, no_sha = [], [], [], [], []
    for name, digest in subjects(statement):
        want = digest.get("sha256")
        if want is None:
            no_sha.append(name or "(unnamed)")
        elif name not in files:
            missing.append(name or "(unnamed)")
        elif files[name] is None:
            unhashed.append(name)
        elif files[name] == want:
            matched.append(name)
        else:
            mismatched.append(name)
    return SubjectMatch(
        tuple(matched), tuple(mismatched), tuple(missing), tuple(unhashed), tuple(no_sha)
    )
