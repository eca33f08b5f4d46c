"""Reading signature files without trusting them: what kind, what material, who they claim.

Nothing here verifies anything; `scanner.artefacts.signatures.library` does, with model-signing.
The parsed statement is used for the signer's hashing settings (the signature covers them, so a
lie fails verification) and, once verified, for the per-file manifest.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.certificates import holder_names

MAX_SIGNATURE_BYTES = 16 * 1024 * 1024
_MODEL_SIGNING_PREDICATES = (
    "https://model_signing/signature/v1.0",
    "https://model_signing/Digests/v0.1",
)


def load_bundle(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise ValueError(f"over {MAX_SIGNATURE_BYTES} bytes")
    text = path.read_text(encoding="utf-8")
    if path.name.lower().endswith(".jsonl"):
        text = next((line for line in text.splitlines() if line.strip()), "")
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def classify(doc: dict[str, Any]) -> tuple[str, str | None]:
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
        payload = statement(envelope)
        if payload.get("predicateType") in _MODEL_SIGNING_PREDICATES:
            return "model-signing", material_key
        return "in-toto", material_key
    if "messageSignature" in doc:
        return "sigstore-bundle", material_key
    return "in-toto", None  # a bare DSSE envelope or another attestation format


def statement(envelope: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(envelope.get("payload", ""), validate=False))
    except (ValueError, TypeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def certificate_names(bundle: dict[str, Any]) -> list[str]:
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
    return holder_names(cert)


def signer_hint(bundle: dict[str, Any], material: str | None) -> str | None:
    """Who the signature claims to be from, unverified (a key hint or certificate names)."""
    if material in ("x509CertificateChain", "certificate"):
        names = certificate_names(bundle)
        return f"unverified: {names[0]}" if names else None
    hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
    return f"unverified: key sha256:{str(hint)[:16]}" if hint else None


def signed_manifest(bundle: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """Per-file digests of a verified model-signing statement (authentic once verified)."""
    predicate = statement(bundle["dsseEnvelope"]).get("predicate", {})
    out = []
    for resource in predicate.get("resources", []) or []:
        if isinstance(resource, dict) and isinstance(resource.get("name"), str):
            out.append(
                (resource["name"], str(resource.get("algorithm")), str(resource.get("digest")))
            )
    return tuple(sorted(out))
