"""Verifying a pack's Sigstore bundle: which statement it signs, and who signed it.

Three kinds of trust, one per way a pack is signed (`signers.py`):
- a public key: the DSSE signature checked with securesystemslib (EC or Ed25519), after the
  bundle's key hint is compared with the key, so a wrong key says so in words;
- a certificate chain: the signing certificate validated against the given CA bundle only
  (never the system's web-PKI roots) by model-signing's certificate verifier, at the
  certificate's issuance time as model-signing does, then the DSSE signature checked with the
  certificate's key; `identity` optionally pins the certificate's SAN or CN;
- a Sigstore identity: sigstore-python's verifier (Fulcio chain, embedded SCT, Rekor inclusion
  proof and signed checkpoint, identity and issuer), against a pinned trusted root or, without
  one, the public-good root shipped with the installed sigstore package. Never the network.

This is the DSSE-in-a-bundle check evidence packs need; model attestations are verified by
`scanner.artefacts.signatures` with the same libraries.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.certificates import holder_names
from scanner.evidence.signers import describe_certificate, describe_key, key_hint

MAX_BUNDLE_BYTES = 16 * 1024 * 1024


class SignatureError(ValueError):
    """The bundle does not verify with the given trust; the message says why in one line."""


@dataclass(frozen=True)
class KeyTrust:
    path: Path


@dataclass(frozen=True)
class ChainTrust:
    path: Path
    identity: str | None = None


@dataclass(frozen=True)
class IdentityTrust:
    identity: str
    issuer: str
    trust_root: Path | None = None


Trust = KeyTrust | ChainTrust | IdentityTrust


@dataclass(frozen=True)
class Verified:
    payload_type: str
    payload: bytes
    signer: str  # as the signers describe themselves: `key sha256:…`, `certificate NAME`, …


_MATERIAL_FOR = {
    KeyTrust: ("publicKey", "a public key (--key)"),
    ChainTrust: ("x509CertificateChain", "a certificate chain (--certificate-chain)"),
    IdentityTrust: ("certificate", "a Sigstore identity (--identity/--issuer)"),
}
_MATERIAL_NAMES = {
    "publicKey": "a key",
    "x509CertificateChain": "a certificate chain",
    "certificate": "Sigstore keyless",
}


def verify(bundle_bytes: bytes, trust: Trust) -> Verified:
    if len(bundle_bytes) > MAX_BUNDLE_BYTES:
        raise SignatureError(f"the signature is over {MAX_BUNDLE_BYTES} bytes")
    try:
        doc = json.loads(bundle_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"the signature is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(
        "application/vnd.dev.sigstore.bundle"
    ):
        raise SignatureError("the signature is not a Sigstore bundle")
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise SignatureError("the Sigstore bundle holds no DSSE envelope")
    material = doc.get("verificationMaterial")
    present = next(
        (k for k in _MATERIAL_NAMES if isinstance(material, dict) and k in material), None
    )
    wanted, flag = _MATERIAL_FOR[type(trust)]
    if present != wanted:
        kind = _MATERIAL_NAMES.get(present or "", "no verification material")
        raise SignatureError(f"the pack is signed with {kind}, but the trust given is {flag}")
    if isinstance(trust, KeyTrust):
        return _verify_key(doc, trust)
    if isinstance(trust, ChainTrust):
        return _verify_chain(doc, trust)
    return _verify_keyless(bundle_bytes, trust)


def _public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise SignatureError(f"--key {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SignatureError(f"--key {path}: not a PEM public key: {exc}") from None


def _check_dsse(envelope: dict[str, Any], public_key: Any) -> tuple[str, bytes]:
    """The DSSE signature checked with one key by securesystemslib; (payload type, payload)."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import Signature, SSlibKey

    try:
        parsed = Envelope.from_dict(copy.deepcopy(envelope))  # from_dict edits its argument
    except Exception as exc:  # KeyError, TypeError, binascii.Error on a malformed envelope
        raise SignatureError(f"not a DSSE envelope: {type(exc).__name__} {exc}") from None
    try:
        key = SSlibKey.from_crypto(public_key)
    except Exception as exc:
        raise SignatureError(f"unsupported key: {exc}") from None
    if not parsed.signatures:
        raise SignatureError("the DSSE envelope carries no signature")
    # DSSE keyids are unauthenticated hints (empty in Sigstore bundles), while securesystemslib
    # only tries keys whose id equals them: each signature is tried under this key's id.
    for sig in parsed.signatures.values():
        single = Envelope(
            parsed.payload, parsed.payload_type, {key.keyid: Signature(key.keyid, sig.signature)}
        )
        try:
            single.verify([key], 1)
        except Exception:  # securesystemslib's VerificationError
            continue
        return parsed.payload_type, parsed.payload
    raise SignatureError("the signature does not verify with this key: the statement was changed")


def _verify_key(doc: dict[str, Any], trust: KeyTrust) -> Verified:
    public_key = _public_key(trust.path)
    hint = doc["verificationMaterial"]["publicKey"].get("hint")
    if hint and hint != key_hint(public_key):
        raise SignatureError(
            f"signed by another key (sha256:{str(hint)[:16]}), not by {trust.path.name} "
            f"(sha256:{key_hint(public_key)[:16]})"
        )
    payload_type, payload = _check_dsse(doc["dsseEnvelope"], public_key)
    return Verified(payload_type, payload, describe_key(public_key))


def _verify_chain(doc: dict[str, Any], trust: ChainTrust) -> Verified:
    from cryptography import x509
    from model_signing._signing import sign_certificate
    from sigstore_models.bundle import v1 as bundle_pb

    try:
        bundle = bundle_pb.Bundle.from_dict(copy.deepcopy(doc))
        chain = bundle.verification_material.x509_certificate_chain
        certificates = chain.certificates if chain is not None else []
        leaf = x509.load_der_x509_certificate(certificates[0].raw_bytes)
    except Exception as exc:
        raise SignatureError(f"the certificate chain cannot be read: {exc}") from None
    try:
        verifier = sign_certificate.Verifier([trust.path])
        # model-signing's chain check (pyOpenSSL, at the certificate's issuance time, signing
        # key usage required); its signature check is ECDSA-only, so the DSSE signature is
        # checked below with the key it returns, for EC and Ed25519 alike.
        public_key = verifier._verify_certificates(bundle.verification_material)
    except Exception as exc:  # pyOpenSSL's X509StoreContextError, ValueError
        raise SignatureError(
            f"the signing certificate ({', '.join(holder_names(leaf)) or 'unnamed'}) is "
            f"not trusted by {trust.path.name}: {exc}"
        ) from None
    if trust.identity is not None and trust.identity not in holder_names(leaf):
        names = ", ".join(holder_names(leaf)) or "an unnamed certificate"
        raise SignatureError(f"signed by {names}, not by the trusted identity {trust.identity}")
    payload_type, payload = _check_dsse(doc["dsseEnvelope"], public_key)
    return Verified(payload_type, payload, describe_certificate(leaf))


def _trusted_root(path: Path | None) -> Any:
    from sigstore.models import ClientTrustConfig, TrustedRoot

    try:
        if path is None:
            # offline on purpose; sigstore logs a warning saying so on every call
            tuf_log = logging.getLogger("sigstore._internal.tuf")
            level = tuf_log.level
            tuf_log.setLevel(logging.ERROR)
            try:
                return ClientTrustConfig.production(offline=True).trusted_root
            finally:
                tuf_log.setLevel(level)
        text = path.read_text(encoding="utf-8")
        if "trustedRoot" in json.loads(text):
            return ClientTrustConfig.from_json(text).trusted_root
        return TrustedRoot.from_file(str(path))
    except Exception as exc:
        where = path or "the public-good Sigstore root shipped with sigstore"
        raise SignatureError(f"cannot read the trust root {where}: {exc}") from None


def _verify_keyless(bundle_bytes: bytes, trust: IdentityTrust) -> Verified:
    from sigstore.models import Bundle
    from sigstore.verify import Verifier, policy

    root = _trusted_root(trust.trust_root)
    try:
        bundle = Bundle.from_json(bundle_bytes)
    except Exception as exc:
        raise SignatureError(f"the Sigstore bundle cannot be read: {exc}") from None
    try:
        payload_type, payload = Verifier(trusted_root=root).verify_dsse(
            bundle, policy.Identity(identity=trust.identity, issuer=trust.issuer)
        )
    except Exception as exc:  # sigstore's VerificationError and friends
        names = ", ".join(holder_names(bundle.signing_certificate)) or "an unnamed identity"
        raise SignatureError(
            f"not signed by {trust.identity} ({trust.issuer}): {exc} (the certificate names "
            f"{names})"
        ) from None
    return Verified(payload_type, payload, f"{trust.identity} ({trust.issuer})")


def unverified_payload(bundle_bytes: bytes) -> dict[str, Any]:
    """The statement inside a bundle, NOT verified: only to say what a pack claims when its
    signature cannot be checked."""
    try:
        doc = json.loads(bundle_bytes)
        parsed = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    except (ValueError, TypeError, KeyError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
