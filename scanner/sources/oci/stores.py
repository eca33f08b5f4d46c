"""Where an image's manifests and blobs come from: a registry, an OCI layout, a docker archive.

All three answer the same three questions (`ImageStore`): the manifest a reference names, a
small blob whole, and a layer blob as a stream. The OCI layout and the archive are read in
place (the archive with random access inside the tar file, never unpacked to disk).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from scanner.sources.oci.client import RegistryClient, check_digest
from scanner.sources.oci.manifests import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
    ManifestError,
    parse_json,
)
from scanner.sources.oci.reference import DIGEST

MAX_JSON = 16 * 1024 * 1024
REF_NAME = "org.opencontainers.image.ref.name"


class StoreError(Exception):
    """A manifest or blob the store cannot give; the message says which and why."""


class ImageStore(Protocol):
    label: str  # for messages: the registry repository, the layout or archive path

    def fetch(self, reference: str) -> tuple[bytes, str, str]:
        """(manifest body, media type, digest) of a tag or digest."""
        ...

    def small_blob(self, digest: str, limit: int = MAX_JSON) -> bytes: ...

    def open_blob(self, layer: Descriptor) -> BinaryIO: ...


class RegistryStore:
    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self.label = f"{client.registry}/{repository}"

    def fetch(self, reference: str) -> tuple[bytes, str, str]:
        got = self.client.manifest(self.repository, reference)
        return got.body, got.media_type, got.digest

    def small_blob(self, digest: str, limit: int = MAX_JSON) -> bytes:
        return self.client.blob(self.repository, digest, limit)

    def open_blob(self, layer: Descriptor) -> BinaryIO:
        return self.client.open_blob(self.repository, layer.digest)  # type: ignore[no-any-return]


class LayoutStore:
    """An OCI image layout directory (`oci-layout`, `index.json`, `blobs/ALG/HEX`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        marker = root / "oci-layout"
        if not marker.is_file():
            raise StoreError(f"{root} is not an OCI image layout (no oci-layout file)")
        try:
            version = json.loads(marker.read_text(encoding="utf-8")).get("imageLayoutVersion")
        except (OSError, ValueError, AttributeError) as exc:
            raise StoreError(f"{marker} cannot be read: {exc}") from None
        if version != "1.0.0":
            raise StoreError(f"{marker}: unsupported imageLayoutVersion {version!r}")
        self.index = _json_file(root / "index.json")

    def tags(self) -> list[tuple[str, str]]:
        """(name, digest) of every manifest the layout's index names (name: its ref.name
        annotation, else the digest)."""
        out = []
        for entry in self.index.get("manifests") or []:
            if isinstance(entry, Mapping) and isinstance(entry.get("digest"), str):
                annotations = entry.get("annotations") or {}
                name = annotations.get(REF_NAME) if isinstance(annotations, Mapping) else None
                out.append((str(name or entry["digest"]), entry["digest"]))
        return out

    def fetch(self, reference: str) -> tuple[bytes, str, str]:
        digest = reference if DIGEST.match(reference) else None
        media_type = ""
        for entry in self.index.get("manifests") or []:
            if not isinstance(entry, Mapping):
                continue
            annotations = entry.get("annotations") or {}
            if entry.get("digest") == reference or (
                isinstance(annotations, Mapping) and annotations.get(REF_NAME) == reference
            ):
                digest = str(entry.get("digest"))
                media_type = str(entry.get("mediaType") or "")
                break
        if digest is None:
            raise StoreError(f"{self.root}: no manifest named {reference!r} in index.json")
        return self.small_blob(digest, MAX_JSON), media_type, digest

    def _blob_path(self, digest: str) -> Path:
        if not DIGEST.match(digest):
            raise StoreError(f"{digest!r} is not a digest")
        algorithm, _, hexa = digest.partition(":")
        return self.root / "blobs" / algorithm / hexa

    def small_blob(self, digest: str, limit: int = MAX_JSON) -> bytes:
        path = self._blob_path(digest)
        try:
            with path.open("rb") as f:
                body = f.read(limit + 1)
        except OSError as exc:
            raise StoreError(f"{self.root}: blob {digest} cannot be read: {exc.strerror}") from None
        if len(body) > limit:
            raise StoreError(f"{self.root}: blob {digest} is over {limit} bytes")
        try:
            check_digest(body, digest)
        except Exception as exc:
            raise StoreError(f"{self.root}: blob {digest}: {exc}") from None
        return body

    def open_blob(self, layer: Descriptor) -> BinaryIO:
        try:
            return self._blob_path(layer.digest).open("rb")
        except OSError as exc:
            raise StoreError(
                f"{self.root}: layer {layer.digest} cannot be read: {exc.strerror}"
            ) from None


@dataclass(frozen=True)
class ArchivedImage:
    tags: tuple[str, ...]
    manifest: ImageManifest


class ArchiveStore:
    """A `docker save` tar: `manifest.json` lists each image's config and layer files.

    Docker's format predates OCI manifests, so an image is described by its config: the
    image id is the config's digest, and each layer's digest is its uncompressed content's
    (the config's `rootfs.diff_ids`), which is what the layer file holds.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        try:
            # Kept open for the source's lifetime: layers are read from it in place.
            self.tar = tarfile.open(path, mode="r:")  # noqa: SIM115
        except (OSError, tarfile.TarError) as exc:
            raise StoreError(f"{path} is not a tar archive: {exc}") from None
        self.members = {m.name.lstrip("./"): m for m in self.tar.getmembers() if m.isreg()}
        self._configs: dict[str, bytes] = {}
        self._layers: dict[str, str] = {}  # layer digest -> member name
        doc = self._json("manifest.json")
        if not isinstance(doc, list):
            raise StoreError(f"{path}: manifest.json is not a list of images")
        self.images = [self._image(i, entry) for i, entry in enumerate(doc)]

    def _json(self, name: str) -> Any:
        member = self.members.get(name)
        if member is None:
            raise StoreError(f"{self.path}: no {name} in the archive (not a docker save tar)")
        if member.size > MAX_JSON:
            raise StoreError(f"{self.path}: {name} is over {MAX_JSON} bytes")
        f = self.tar.extractfile(member)
        assert f is not None
        try:
            return json.loads(f.read())
        except ValueError as exc:
            raise StoreError(f"{self.path}: {name} is not JSON ({exc})") from None

    def _image(self, i: int, entry: Any) -> ArchivedImage:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("Config"), str):
            raise StoreError(f"{self.path}: manifest.json entry {i} names no Config")
        config_name = entry["Config"]
        member = self.members.get(config_name)
        if member is None:
            raise StoreError(f"{self.path}: config {config_name} is not in the archive")
        f = self.tar.extractfile(member)
        assert f is not None
        body = f.read(MAX_JSON + 1)
        config_digest = "sha256:" + hashlib.sha256(body).hexdigest()
        config = parse_json(body, f"{self.path}: {config_name}")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        names = entry.get("Layers") or []
        if not isinstance(names, list) or len(names) != len(diff_ids):
            raise StoreError(
                f"{self.path}: image {i} lists {len(names)} layers and its config "
                f"{len(diff_ids)} diff_ids"
            )
        layers = []
        for name, diff_id in zip(names, diff_ids, strict=True):
            layer_member = self.members.get(str(name))
            if layer_member is None:
                raise StoreError(f"{self.path}: layer {name} is not in the archive")
            layers.append(
                Descriptor(
                    "application/vnd.oci.image.layer.v1.tar", str(diff_id), layer_member.size
                )
            )
            self._layers[str(diff_id)] = str(name)
        manifest = ImageManifest(
            digest=config_digest,
            media_type=DOCKER_MANIFEST,
            config=Descriptor(
                "application/vnd.docker.container.image.v1+json", config_digest, len(body)
            ),
            layers=tuple(layers),
        )
        self._configs[config_digest] = body
        return ArchivedImage(tuple(str(t) for t in entry.get("RepoTags") or []), manifest)

    def fetch(self, reference: str) -> tuple[bytes, str, str]:
        raise ManifestError("a docker archive has no manifests")  # images come from `images`

    def small_blob(self, digest: str, limit: int = MAX_JSON) -> bytes:
        body = self._configs.get(digest)
        if body is None:
            raise StoreError(f"{self.path}: no blob {digest}")
        return bytes(body)

    def open_blob(self, layer: Descriptor) -> BinaryIO:
        name = self._layers.get(layer.digest)
        if name is None:
            raise StoreError(f"{self.path}: no layer {layer.digest}")
        f = self.tar.extractfile(self.members[name])
        assert f is not None
        return f  # type: ignore[return-value]


def _json_file(path: Path) -> dict[str, Any]:
    try:
        if os.path.getsize(path) > MAX_JSON:
            raise StoreError(f"{path} is over {MAX_JSON} bytes")
        return parse_json(path.read_bytes(), str(path))
    except OSError as exc:
        raise StoreError(f"{path} cannot be read: {exc.strerror}") from None
    except ManifestError as exc:
        raise StoreError(str(exc)) from None


__all__ = ["OCI_INDEX", "OCI_MANIFEST"]
