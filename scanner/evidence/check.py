"""Checking a pack someone was handed: its structure, its signature, every member's digest.

The order matters, because nothing in the pack is trusted until the signature says so:
1. the zip's directory (`archive.PackReader`): hostile structures are refused before any
   member is read;
2. the signature over the in-toto statement, with the trust the auditor gives;
3. manifest.json against the statement's subject for it, then the manifest's list against
   the statement's subjects: both must name the same members with the same digests;
4. the archive's members against the manifest: none missing, none added, each one's SHA-256
   and size as signed (members are hashed as they stream, never extracted);
5. results.json and settings.json parsed, and the statement's predicate compared with
   results.json (scan id, times, sources, policy pack, gate, evidence digest).

A pack that fails 2 or 3 stops there (nothing else in it can be believed); 4 and 5 report
every problem found. Re-evaluating the verdicts comes after, on a pack that passed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner import results
from scanner.evidence import dsse, statement
from scanner.evidence import manifest as layout
from scanner.evidence.archive import Limits, PackReader, sha256_hex
from scanner.evidence.manifest import Manifest, ManifestError
from scanner.evidence.settings import ScanSettings, SettingsError
from scanner.evidence.settings import parse as parse_settings


class NotVerified(Exception):
    """The pack was read and does not verify: every reason, one line each."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(dict.fromkeys(problems))
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(self.problems[0] + more)


@dataclass(frozen=True)
class Opened:
    """A pack whose signature, manifest and members all check out."""

    signer: str
    manifest: Manifest
    predicate: Mapping[str, Any]
    document: dict[str, Any]
    settings: ScanSettings
    files: Mapping[str, bytes]  # the members re-evaluation reads (policies, mappings, inputs)


def open_pack(
    path: str | os.PathLike[str], trust: dsse.Trust, limits: Limits | None = None
) -> Opened:
    """Steps 1-5. Raises `archive.PackError` (not a readable pack, exit 2) or `NotVerified`
    (signature, statement or manifest); returns the pack with any member problems listed."""
    with PackReader(path, limits) as pack:
        names = set(pack.names)
        for required in (layout.SIGNATURE, layout.MANIFEST):
            if required not in names:
                raise NotVerified(f"the pack has no {required}: it is not a signed evidence pack")
        verified = _verify_signature(pack.read(layout.SIGNATURE), trust)
        try:
            signed = statement.parse(verified.payload_type, verified.payload)
            subjects = statement.subjects(signed)
        except statement.StatementError as exc:
            raise NotVerified(str(exc)) from None
        manifest_bytes = pack.read(layout.MANIFEST)
        if subjects.get(layout.MANIFEST) != sha256_hex(manifest_bytes):
            raise NotVerified(f"{layout.MANIFEST} was changed after the pack was signed")
        try:
            manifest = layout.parse(manifest_bytes)
        except ManifestError as exc:
            raise NotVerified(str(exc)) from None
        _same_members(subjects, manifest)
        problems = _check_members(pack, manifest)
        wanted = [n for n in (layout.RESULTS, layout.SETTINGS) if n in names]
        docs = {name: _json(pack.read(name), name, problems) for name in wanted}
        settings = _settings(docs.get(layout.SETTINGS), problems)
        needed = settings.members() if settings is not None else []
        listed = manifest.by_name()
        files = {}
        for name in needed:
            if name not in listed:
                problems.append(f"settings.json names {name!r}, which the manifest does not list")
            elif name in names:  # a listed member that is missing is reported already
                files[name] = pack.read(name)
    document = docs.get(layout.RESULTS)
    if isinstance(document, dict):
        found = results.problems(document)
        if found:
            problems.append(f"results.json is not valid modelward results: {found[0]}")
        else:
            problems.extend(_predicate_problems(signed["predicate"], document, manifest))
    elif layout.RESULTS in docs:
        problems.append("results.json is not a JSON object")
    if problems or settings is None or not isinstance(document, dict):
        raise NotVerified(*(problems or ["the pack is incomplete"]))
    return Opened(verified.signer, manifest, signed["predicate"], document, settings, files)


def _verify_signature(bundle: bytes, trust: dsse.Trust) -> dsse.Verified:
    try:
        return dsse.verify(bundle, trust)
    except dsse.SignatureError as exc:
        raise NotVerified(f"the signature does not verify: {exc}") from None


def _same_members(subjects: Mapping[str, str], manifest: Manifest) -> None:
    """The signed subjects and the manifest's list must be the same members, same digests."""
    listed = {e.name: e.sha256 for e in manifest.entries}
    signed = {n: d for n, d in subjects.items() if n != layout.MANIFEST}
    for name in sorted(set(signed) | set(listed)):
        if name not in listed:
            raise NotVerified(f"the signed statement names {name!r}, which the manifest omits")
        if name not in signed:
            raise NotVerified(f"the manifest lists {name!r}, which the signed statement omits")
        if signed[name] != listed[name]:
            raise NotVerified(f"the manifest and the signed statement disagree on {name!r}")


def _check_members(pack: PackReader, manifest: Manifest) -> list[str]:
    problems = []
    listed = manifest.by_name()
    present = set(pack.names)
    for name in pack.names:
        if name not in listed and name not in layout.UNLISTED:
            problems.append(f"member {name!r} is not in the signed manifest (added after signing)")
    for name, item in sorted(listed.items()):
        if name not in present:
            problems.append(f"member {name!r} is missing (the signed manifest lists it)")
            continue
        digest, size = pack.sha256(name)
        if digest != item.sha256 or size != item.size:
            problems.append(
                f"member {name!r} was modified after signing (sha256 {digest[:16]}…, "
                f"{size} bytes; signed {item.sha256[:16]}…, {item.size} bytes)"
            )
    return problems


def _json(data: bytes, name: str, problems: list[str]) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{name} is not JSON: {exc}")
        return None


def _settings(doc: Any, problems: list[str]) -> ScanSettings | None:
    if doc is None:
        return None
    try:
        return parse_settings(doc)
    except SettingsError as exc:
        problems.append(str(exc))
        return None


def _predicate_problems(
    predicate: Mapping[str, Any], document: Mapping[str, Any], manifest: Manifest
) -> list[str]:
    """The signed predicate says what results.json must say about the scan."""
    expected = statement.predicate(document, manifest.evidence_digest)
    problems = []
    for key in sorted(set(expected) | set(predicate)):
        if predicate.get(key) != expected.get(key):
            problems.append(
                f"the signed statement's {key} ({_short(predicate.get(key))}) is not what "
                f"results.json and the manifest say ({_short(expected.get(key))})"
            )
    if manifest.scan_id != document["scan"]["id"]:
        problems.append("the manifest's scan id is not results.json's")
    return problems


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
