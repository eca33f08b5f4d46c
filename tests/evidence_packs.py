"""Evidence packs in the tests: an estate to scan, keys, and packs taken apart and put back
together (changed after signing, or re-signed by someone who edited them first)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from scanner.demo.keys import write_key_pair
from scanner.evidence import manifest as layout
from scanner.evidence import statement
from scanner.evidence.archive import write_zip
from scanner.evidence.manifest import Manifest, entry
from scanner.evidence.signers import key_signer
from tests.helpers import pickle_model, policy_pack, safe_model
from tests.signing import KeyPair

# The small test pack without its attestation policies, over one clean and one pickle model:
# T-ART-01 fails on the pickle model, everything else passes.
SCAN_ARGS = (
    "--no-builtin-policies",
    "--policies",
    "pack",
    "--skip-policy",
    "T-GOV-*",
    "--source",
    "path:models",
    "--as-of",
    "2026-01-15T00:00:00Z",
)


def estate(root: Path) -> Path:
    policy_pack(root / "pack")
    safe_model(root / "models", "clean")
    pickle_model(root / "models", "legacy")
    return root


def write_key(
    root: Path, name: str, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
) -> KeyPair:
    return KeyPair(*write_key_pair(root, name, key))


def ed25519_pair(root: Path, name: str = "auditor") -> KeyPair:
    return write_key(root, name, ed25519.Ed25519PrivateKey.generate())


def members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(pack: Path, content: dict[str, bytes], target: Path | None = None) -> Path:
    """The members written back as a plain zip, signature untouched: tampering after signing."""
    target = target or pack
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in content.items():
            archive.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def tamper(pack: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    content = members(pack)
    edit(content)
    return rezip(pack, content)


def resign(pack: Path, key: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Someone holding the signing key edits the pack, then signs it again properly: every
    digest and the signature are right, so only re-evaluation can tell."""
    content = members(pack)
    edit(content)
    old = layout.parse(content[layout.MANIFEST])
    roles = {e.name: e.role for e in old.entries}
    listed = {n: d for n, d in content.items() if n not in layout.UNLISTED}
    entries = [entry(n, roles.get(n, "output"), d) for n, d in sorted(listed.items())]
    document = json.loads(content[layout.RESULTS])
    manifest = Manifest(
        old.tool_version,
        old.scan_id,
        tuple(e for e in entries if e.role != "output"),
        tuple(e for e in entries if e.role == "output"),
    )
    manifest_bytes = manifest.to_bytes()
    signed = statement.build(
        manifest.entries, manifest_bytes, statement.predicate(document, manifest.evidence_digest)
    )
    content[layout.MANIFEST] = manifest_bytes
    content[layout.SIGNATURE] = key_signer(key).sign(signed)
    pack.write_bytes(write_zip(content, first=(layout.MANIFEST, layout.SIGNATURE)))
    return pack


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(content: dict[str, bytes]) -> None:
        doc = json.loads(content[name])
        change(doc)
        content[name] = json.dumps(doc, indent=2, sort_keys=True).encode()

    return edit
