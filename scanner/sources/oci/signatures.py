"""Finding an image's cosign signatures and attestations where registries keep them.

Three places, all read-only, in this order:
1. the OCI 1.1 referrers API (`GET /v2/REPO/referrers/DIGEST`), where the registry has one;
2. otherwise the referrers tag schema the OCI distribution spec gives as its fallback: an
   index tagged `sha256-HEX` listing the referrers;
3. cosign's own tag convention, `sha256-HEX.sig` (signatures) and `sha256-HEX.att`
   (attestations), which cosign uses on registries without referrers - Distribution 2.8
   among them.
Each referrer or tagged manifest's layers are the signatures: simple-signing payloads with
their annotations, DSSE envelopes, or Sigstore bundles. Payloads are read whole but bounded
(1 MiB each, at most `MAX_SIGNATURES`).
"""

from __future__ import annotations

from typing import Any

from scanner.artefacts.signatures.cosign import (
    BUNDLE_TYPES,
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    DSSE_ENVELOPE,
    REKOR_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    ImageSignature,
)
from scanner.sources.oci.client import RegistryError
from scanner.sources.oci.manifests import (
    INDEX_TYPES,
    ManifestError,
    descriptor,
    image_manifest,
    media_type_of,
    parse_json,
)
from scanner.sources.oci.stores import ImageStore, RegistryStore, StoreError

MAX_PAYLOAD = 1024 * 1024
MAX_SIGNATURES = 20
SIGNATURE_TAG_SUFFIXES = (".sig", ".att", ".sbom")


def is_signature_tag(tag: str) -> bool:
    """Tags that hold an image's signatures, attestations or referrers, not an image."""
    head, _, rest = tag.partition("-")
    if head not in ("sha256", "sha512"):
        return False
    hexa = rest.split(".", 1)[0]
    return len(hexa) in (64, 128) and all(c in "0123456789abcdef" for c in hexa)


def find(store: ImageStore, digest: str) -> tuple[list[ImageSignature], list[str]]:
    """The signatures found for `digest`, and problems (a listing that could not be read)."""
    found: list[ImageSignature] = []
    problems: list[str] = []
    tag = digest.replace(":", "-")
    referrers: list[dict[str, Any]] | None = None
    if isinstance(store, RegistryStore):
        try:
            referrers = store.client.referrers(store.repository, digest)
        except RegistryError as exc:
            problems.append(f"{store.label}: referrers of {digest}: {exc}")
    if referrers is None:
        referrers = _tagged_index(store, tag, problems)
    for entry in referrers or []:
        _from_manifest(
            store, str(entry.get("digest")), f"referrer {entry.get('digest')}", found, problems
        )
    for suffix in (".sig", ".att"):
        _from_manifest(store, tag + suffix, f"tag {tag}{suffix}", found, problems, optional=True)
    return found[:MAX_SIGNATURES], problems


def _tagged_index(store: ImageStore, tag: str, problems: list[str]) -> list[dict[str, Any]]:
    try:
        body, header, _ = store.fetch(tag)
    except (RegistryError, StoreError, ManifestError) as exc:
        if _missing(exc):
            return []
        problems.append(f"{store.label}: {tag}: {exc}")
        return []
    try:
        doc = parse_json(body, tag)
    except ManifestError as exc:
        problems.append(f"{store.label}: {exc}")
        return []
    if media_type_of(doc, header) not in INDEX_TYPES:
        return []
    return [m for m in doc.get("manifests") or [] if isinstance(m, dict)]


def _from_manifest(
    store: ImageStore,
    reference: str,
    where: str,
    found: list[ImageSignature],
    problems: list[str],
    optional: bool = False,
) -> None:
    try:
        body, header, digest = store.fetch(reference)
        doc = parse_json(body, where)
        manifest = image_manifest(doc, digest, media_type_of(doc, header))
    except (RegistryError, StoreError, ManifestError) as exc:
        if not (optional and _missing(exc)):
            problems.append(f"{store.label}: {where}: {exc}")
        return
    artifact = manifest.artifact_type or manifest.config.media_type
    for layer in manifest.layers:
        if len(found) >= MAX_SIGNATURES:
            return
        kind = None
        if layer.media_type == SIMPLE_SIGNING:
            kind = "cosign"
        elif layer.media_type == DSSE_ENVELOPE:
            kind = "in-toto"
        elif layer.media_type.startswith(BUNDLE_TYPES) or artifact.startswith(BUNDLE_TYPES):
            kind = "sigstore-bundle"
        if kind is None:
            continue
        if layer.size > MAX_PAYLOAD:
            problems.append(f"{store.label}: {where}: a {layer.size}-byte payload, not read")
            continue
        try:
            payload = store.small_blob(layer.digest, MAX_PAYLOAD)
        except (RegistryError, StoreError) as exc:
            problems.append(f"{store.label}: {where}: {exc}")
            continue
        notes = layer.annotations
        found.append(
            ImageSignature(
                kind=kind,
                payload=payload,
                where=where,
                signature=notes.get(SIGNATURE_ANNOTATION),
                certificate=notes.get(CERTIFICATE_ANNOTATION),
                chain=notes.get(CHAIN_ANNOTATION),
                transparency_log=REKOR_ANNOTATION in notes,
            )
        )


def _missing(exc: Exception) -> bool:
    if isinstance(exc, RegistryError):
        return exc.missing
    return "no manifest named" in str(exc)


__all__ = ["descriptor", "find", "is_signature_tag"]
