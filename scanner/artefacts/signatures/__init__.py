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

import ast
import base64
import contextlib
import hashlib
import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.trust import ChainTrust, IdentityTrust, KeyTrust, TrustSet
from scanner.errors import one_line
from scanner.inventory import Unknown

MAX_SIGNATURE_BYTES = 16 * 1024 * 1024
MODEL_SIG = "model.sig"
DETACHED_SUFFIXES = (".sig", ".sigstore.json", ".sigstore", ".bundle.json")
ATTESTATION_SUFFIXES = (".intoto.jsonl", ".intoto.json", ".dsse.json")
_MODEL_SIGNING_PREDICATES = (
    "https://model_signing/signature/v1.0",
    "https://model_signing/Digests/v0.1",
)


@dataclass(frozen=True)
class SignatureResult:
    present: bool
    kind: str | None = None  # model-signing | sigstore-bundle | in-toto
    verified: bool | Unknown = False
    identity: str | None = None
    error: str | None = None
    file: str | None = None  # the signature file, relative to the model directory
    manifest: tuple[tuple[str, str, str], ...] = field(default=())  # (path, algorithm, digest)

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
        if self.manifest:
            out["manifest"] = [
                {"path": p, "algorithm": a, "digest": d} for p, a, d in self.manifest
            ]
        return out


_STDOUT_LOCK = threading.Lock()

NO_SIGNATURE = SignatureResult(present=False, error="no signature found")


def is_signature_name(name: str) -> bool:
    lower = name.lower()
    return lower == MODEL_SIG or lower.endswith(DETACHED_SUFFIXES + ATTESTATION_SUFFIXES)


def find_signature(model: Path, names: list[str]) -> Path | None:
    """The signature of a model directory (`model.sig` first, then a bundle at its top level),
    or of a single model file (`FILE.sig`, `FILE.sigstore.json`, ... beside it)."""
    if model.is_dir():
        top = sorted(n for n in names if "/" not in n and is_signature_name(n))
        if MODEL_SIG in top:
            return model / MODEL_SIG
        return model / top[0] if top else None
    for suffix in (".sig", ".sigstore.json", ".sigstore", ".intoto.jsonl"):
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
        bundle = _load(signature)
    except (OSError, ValueError) as e:
        return SignatureResult(
            True, None, False, None, _short(f"unreadable signature {rel}: {e}"), rel
        )
    kind, material = _classify(bundle)
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
        }.get(material, "trust for its kind of verification material")
        return SignatureResult(
            True,
            kind,
            Unknown(f"{rel} cannot be verified: it needs {need}, and none is configured"),
            _signer_hint(bundle, material),
            None,
            rel,
        )
    errors: list[str] = []
    for entry in candidates:
        error = _verify_one(model, signature, entry, bundle)
        if error is None:
            return SignatureResult(
                True, kind, True, _identity(entry, bundle), None, rel, _manifest(bundle)
            )
        errors.append(error)
    distinct = list(dict.fromkeys(errors))
    return SignatureResult(
        True, kind, False, _signer_hint(bundle, material), _short("; ".join(distinct)), rel
    )


def _relative(signature: Path, model: Path) -> str:
    base = model if model.is_dir() else model.parent
    try:
        return signature.relative_to(base).as_posix()
    except ValueError:
        return str(signature)


def _short(text: str, limit: int = 600) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise ValueError(f"over {MAX_SIGNATURE_BYTES} bytes")
    text = path.read_text(encoding="utf-8")
    if path.name.lower().endswith(".jsonl"):
        text = next((line for line in text.splitlines() if line.strip()), "")
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _classify(doc: dict[str, Any]) -> tuple[str, str | None]:
    """(kind, verification material key) of a bundle or envelope."""
    envelope = doc.get("dsseEnvelope")
    material = doc.get("verificationMaterial")
    material_key = None
    if isinstance(material, dict):
        material_key = next(
            (k for k in ("publicKey", "x509CertificateChain", "certificate") if k in material),
            None,
        )
    if isinstance(envelope, dict):
        statement = _statement(envelope)
        if statement.get("predicateType") in _MODEL_SIGNING_PREDICATES:
            return "model-signing", material_key
        return "in-toto", material_key
    if "messageSignature" in doc:
        return "sigstore-bundle", material_key
    return "in-toto", None  # a bare DSSE envelope or another attestation format


def _statement(envelope: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(envelope.get("payload", ""), validate=False))
    except (ValueError, TypeError):
        return {}
    return payload if isinstance(payload, dict) else {}


Trust = KeyTrust | ChainTrust | IdentityTrust


def _candidates(material: str | None, trust: TrustSet) -> list[Trust]:
    if material == "publicKey":
        return list(trust.keys)
    if material == "x509CertificateChain":
        return list(trust.chains)
    if material == "certificate":
        return list(trust.identities)
    return []


def _verify_one(
    model: Path, signature: Path, entry: KeyTrust | ChainTrust | IdentityTrust, bundle: dict
) -> str | None:
    """None when `entry` verifies the signature and the files match; else why not."""
    from model_signing import hashing, verifying  # lazy: pulls in sigstore and OpenSSL

    try:
        with _trust_config_file(entry) as trust_root:
            config = verifying.Config()
            if isinstance(entry, KeyTrust):
                config.use_elliptic_key_verifier(public_key=entry.path)
            elif isinstance(entry, ChainTrust):
                config.use_certificate_verifier(certificate_chain=[entry.path])
            else:
                config.use_sigstore_verifier(
                    identity=entry.identity, oidc_issuer=entry.issuer, trust_config=trust_root
                )
            config.set_hashing_config(_hashing_config(hashing, bundle, model, signature))
            # The library prints a warning to stdout for old-format key bundles; stdout is for
            # our results. redirect_stdout swaps a process-wide object, so it is serialised:
            # two sources verifying at once would otherwise restore each other's buffer.
            with _STDOUT_LOCK, contextlib.redirect_stdout(io.StringIO()):
                config.verify(model, signature)
    except Exception as e:  # the library raises ValueError, OpenSSL and sigstore errors alike
        return _describe(entry, e)
    if isinstance(entry, ChainTrust) and entry.identity is not None:
        names = _certificate_names(bundle)
        if entry.identity not in names:
            return (
                f"signed by {', '.join(names) or 'an unnamed certificate'}, "
                f"not by the trusted identity {entry.identity}"
            )
    return None


def _hashing_config(hashing: Any, bundle: dict, model: Path, signature: Path) -> Any:
    """The signer's hashing settings (from the statement, checked later by the signature),
    plus the signature file itself as an ignored path when it lives inside the model."""
    serialization = _statement(bundle["dsseEnvelope"]).get("predicate", {}).get("serialization")
    if not isinstance(serialization, dict):
        raise ValueError("the signed statement has no serialization settings")
    method = serialization.get("method")
    ignore = [Path(p) for p in serialization.get("ignore_paths", []) or []]
    common = {
        "hashing_algorithm": serialization.get("hash_type", "sha256"),
        "allow_symlinks": bool(serialization.get("allow_symlinks", False)),
        "ignore_paths": ignore,
    }
    if method == "files":
        config = hashing.Config().use_file_serialization(**common)
    elif method == "shards":
        config = hashing.Config().use_shard_serialization(
            shard_size=serialization["shard_size"], **common
        )
    else:
        raise ValueError(f"unsupported serialization method {method!r}")
    if model.is_dir():
        try:
            inside = signature.resolve().relative_to(model.resolve())
        except ValueError:
            inside = None
        if inside is not None:
            config.set_ignored_paths(paths=[*ignore, inside])
    return config


def _describe(entry: KeyTrust | ChainTrust | IdentityTrust, e: Exception) -> str:
    text = str(e) or type(e).__name__
    if text.startswith("Signature mismatch"):
        return f"files do not match the signature: {_mismatch(text)}"
    if isinstance(entry, KeyTrust):
        return f"not signed by the trusted key {entry.path.name}: {type(e).__name__} {text}"
    if isinstance(entry, ChainTrust):
        return f"certificate not trusted by {entry.path.name}: {type(e).__name__} {text}"
    return f"not signed by {entry.identity} ({entry.issuer}): {type(e).__name__} {text}"


def _mismatch(text: str) -> str:
    """The library's diff (the repr of a list of sentences) as changed/added/removed."""
    try:
        diffs = ast.literal_eval(text.partition(":")[2].strip())
    except (ValueError, SyntaxError):
        return text
    if not isinstance(diffs, list):
        return text
    found: dict[str, list[str]] = {"changed": [], "added": [], "removed": []}
    for line in map(str, diffs):
        if line.startswith("Hash mismatch for '"):
            found["changed"].append(line[len("Hash mismatch for '") :].partition("': ")[0])
        elif line.startswith("Extra files found in model"):
            found["added"].extend(n.strip() for n in line.partition("': ")[2].split(","))
        elif line.startswith("Missing files in model"):
            found["removed"].extend(n.strip() for n in line.partition("': ")[2].split(","))
    parts = [f"{label}: {', '.join(names)}" for label, names in found.items() if names]
    return "; ".join(parts) or text


@contextlib.contextmanager
def _trust_config_file(entry: KeyTrust | ChainTrust | IdentityTrust) -> Iterator[Path | None]:
    """model-signing takes a Sigstore *client trust config*; people keep a trusted_root.json.
    A bare trusted root is wrapped in a client trust config (with an empty signing config,
    which verification never reads) in a temporary file."""
    if not isinstance(entry, IdentityTrust):
        yield None
        return
    doc = json.loads(entry.trust_root.read_text(encoding="utf-8"))
    if "trustedRoot" in doc:
        yield entry.trust_root
        return
    wrapped = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": doc,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [],
            "oidcUrls": [],
            "rekorTlogUrls": [],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
    fd, name = tempfile.mkstemp(suffix=".json", prefix="modelward-trust-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(wrapped, f)
        yield Path(name)
    finally:
        os.unlink(name)


def _identity(entry: KeyTrust | ChainTrust | IdentityTrust, bundle: dict) -> str:
    if isinstance(entry, KeyTrust):
        return f"key {entry.path.name} ({_key_fingerprint(entry.path)})"
    if isinstance(entry, ChainTrust):
        names = _certificate_names(bundle)
        return names[0] if names else f"certificate chained to {entry.path.name}"
    return f"{entry.identity} ({entry.issuer})"


def _key_fingerprint(path: Path) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(path.read_bytes())
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(pem).hexdigest()[:16]


def _certificate_names(bundle: dict) -> list[str]:
    """SAN values, then the subject CN, of the signing certificate in a bundle."""
    from cryptography import x509

    material = bundle.get("verificationMaterial", {})
    raw = None
    if "x509CertificateChain" in material:
        certs = material["x509CertificateChain"].get("certificates", [])
        raw = certs[0].get("rawBytes") if certs else None
    elif "certificate" in material:
        raw = material["certificate"].get("rawBytes")
    if not raw:
        return []
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(raw))
    except ValueError:
        return []
    names: list[str] = []
    with contextlib.suppress(x509.ExtensionNotFound):
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind in (x509.RFC822Name, x509.UniformResourceIdentifier, x509.DNSName):
            names.extend(str(v) for v in san.get_values_for_type(kind))
    names.extend(
        str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    )
    return names


def _signer_hint(bundle: dict, material: str | None) -> str | None:
    """Who the signature claims to be from, unverified (a key hint or certificate names)."""
    if material in ("x509CertificateChain", "certificate"):
        names = _certificate_names(bundle)
        return f"unverified: {names[0]}" if names else None
    hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
    return f"unverified: key sha256:{str(hint)[:16]}" if hint else None


def _manifest(bundle: dict) -> tuple[tuple[str, str, str], ...]:
    """Per-file digests of a verified model-signing statement (authentic once verified)."""
    predicate = _statement(bundle["dsseEnvelope"]).get("predicate", {})
    out = []
    for resource in predicate.get("resources", []) or []:
        if isinstance(resource, dict) and isinstance(resource.get("name"), str):
            out.append(
                (resource["name"], str(resource.get("algorithm")), str(resource.get("digest")))
            )
    return tuple(sorted(out))
