"""Container image signatures in cosign's formats, verified against `integrity.trust`.

The same trusted signers as model signing (`trust.py`) decide whether an image is signed by
someone the organisation trusts:

- **cosign simple signing** (what `cosign sign` stores, by the `sha256-DIGEST.sig` tag or as an
  OCI 1.1 referrer): the signed payload is a JSON document whose
  `critical.image.docker-manifest-digest` names the image; the signature (base64, in the layer's
  `dev.cosignproject.cosign/signature` annotation) is over the payload bytes. With a public key
  (`integrity.trust.keys`): ECDSA with SHA-256, RSA PKCS#1 v1.5 with SHA-256 or Ed25519, as
  sigstore's signers make them. With a certificate (`dev.sigstore.cosign/certificate`, plus its
  `.../chain`): the certificate must chain to a configured `certificate_chains` bundle (never
  the system's roots), name the configured identity if one is set, and be valid now; its key
  verifies the payload.
- **attestations** (DSSE envelopes, `.att` tag or referrers): the signature is over DSSE's
  pre-authentication encoding, and the in-toto statement's subject must name the image.
- Keyless signatures (a short-lived Fulcio certificate, proven by a transparency-log entry) and
  Sigstore bundles are recognised and reported, but verifying them offline is not implemented
  here yet: `verified` is Unknown with that reason, never true.

A signature whose payload names another digest is not a signature of this image, whatever
key made it. Nothing here makes a network call.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scanner.artefacts.signatures.certificates import holder_names
from scanner.artefacts.signatures.trust import ChainTrust, KeyTrust, TrustSet
from scanner.errors import one_line
from scanner.inventory import Unknown

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_TYPES = (
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json",
)
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
REKOR_ANNOTATION = "dev.sigstore.cosign/bundle"
SIMPLE_SIGNING_TYPE = "cosign container image signature"
MAX_CHAIN = 5


@dataclass(frozen=True)
class ImageSignature:
    """One signature or attestation found for an image, as stored (nothing trusted yet)."""

    kind: str  # `cosign`, `in-toto` (a DSSE attestation), `sigstore-bundle`
    payload: bytes  # the signed payload, the DSSE envelope or the bundle, as stored
    where: str  # how it was found: `tag sha256-....sig`, `referrer sha256:...`
    signature: str | None = None  # base64 (simple signing)
    certificate: str | None = None  # PEM
    chain: str | None = None  # PEM
    transparency_log: bool = False  # a Rekor bundle came with it (keyless)


@dataclass(frozen=True)
class Verdict:
    verified: bool | Unknown
    identity: str | None = None
    error: str | None = None
    predicate_type: str | None = None


def verify(signature: ImageSignature, digest: str, trust: TrustSet) -> Verdict:
    """Whether a trusted signer made `signature` over the image `digest`."""
    if signature.kind == "sigstore-bundle":
        return Verdict(
            Unknown(
                f"{signature.where} is a Sigstore bundle; verifying Sigstore bundles of images "
                "is not implemented yet"
            )
        )
    if signature.kind == "in-toto":
        return _verify_envelope(signature, digest, trust)
    return _verify_simple(signature, digest, trust)


def _verify_simple(signature: ImageSignature, digest: str, trust: TrustSet) -> Verdict:
    try:
        payload = json.loads(signature.payload)
        named = payload["critical"]["image"]["docker-manifest-digest"]
        kind = payload["critical"]["type"]
    except (ValueError, KeyError, TypeError):
        return Verdict(False, error=f"{signature.where}: not a cosign simple-signing payload")
    if kind != SIMPLE_SIGNING_TYPE:
        return Verdict(False, error=f"{signature.where}: payload type {kind!r} is not a signature")
    if named != digest:
        return Verdict(False, error=f"{signature.where}: signs {named}, not this image ({digest})")
    if not signature.signature:
        return Verdict(False, error=f"{signature.where}: no signature in the layer's annotations")
    try:
        raw = base64.b64decode(signature.signature, validate=True)
    except (binascii.Error, ValueError):
        return Verdict(False, error=f"{signature.where}: the signature is not base64")
    return _check(signature, signature.payload, raw, trust)


def _verify_envelope(signature: ImageSignature, digest: str, trust: TrustSet) -> Verdict:
    try:
        envelope = json.loads(signature.payload)
        payload_type = envelope["payloadType"]
        body = base64.b64decode(envelope["payload"])
        sigs = [base64.b64decode(s["sig"]) for s in envelope["signatures"]]
        statement = json.loads(body)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return Verdict(False, error=f"{signature.where}: not a DSSE envelope")
    predicate = statement.get("predicateType") if isinstance(statement, dict) else None
    algorithm, _, hexa = digest.partition(":")
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    if not any(
        isinstance(s, dict) and (s.get("digest") or {}).get(algorithm) == hexa
        for s in subjects or []
    ):
        return Verdict(
            False,
            error=f"{signature.where}: the attestation's subject does not name {digest}",
            predicate_type=predicate,
        )
    pae = _pae(str(payload_type), body)
    last = Verdict(False, error=f"{signature.where}: the envelope holds no signature")
    for sig in sigs:
        last = _check(signature, pae, sig, trust)
        if last.verified is True:
            break
    return Verdict(last.verified, last.identity, last.error, predicate)


def _pae(payload_type: str, body: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def _check(signature: ImageSignature, message: bytes, sig: bytes, trust: TrustSet) -> Verdict:
    if signature.certificate:
        if signature.transparency_log and not trust.chains:
            return Verdict(
                Unknown(
                    f"{signature.where} is a keyless signature (Fulcio certificate and "
                    "transparency-log entry); verifying those offline is not implemented yet"
                ),
                identity=_unverified(signature.certificate),
            )
        return _with_certificate(signature, message, sig, trust.chains)
    if not trust.keys:
        return Verdict(
            Unknown(
                f"{signature.where} cannot be verified: it needs a trusted public key "
                "(integrity.trust.keys), and none is configured"
            )
        )
    errors = []
    for entry in trust.keys:
        error = _with_key(entry, message, sig)
        if error is None:
            return Verdict(True, identity=f"key {entry.path.name}")
        errors.append(error)
    return Verdict(False, error=f"{signature.where}: " + "; ".join(dict.fromkeys(errors)))


def _with_key(entry: KeyTrust, message: bytes, sig: bytes) -> str | None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(entry.path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"the trusted key {entry.path.name} cannot be read: {exc}"
    return _verify_with(key, message, sig, f"the trusted key {entry.path.name}")


def _verify_with(key: Any, message: bytes, sig: bytes, who: str) -> str | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, message)
        else:
            return f"{who} is of an unsupported kind ({type(key).__name__})"
    except InvalidSignature:
        return f"not signed by {who}"
    return None


def _with_certificate(
    signature: ImageSignature, message: bytes, sig: bytes, chains: Sequence[ChainTrust]
) -> Verdict:
    from cryptography import x509

    claimed = _unverified(signature.certificate or "")
    if not chains:
        return Verdict(
            Unknown(
                f"{signature.where} is signed with a certificate; verifying it needs a trusted "
                "certificate chain (integrity.trust.certificate_chains), and none is configured"
            ),
            identity=claimed,
        )
    try:
        leaf = x509.load_pem_x509_certificate((signature.certificate or "").encode())
        given = x509.load_pem_x509_certificates(signature.chain.encode()) if signature.chain else []
    except ValueError as exc:
        return Verdict(False, error=f"{signature.where}: unreadable certificate: {exc}")
    errors = []
    for entry in chains:
        error = _chain_error(leaf, given, entry)
        if error is None:
            error = _verify_with(leaf.public_key(), message, sig, "the certificate's key")
        if error is None:
            return Verdict(
                True, identity=holder_names(leaf)[0] if holder_names(leaf) else entry.path.name
            )
        errors.append(error)
    return Verdict(
        False, identity=claimed, error=f"{signature.where}: " + "; ".join(dict.fromkeys(errors))
    )


def _chain_error(leaf: Any, given: list[Any], entry: ChainTrust) -> str | None:
    from cryptography import x509

    try:
        trusted = x509.load_pem_x509_certificates(entry.path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"the trusted chain {entry.path.name} cannot be read: {exc}"
    now = datetime.datetime.now(datetime.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        return "the signing certificate is not valid now"
    if entry.identity is not None and entry.identity not in holder_names(leaf):
        return (
            f"signed by {', '.join(holder_names(leaf)) or 'an unnamed certificate'}, "
            f"not by the trusted identity {entry.identity}"
        )
    roots = {c.fingerprint(_sha256()) for c in trusted}
    pool = trusted + given
    current = leaf
    for _ in range(MAX_CHAIN):
        if current.fingerprint(_sha256()) in roots:
            return None
        issuer = next((c for c in pool if _issued(current, c)), None)
        if issuer is None:
            return f"the certificate does not chain to {entry.path.name}"
        current = issuer
    return f"the certificate chain is longer than {MAX_CHAIN}"


def _issued(cert: Any, issuer: Any) -> bool:
    if cert.issuer != issuer.subject or cert is issuer:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # wrong key, wrong algorithm, malformed: not the issuer
        return False
    return True


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _unverified(pem: str) -> str | None:
    from cryptography import x509

    try:
        names = holder_names(x509.load_pem_x509_certificate(pem.encode()))
    except ValueError:
        return None
    return f"unverified: {names[0]}" if names else None


def summarise(
    found: Sequence[ImageSignature], digest: str, trust: TrustSet
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The image's `signature` attribute and its `attestations` list."""
    signatures = [s for s in found if s.kind != "in-toto"]
    attestations = []
    for s in found:
        if s.kind == "in-toto":
            v = verify(s, digest, trust)
            attestations.append(
                {
                    "predicate_type": v.predicate_type,
                    "verified": v.verified,
                    "identity": v.identity,
                    "error": _short(v.error),
                    "found": s.where,
                }
            )
    if not signatures:
        return (
            {
                "present": False,
                "kind": None,
                "verified": False,
                "identity": None,
                "error": "no cosign signature found (referrers, sha256-DIGEST.sig tag)",
            },
            attestations,
        )
    verdicts = [(s, verify(s, digest, trust)) for s in signatures]
    good = next(((s, v) for s, v in verdicts if v.verified is True), None)
    if good is not None:
        s, v = good
        return (
            {
                "present": True,
                "kind": s.kind,
                "verified": True,
                "identity": v.identity,
                "error": None,
                "file": s.where,
                "count": len(signatures),
            },
            attestations,
        )
    unknown = next((v for _, v in verdicts if isinstance(v.verified, Unknown)), None)
    first_s, first_v = verdicts[0]
    errors = "; ".join(dict.fromkeys(v.error for _, v in verdicts if v.error))
    return (
        {
            "present": True,
            "kind": first_s.kind,
            "verified": unknown.verified if unknown is not None else False,
            "identity": first_v.identity,
            "error": _short(errors) or None,
            "file": first_s.where,
            "count": len(signatures),
        },
        attestations,
    )


def _short(text: str | None, limit: int = 600) -> str | None:
    if text is None:
        return None
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
