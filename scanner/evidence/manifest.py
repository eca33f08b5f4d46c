"""The pack's layout and its manifest: every member's name, role, size and SHA-256.

The manifest has two lists, and that split is how a report inside the pack can name the
pack it belongs to (a file cannot contain its own digest):

- `evidence`: what the verdicts rest on (results.json, the settings, the configuration, the
  policy and mapping files, the waivers and baseline read, the raw source answers). Its
  digest, `evidence_digest`, is SHA-256 over the canonical JSON of that list, and is known
  before any report is rendered.
- `outputs`: the reports and documents rendered from results.json, the HTML report among them
  showing `evidence_digest` and the signer. They are listed and signed like the rest, but
  cannot be part of the digest they display.

The canonical JSON is `json.dumps(list, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` in UTF-8, which is also what `jq -cjS .evidence manifest.json` prints, so an
auditor can recompute the digest without modelward.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.evidence.archive import name_problem

FORMAT = "modelward-evidence-pack"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "signature.sigstore.json"
RESULTS = "results.json"
SETTINGS = "settings.json"
CONFIG = "config/modelward.yaml"
RAW_ANSWERS = "raw/answers.json"
POLICIES = "policies"
MAPPINGS = "mappings"
INPUTS = "inputs"
OUTPUTS = "outputs"
OUTPUT_BASELINE = "baseline"  # outputs/baseline/NAME: the baseline a scan created
# Members that are not listed in the manifest: the manifest itself (a subject of the signed
# statement instead) and the signature over everything.
UNLISTED = (MANIFEST, SIGNATURE)

ROLES = ("results", "settings", "config", "policy", "mapping", "input", "raw", "output")


class ManifestError(ValueError):
    """manifest.json is not a manifest of this format; the message says what is wrong."""


@dataclass(frozen=True)
class Entry:
    name: str
    role: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "sha256": self.sha256, "size": self.size}


def entry(name: str, role: str, data: bytes) -> Entry:
    return Entry(name, role, hashlib.sha256(data).hexdigest(), len(data))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def evidence_digest(evidence: Sequence[Entry]) -> str:
    listed = [e.to_dict() for e in sorted(evidence, key=lambda e: e.name)]
    return "sha256:" + hashlib.sha256(canonical(listed)).hexdigest()


@dataclass(frozen=True)
class Manifest:
    tool_version: str
    scan_id: str
    evidence: tuple[Entry, ...]
    outputs: tuple[Entry, ...]

    @property
    def evidence_digest(self) -> str:
        return evidence_digest(self.evidence)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.evidence + self.outputs

    def by_name(self) -> dict[str, Entry]:
        return {e.name: e for e in self.entries}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "tool": {"name": "modelward", "version": self.tool_version},
            "scan_id": self.scan_id,
            "evidence_digest": self.evidence_digest,
            "evidence": [e.to_dict() for e in sorted(self.evidence, key=lambda e: e.name)],
            "outputs": [e.to_dict() for e in sorted(self.outputs, key=lambda e: e.name)],
        }

    def to_bytes(self) -> bytes:
        return (
            json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode()


def parse(data: bytes) -> Manifest:
    """manifest.json → Manifest, refusing anything that is not exactly this format."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{MANIFEST} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ManifestError(f"{MANIFEST} is not a modelward evidence pack manifest")
    if doc.get("version") != VERSION:
        raise ManifestError(
            f"{MANIFEST} has format version {doc.get('version')!r}; this modelward reads {VERSION}"
        )
    tool = doc.get("tool")
    scan_id = doc.get("scan_id")
    if not isinstance(tool, dict) or not isinstance(tool.get("version"), str):
        raise ManifestError(f"{MANIFEST}: tool.version is missing")
    if not isinstance(scan_id, str):
        raise ManifestError(f"{MANIFEST}: scan_id is missing")
    manifest = Manifest(
        tool["version"], scan_id, _entries(doc, "evidence"), _entries(doc, "outputs")
    )
    names = [e.name for e in manifest.entries]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ManifestError(f"{MANIFEST} lists {duplicate!r} twice")
    if doc.get("evidence_digest") != manifest.evidence_digest:
        raise ManifestError(
            f"{MANIFEST}: evidence_digest {doc.get('evidence_digest')!r} is not the digest of "
            f"its evidence list ({manifest.evidence_digest})"
        )
    if RESULTS not in names or SETTINGS not in names:
        raise ManifestError(f"{MANIFEST} does not list {RESULTS} and {SETTINGS}")
    return manifest


def _entries(doc: Mapping[str, Any], key: str) -> tuple[Entry, ...]:
    items = doc.get(key)
    if not isinstance(items, list):
        raise ManifestError(f"{MANIFEST}: {key} is not a list")
    out = []
    for i, item in enumerate(items):
        where = f"{MANIFEST}: {key}[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f"{where} is not an object")
        name, role, digest, size = (item.get(k) for k in ("name", "role", "sha256", "size"))
        if not isinstance(name, str) or name_problem(name) is not None or name in UNLISTED:
            raise ManifestError(f"{where}: name {name!r} is not a member name")
        if role not in ROLES or (key == "outputs") != (role == "output"):
            raise ManifestError(f"{where}: role {role!r} does not belong in {key}")
        if not isinstance(digest, str) or len(digest) != 64 or not _is_hex(digest):
            raise ManifestError(f"{where}: sha256 {digest!r} is not a SHA-256 in hex")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{where}: size {size!r} is not a byte count")
        out.append(Entry(name, role, digest, size))
    return tuple(out)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
