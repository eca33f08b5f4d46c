"""One image: its layers streamed in order, its final filesystem, and its `artefact` resource.

The artefact is the image as a runtime pulls it (one platform of an index): its id and `uri`
are `REFERENCE@DIGEST`, its files the model files of the final filesystem, each with the
layer that holds it, and its `serialization` built and scanned by the shared object-store
builder from what the layers' streams kept (`capture.py`). Model files a later layer deleted
or replaced are listed apart (`removed_model_files`): they still ship in the image.

Signatures: the image's own (cosign, `signatures.py`) is the artefact's `signature`. A model
directory inside the image may carry its OpenSSF model-signing signature (`model.sig`), made
before the image was built; each is verified in place against the same trusted signers, with
the digests the layers' streams already computed (no second read), and listed in
`signature.model_signatures`. One that fails makes the image's signature fail (files changed
after the model was signed); verified ones covering every model file of a fully read image
make it verified when its own signature is not.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures import is_signature_name
from scanner.artefacts.signatures.trust import TrustSet
from scanner.inventory import Resource, Unknown
from scanner.sources.model_dirs import MARKER_FILES
from scanner.sources.objectstore import (
    Container,
    Listing,
    ObjectReadError,
    StoreContents,
    StoredObject,
    build_artefact,
)
from scanner.sources.objectstore.integrity import check_integrity
from scanner.sources.oci.capture import CapturedFile, SideFile, Spool, copy_kept, kept_range
from scanner.sources.oci.client import RegistryError
from scanner.sources.oci.filesystem import Filesystem
from scanner.sources.oci.layers import Budget, BudgetExceeded, LayerError, read_layer
from scanner.sources.oci.manifests import ImageManifest
from scanner.sources.oci.options import OciOptions
from scanner.sources.oci.stores import ImageStore, StoreError

IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImageTarget:
    """Where one image is and what to call it."""

    uri: str  # the artefact id: `oci://REGISTRY/REPO@DIGEST`, `oci-layout:/DIR@DIGEST`, ...
    name: str  # for people: `serving/bert:1.0 (linux/amd64)`
    references: tuple[str, ...]  # every tag that names it
    container: Container
    source: str
    location: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageResult:
    artefact: Resource | None  # None: read completely and no model file in it
    problems: tuple[str, ...] = ()
    model_files: int = 0
    complete: bool = True


def read_image(
    store: ImageStore,
    manifest: ImageManifest,
    target: ImageTarget,
    options: OciOptions,
    signature: Mapping[str, Any],
    progress: Progress,
    trust: TrustSet | None = None,
) -> ImageResult:
    """The image's artefact (None when it ships no model file); `trust` verifies the model
    signatures found inside it (none given: they are Unknown, never verified)."""
    problems: list[str] = []
    config, config_problem = _config(store, manifest)
    if config_problem:
        problems.append(f"{target.name}: {config_problem}")
    with tempfile.TemporaryDirectory(prefix="modelward-image-") as tmp:
        spool = Spool(Path(tmp), options.integrity_max_bytes)
        budget = Budget(options.max_image_bytes, options.max_entries)
        fs = Filesystem()
        unread: list[dict[str, Any]] = []
        refused = 0
        for index, layer in enumerate(manifest.layers):
            if unread and unread[-1].get("budget"):
                unread.append({"digest": layer.digest, "reason": "the byte budget was spent"})
                continue
            if layer.size > budget.bytes:
                unread.append(
                    {
                        "digest": layer.digest,
                        "reason": f"{layer.size} bytes, over what is left of the "
                        f"{options.max_image_bytes}-byte budget (max_image_bytes)",
                        "budget": True,
                    }
                )
                continue
            if not layer.is_tar_layer and layer.title is None:
                continue  # a blob with no file name (an artifact's data): not a filesystem
            try:
                raw = store.open_blob(layer)
                try:
                    read = read_layer(
                        raw, layer, index, budget, spool, options.sniff_bytes, options.exclude
                    )
                finally:
                    raw.close()
            except BudgetExceeded as exc:
                unread.append({"digest": layer.digest, "reason": str(exc), "budget": True})
                continue
            except (LayerError, StoreError, RegistryError, ObjectReadError) as exc:
                unread.append({"digest": layer.digest, "reason": str(exc)})
                problems.append(f"{target.name}: {exc}")
                continue
            refused += len(read.refused)
            fs.apply(read)
            progress(
                f"{target.name}: layer {index + 1}/{len(manifest.layers)} "
                f"({read.entries} entries, {len(read.files)} model file(s))"
            )
        complete = not unread
        files = [f for f in fs.live.values() if _is_model_file(f)]
        shipped = len(files) + sum(1 for r in fs.removed if _is_model_file(r.file))
        if not shipped and complete:
            return ImageResult(None, tuple(problems), 0, True)
        artefact = _artefact(files, fs, target, options, manifest, config, unread, refused)
        inside = _model_signatures(fs, target.container, options, trust or TrustSet())
        artefact = _with_signature(artefact, signature, inside, complete=not unread)
    return ImageResult(artefact, tuple(problems), shipped, complete)


def _is_model_file(found: CapturedFile) -> bool:
    name = posixpath.basename(found.path)
    return found.read.format is not None or name in MARKER_FILES or is_signature_name(name)


def _artefact(
    files: list[CapturedFile],
    fs: Filesystem,
    target: ImageTarget,
    options: OciOptions,
    manifest: ImageManifest,
    config: Mapping[str, Any],
    unread: list[dict[str, Any]],
    refused: int,
) -> Resource:
    by_path = {f.path: f for f in files}
    objects = tuple(StoredObject(f.path, f.size) for f in sorted(files, key=lambda f: f.path))
    contents = StoreContents(Listing(objects, truncated=bool(unread)))
    for obj in objects:
        contents.record(obj, by_path[obj.key].read)
    resource = build_artefact(
        contents,
        target.container,
        target.source,
        _KeptFiles(by_path),
        options.integrity_max_bytes,
        "",
        list(objects),
        uri=target.uri,
    )
    attributes = dict(resource.attributes)
    attributes["files"] = [
        {**f, "layer": by_path[f["path"]].layer} for f in attributes.get("files") or []
    ]
    attributes["location"] = {
        **attributes["location"],
        **target.location,
    }
    attributes["location"].pop("prefix", None)
    attributes["references"] = list(target.references)
    attributes["image"] = _image_facts(manifest, config)
    attributes["removed_model_files"] = [
        {
            "path": r.file.path,
            "size": r.file.size,
            "sha256": r.file.read.sha256,
            "format": r.file.read.format,
            "layer": r.file.layer,
            "removed_by": r.by_layer,
            "how": r.how,
        }
        for r in fs.removed
        if _is_model_file(r.file)
    ]
    attributes["layers_unread"] = [{"digest": u["digest"], "reason": u["reason"]} for u in unread]
    if unread:
        _incomplete(attributes, unread)
    labels = config.get("labels")
    if isinstance(labels, Mapping):
        attributes["labels"] = dict(labels)
    raw = dict(resource.raw or {})
    raw["manifest"] = manifest.digest
    raw["refused_entries"] = refused
    return replace(resource, name=target.name, attributes=attributes, raw=raw)


def _incomplete(attributes: dict[str, Any], unread: list[dict[str, Any]]) -> None:
    """Layers that were not read may hold model files, or delete the ones found: what the
    image holds is not known completely, so nothing may pass on what was seen."""
    first = unread[0]
    reason = f"{len(unread)} of the image's layers not read ({first['digest']}: {first['reason']})"
    ser = dict(attributes.get("serialization") or {})
    if ser.get("pickle_based") is False:
        ser["pickle_based"] = Unknown(reason)
    unsafe = ser.get("unsafe")
    if not (isinstance(unsafe, list) and unsafe):
        ser["unsafe"] = Unknown(reason)
    attributes["serialization"] = ser
    if not attributes.get("removed_model_files"):
        attributes["removed_model_files"] = Unknown(reason)


def _model_signatures(
    fs: Filesystem, container: Container, options: OciOptions, trust: TrustSet
) -> list[dict[str, Any]]:
    """Each model directory's own signature inside the image, checked as an object store's
    (`check_integrity`) over every regular file below that directory in the final filesystem:
    the signature file is read from what the layer's stream kept, and the signed files'
    digests are those computed while it streamed (a file not hashed then makes the check
    Unknown, with the reason, never a pass)."""
    models = [f for f in fs.live.values() if _is_model_file(f)]
    directories = sorted(
        {posixpath.dirname(f.path) for f in models if is_signature_name(posixpath.basename(f.path))}
    )
    if not directories:
        return []
    reader = _KeptFiles(fs.live, fs.side)
    found = []
    for directory in directories:
        cut = len(directory) + 1 if directory else 0

        def below(path: str, directory: str = directory) -> bool:
            return not directory or path.startswith(directory + "/")

        listed: list[tuple[str, int, Any, Any]] = [
            (f.path, f.size, f.read.sha256, f.read.format)
            for f in fs.live.values()
            if below(f.path)
        ]
        listed += [(f.path, f.size, f.sha256, None) for f in fs.side.values() if below(f.path)]
        listed.sort(key=lambda item: item[0])
        attributes: dict[str, Any] = {
            "location": {"prefix": directory},
            "files": [
                {"path": path[cut:], "size": size, "format": fmt}
                | ({"sha256": digest} if isinstance(digest, str) else {})
                for path, size, digest, fmt in listed
            ],
        }
        members = [StoredObject(path, size) for path, size, _, _ in listed]
        check_integrity(attributes, members, reader, container, options.integrity_max_bytes, trust)
        checked = attributes["signature"]
        found.append(
            {
                "directory": directory or "/",
                **{k: v for k, v in checked.items() if k not in ("digests_from", "recorded_in")},
                "file": posixpath.join(directory, str(checked.get("file") or "")),
            }
        )
    return found


def _with_signature(
    resource: Resource,
    signature: Mapping[str, Any],
    inside: list[dict[str, Any]],
    *,
    complete: bool,
) -> Resource:
    """The image's signature, with the model signatures found inside it (see the module's
    docstring for how they count)."""
    attributes = dict(resource.attributes)
    sig = dict(signature)
    if inside:
        sig["model_signatures"] = inside
        failed = [m for m in inside if m.get("present") and m.get("verified") is False]
        good = [m for m in inside if m.get("verified") is True]
        model_files = [
            str(f["path"])
            for f in attributes.get("files") or ()
            if isinstance(f, Mapping)
            and f.get("format") is not None
            and not is_signature_name(posixpath.basename(str(f["path"])))
        ]
        covered = bool(model_files) and all(
            any(_under(path, str(m["directory"])) for m in good) for path in model_files
        )
        if failed:
            first = failed[0]
            sig["verified"] = False
            sig["error"] = (
                f"the model signature {first['file']} inside the image does not verify: "
                f"{first.get('error') or 'not verified'}"
            )
        elif sig.get("verified") is not True and covered and complete:
            first = good[0]
            sig.update(
                present=True,
                kind=first.get("kind") or "model-signing",
                verified=True,
                identity=first.get("identity"),
                error=None,
                file=first["file"],
                image_signature={k: signature.get(k) for k in ("kind", "verified", "error")},
            )
    attributes["signature"] = sig
    return replace(resource, attributes=attributes)


def _under(path: str, directory: str) -> bool:
    return directory == "/" or path.startswith(directory + "/")


def _config(store: ImageStore, manifest: ImageManifest) -> tuple[dict[str, Any], str | None]:
    if manifest.config.media_type not in IMAGE_CONFIG_TYPES:
        return {"artifact_type": manifest.artifact_type or manifest.config.media_type}, None
    try:
        body = store.small_blob(manifest.config.digest)
        doc = json.loads(body)
    except (StoreError, RegistryError, ValueError) as exc:
        return {}, f"image config {manifest.config.digest} cannot be read: {exc}"
    if not isinstance(doc, dict):
        return {}, f"image config {manifest.config.digest} is not a JSON object"
    inner = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return {
        "os": doc.get("os"),
        "architecture": doc.get("architecture"),
        "created": doc.get("created"),
        "labels": {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        "history": len(doc.get("history") or []) if isinstance(doc.get("history"), list) else 0,
    }, None


def _image_facts(manifest: ImageManifest, config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "manifest_digest": manifest.digest,
        "media_type": manifest.media_type,
        "config_digest": manifest.config.digest,
        "layer_count": len(manifest.layers),
        "layers": [layer.digest for layer in manifest.layers],
        "size": sum(layer.size for layer in manifest.layers),
    }
    if manifest.platform:
        out["platform"] = manifest.platform
    if manifest.index_digest:
        out["index_digest"] = manifest.index_digest
    for key in ("os", "architecture", "created", "artifact_type"):
        if config.get(key):
            out[key] = config[key]
    return out


class _KeptFiles:
    """The object-store reader protocol over an image's kept files (for the builder's
    serialization scan and the model signatures' checks; sniffing already happened while the
    layers streamed). `side`: the other regular files, known by their digests only."""

    def __init__(
        self, files: Mapping[str, CapturedFile], side: Mapping[str, SideFile] | None = None
    ) -> None:
        self._files = files
        self._side = side or {}

    def list_objects(self, cap: int) -> Listing:
        return Listing(tuple(StoredObject(p, f.size) for p, f in self._files.items()))

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        found = self._kept(obj)
        return kept_range(found.kept, start, length, found.layer)  # type: ignore[arg-type]

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        other = self._side.get(obj.key)
        if other is not None:
            return other.sha256
        found = self._files[obj.key]
        return found.kept.sha256 if found.kept is not None else None

    def read_all(self, obj: StoredObject, into: Any) -> None:
        found = self._kept(obj)
        copy_kept(found.kept, into, found.layer)  # type: ignore[arg-type]

    def _kept(self, obj: StoredObject) -> CapturedFile:
        other = self._side.get(obj.key)
        if other is not None:
            raise ObjectReadError(
                f"{obj.key} ({other.size} bytes, not a model file) was not hashed: a layer is "
                "read once, and only files that fit in sniff_bytes are hashed beside the "
                "model files (raise sniff_bytes)"
            )
        found = self._files[obj.key]
        if found.kept is None:
            raise ObjectReadError(f"{obj.key}: nothing of it was kept")
        return found
