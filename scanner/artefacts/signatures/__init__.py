"""Signatures next to a model: found, classified and verified against configured trust.

OpenSSF model signing (`model.sig`) is a Sigstore bundle whose DSSE envelope carries an in-toto
statement listing every file's digest. It is verified with the `model-signing` library, which
checks the signature (public key, certificate chain or Sigstore keyless) and then re-hashes the
model and compares it with the signed manifest: a changed, added or removed file fails.

Decisions on top of the library:
- the signature file inside the model directory is not an "extra unsigned file": the library
  ignores it when signing but not when verifying, so it is added to the ignored paths here;
- a certificate chain is always the configured one: the library falls back to the system's
  web-PKI roots when given none, which would let any public CA vouch for a model; no chain
  configured means the signature cannot be verified (Unknown), never a web-PKI check;
- Sigstore keyless needs a pinned trust root from config, so verification never reaches the
  network (the library would otherwise fetch the public-good root over TUF);
- detached Sigstore bundles over a blob and bare in-toto/DSSE attestations are recognised and
  reported (`present`, `kind`), but verifying them is not implemented yet: `verified` is
  Unknown with that reason, never true.

`verified` is true only when a configured trust entry verifies the signature and the files
match; false when the signature is checked and fails (or there is none); Unknown when it could
not be checked (no trust configured for its kind, unsupported kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.bundle import (
    classify,
    load_bundle,
    signed_manifest,
    signer_hint,
)
from scanner.artefacts.signatures.library import Trust, identity_of, verify_one
from scanner.artefacts.signatures.trust import TrustSet
from scanner.errors import one_line
from scanner.inventory import Unknown

MODEL_SIG = "model.sig"
DETACHED_SUFFIXES = (".sig", ".sigstore.json", ".sigstore", ".bundle.json")
ATTESTATION_SUFFIXES = (".intoto.jsonl", ".intoto.json", ".dsse.json")
# A signature or attestation beside a model (`fraud.sig` next to `fraud/`, MLflow's `model.sig`
# next to `model/`, `weights.pt.sig` next to `weights.pt`), in the order they are preferred.
SIBLING_SUFFIXES = (".sig", ".sigstore.json", ".sigstore", ".intoto.jsonl", ".intoto.json")


@dataclass(frozen=True)
class SignatureResult:
    present: bool
    kind: str | None = None  # model-signing | sigstore-bundle | in-toto
    verified: bool | Unknown = False
    identity: str | None = None
    error: str | None = None
    file: str | None = None  # the signature file, relative to the model directory
    manifest: tuple[tuple[str, str, str], ...] = field(default=())  # (path, algorithm, digest)
    # Where the compared file digests came from, when not from hashing local files: `read`
    # (hashed while the objects streamed), `S3 checksum` (the store's own SHA-256), or both.
    digests_from: str | None = None

    def attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "present": self.present,
            "kind": self.kind,
            "verified": self.verified,
            "identity": self.identity,
            "error": self.error,
        }
        if self.file is not None:
            out["file"] = self.file
        if self.digests_from is not None:
            out["digests_from"] = self.digests_from
        if self.manifest:
            out["manifest"] = [
                {"path": p, "algorithm": a, "digest": d} for p, a, d in self.manifest
            ]
        return out


NO_SIGNATURE = SignatureResult(present=False, error="no signature found")


def is_signature_name(name: str) -> bool:
    lower = name.lower()
    return lower == MODEL_SIG or lower.endswith(DETACHED_SUFFIXES + ATTESTATION_SUFFIXES)


def find_signature(model: Path, names: list[str]) -> Path | None:
    """The signature of a model directory (`model.sig` first, then a bundle at its top level,
    then one beside it: `DIR.sig`, ...), or of a single model file (`FILE.sig`, ... beside it)."""
    if model.is_dir():
        top = sorted(n for n in names if "/" not in n and is_signature_name(n))
        if MODEL_SIG in top:
            return model / MODEL_SIG
        if top:
            return model / top[0]
    for suffix in SIBLING_SUFFIXES:
        candidate = model.with_name(model.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def check(model: Path, signature: Path | None, trust: TrustSet) -> SignatureResult:
    """Classify and verify `signature` for the model directory or file `model`."""
    if signature is None:
        return NO_SIGNATURE
    rel = _relative(signature, model)
    try:
        bundle = load_bundle(signature)
    except (OSError, ValueError) as e:
        return SignatureResult(
            True, None, False, None, _short(f"unreadable signature {rel}: {e}"), rel
        )
    kind, material = classify(bundle)
    if kind != "model-signing":
        what = "a detached Sigstore bundle" if kind == "sigstore-bundle" else "an attestation"
        return SignatureResult(
            True,
            kind,
            Unknown(f"{rel} is {what}; verifying it is not implemented yet"),
            None,
            None,
            rel,
        )
    candidates = _candidates(material, trust)
    if not candidates:
        need = {
            "publicKey": "a trusted public key (integrity.trust.keys or --key)",
            "x509CertificateChain": "a trusted certificate chain "
            "(integrity.trust.certificate_chains or --certificate-chain)",
            "certificate": "a trusted Sigstore identity with a pinned trust root "
            "(integrity.trust.identities or --identity/--issuer/--trust-root)",
        }.get(material or "", "trust for its kind of verification material")
        return SignatureResult(
            True,
            kind,
            Unknown(f"{rel} cannot be verified: it needs {need}, and none is configured"),
            signer_hint(bundle, material),
            None,
            rel,
        )
    errors: list[str] = []
    for entry in candidates:
        error = verify_one(model, signature, entry, bundle)
        if error is None:
            return SignatureResult(
                True, kind, True, identity_of(entry, bundle), None, rel, signed_manifest(bundle)
            )
        errors.append(error)
    distinct = list(dict.fromkeys(errors))
    return SignatureResult(
        True, kind, False, signer_hint(bundle, material), _short("; ".join(distinct)), rel
    )


def _relative(signature: Path, model: Path) -> str:
    if model.is_dir() and signature.parent == model.parent:
        return f"../{signature.name}"  # beside the directory (`fraud.sig` next to `fraud/`)
    base = model if model.is_dir() else model.parent
    try:
        return signature.relative_to(base).as_posix()
    except ValueError:
        return str(signature)


def _short(text: str, limit: int = 600) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _candidates(material: str | None, trust: TrustSet) -> list[Trust]:
    if material == "publicKey":
        return list(trust.keys)
    if material == "x509CertificateChain":
        return list(trust.chains)
    if material == "certificate":
        return list(trust.identities)
    return []
