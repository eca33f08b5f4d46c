"""Manifests, image indexes and their descriptors (OCI image spec 1.1, Docker schema 2).

An image reference names either one image manifest or an index (Docker: manifest list) of
manifests, one per platform; each platform's image is its own artefact. Index entries that are
not runnable images - BuildKit's attestation manifests (`vnd.docker.reference.type`), the
`unknown/unknown` platform - are skipped. Docker schema 1 manifests (deprecated since 2017,
signed JWS) are refused with a clear reason rather than read half-way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
TAR_LAYER_PREFIXES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
)
TITLE = "org.opencontainers.image.title"
MAX_NESTING = 2


class ManifestError(ValueError):
    """A manifest that cannot be read as one; the message says what is wrong."""


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None  # os/arch[/variant]
    artifact_type: str | None = None

    @property
    def is_tar_layer(self) -> bool:
        return self.media_type.startswith(TAR_LAYER_PREFIXES)

    @property
    def title(self) -> str | None:
        """A file layer's name (ORAS and model-packaging tools push one file per layer)."""
        value = self.annotations.get(TITLE)
        return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class ImageManifest:
    digest: str
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    platform: str | None = None  # from the index entry that named it
    index_digest: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    subject: str | None = None  # the digest this manifest refers to (a signature, an SBOM)


def parse_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ManifestError(f"{what} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ManifestError(f"{what} is not a JSON object")
    return doc


def media_type_of(doc: Mapping[str, Any], header: str | None) -> str:
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if header and header in MANIFEST_TYPES:
        return header
    if "manifests" in doc:
        return OCI_INDEX
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    return OCI_MANIFEST


def descriptor(entry: Any, what: str) -> Descriptor:
    if not isinstance(entry, Mapping):
        raise ManifestError(f"{what} is not a descriptor object")
    digest, size, mtype = entry.get("digest"), entry.get("size"), entry.get("mediaType")
    if not isinstance(digest, str) or ":" not in digest:
        raise ManifestError(f"{what} has no digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{what} ({digest}) has no valid size")
    annotations = entry.get("annotations")
    platform = entry.get("platform")
    plat = None
    if isinstance(platform, Mapping):
        parts = [str(platform.get("os", "")), str(platform.get("architecture", ""))]
        if platform.get("variant"):
            parts.append(str(platform["variant"]))
        plat = "/".join(parts)
    return Descriptor(
        media_type=str(mtype or ""),
        digest=digest,
        size=size,
        annotations={str(k): str(v) for k, v in (annotations or {}).items() if isinstance(v, str)}
        if isinstance(annotations, Mapping)
        else {},
        platform=plat,
        artifact_type=entry.get("artifactType")
        if isinstance(entry.get("artifactType"), str)
        else None,
    )


def image_manifest(
    doc: Mapping[str, Any],
    digest: str,
    media_type: str,
    platform: str | None = None,
    index_digest: str | None = None,
) -> ImageManifest:
    what = f"manifest {digest}"
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ManifestError(f"{what} has no layers list")
    subject = doc.get("subject")
    annotations = doc.get("annotations")
    return ImageManifest(
        digest=digest,
        media_type=media_type,
        config=descriptor(doc.get("config"), f"{what} config"),
        layers=tuple(descriptor(layer, f"{what} layer {i}") for i, layer in enumerate(layers)),
        platform=platform,
        index_digest=index_digest,
        annotations={str(k): str(v) for k, v in annotations.items()}
        if isinstance(annotations, Mapping)
        else {},
        artifact_type=doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None,
        subject=subject.get("digest") if isinstance(subject, Mapping) else None,
    )


def runnable(entry: Descriptor) -> bool:
    """An index entry that is an image a runtime would pull for a platform."""
    if entry.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return False
    return entry.platform not in ("unknown/unknown",)


# fetch(reference) -> (body, media type header, digest)
Fetch = Callable[[str], tuple[bytes, str, str]]


@dataclass(frozen=True)
class Resolved:
    images: tuple[ImageManifest, ...]
    digest: str  # what the reference resolved to (an index or an image)
    skipped: tuple[str, ...] = ()  # index entries not read, and why


def resolve(fetch: Fetch, reference: str, platforms: tuple[str, ...] = ()) -> Resolved:
    """The image manifests a reference names: one, or one per platform of an index."""
    body, header, digest = fetch(reference)
    doc = parse_json(body, f"manifest {reference}")
    mtype = media_type_of(doc, header)
    if mtype in DOCKER_SCHEMA1:
        raise ManifestError(
            f"{reference} is a Docker schema 1 manifest (deprecated, not supported): "
            "re-push it with a current client"
        )
    if mtype in IMAGE_TYPES or (mtype not in INDEX_TYPES and "layers" in doc):
        return Resolved((image_manifest(doc, digest, mtype),), digest)
    if mtype not in INDEX_TYPES:
        raise ManifestError(f"{reference}: unsupported manifest media type {mtype!r}")
    images: list[ImageManifest] = []
    skipped: list[str] = []
    _walk_index(fetch, doc, digest, platforms, images, skipped, 0)
    return Resolved(tuple(images), digest, tuple(skipped))


def _walk_index(
    fetch: Fetch,
    doc: Mapping[str, Any],
    digest: str,
    platforms: tuple[str, ...],
    images: list[ImageManifest],
    skipped: list[str],
    depth: int,
) -> None:
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        raise ManifestError(f"index {digest} has no manifests list")
    for i, raw in enumerate(entries):
        entry = descriptor(raw, f"index {digest} entry {i}")
        if not runnable(entry):
            continue
        if platforms and entry.platform not in platforms:
            skipped.append(f"{entry.digest} ({entry.platform}): platform not selected")
            continue
        body, header, child = fetch(entry.digest)
        if child != entry.digest:
            raise ManifestError(f"index {digest} entry {entry.digest} resolved to {child}")
        sub = parse_json(body, f"manifest {child}")
        mtype = media_type_of(sub, header or entry.media_type)
        if mtype in INDEX_TYPES:
            if depth + 1 >= MAX_NESTING:
                skipped.append(f"{child}: indexes nested more than {MAX_NESTING} deep")
                continue
            _walk_index(fetch, sub, child, platforms, images, skipped, depth + 1)
            continue
        images.append(image_manifest(sub, child, mtype, entry.platform, digest))
