"""From a store's listing to `artefact` resources: grouping, sniffing, digests, the summary.

Reading every object of a data lake to find models would cost a read per object, so the
listing is narrowed in two steps:
1. names first: a directory is a candidate model directory when it holds an object named like
   a model file (`.safetensors`, `.pt`, `saved_model.pb`, ...) or a marker (`MLmodel`,
   `model.sig`) - the same grouping as the `path:` source (`scanner.sources.model_dirs`);
2. content then: every object inside a candidate directory is sniffed through ranged reads of
   its first bytes (bounded by `sniff_bytes`), so a pickle renamed `config.bin` beside the
   weights is still caught, and a `.bin` that holds no model drops out. Objects outside
   candidate directories are never read (documented limit: a model with no model-like name
   anywhere in its directory is not found).
A SHA-256 the store keeps for an object is read with it (`recorded_sha256`). Step 2 is one
call of `read_object` per object, which never raises, so a source runs them on its own pool.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from scanner.artefacts.formats import Sniffed, sniff_stream
from scanner.artefacts.integrity import SniffedFile, serialization_summary
from scanner.artefacts.signatures import SIBLING_SUFFIXES
from scanner.artefacts.signatures.trust import TrustPolicy, TrustSet
from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.model_dirs import MARKER_FILES, group_model_dirs, named_like_model
from scanner.sources.objectstore.integrity import RecordedSignature, check_integrity
from scanner.sources.objectstore.ranged import RangedObject
from scanner.sources.objectstore.reader import (
    Container,
    Listing,
    ObjectReadError,
    ObjectStoreReader,
    StoredObject,
)
from scanner.sources.pool import shared_map


@dataclass(frozen=True)
class ObjectRead:
    """What reading one object found."""

    sniffed: Sniffed | None = None  # None: not sniffed (a marker) or the read failed
    error: str | None = None  # why its bytes could not be read
    sha256: str | Unknown | None = None  # the store's own full-object digest

    @property
    def format(self) -> str | Unknown | None:
        if self.error is not None:
            return Unknown(self.error)
        if self.sniffed is None:
            return None
        if self.sniffed.format is None and self.sniffed.problem is not None:
            return Unknown(self.sniffed.problem)
        return self.sniffed.format

    @property
    def pickle_based(self) -> bool:
        return self.sniffed is not None and bool(self.sniffed.pickle_based)


class StoreContents:
    """One container's listing, and what reading its candidate objects found.

    Filled in two steps: `to_read()` names the objects to read, each read is `record`ed (from
    any thread), then `model_dirs()` groups by content. Only then are artefacts built.
    """

    def __init__(self, listing: Listing) -> None:
        self.objects = listing.objects
        self.truncated = listing.truncated
        self._reads: dict[str, ObjectRead] = {}
        self._lock = threading.Lock()
        self._dirs: dict[str, list[StoredObject]] | None = None

    def to_read(self) -> list[StoredObject]:
        """Every object of a directory that is a candidate model directory by names alone."""
        if isinstance(self.objects, Unknown):
            return []
        by_name = group_model_dirs(self.objects, _key, lambda o: named_like_model(o.name))
        return [obj for members in by_name.values() for obj in members]

    def record(self, obj: StoredObject, read: ObjectRead) -> None:
        with self._lock:
            self._reads[obj.key] = read
            self._dirs = None

    def read(self, obj: StoredObject) -> ObjectRead:
        return self._reads.get(obj.key, ObjectRead())

    def model_dirs(self) -> dict[str, list[StoredObject]]:
        """The model directories once the candidates are read (by content where read)."""
        if isinstance(self.objects, Unknown):
            return {}
        with self._lock:
            if self._dirs is None:
                self._dirs = group_model_dirs(self.objects, _key, self._candidate)
            return self._dirs

    def holds_models(self, cap: int, things: str, option: str) -> bool | Unknown:
        """Whether the container holds a model directory. A listing cut at `cap` that shows
        none is Unknown, not "no": the models may sit past the cap (`things` and `option` are
        the provider's words for objects and for the option that raises the cap)."""
        if isinstance(self.objects, Unknown):
            return self.objects
        if self.model_dirs():
            return True
        if self.truncated:
            return Unknown(
                f"no model files among the first {cap} {things}; listing capped (raise {option})"
            )
        return False

    def _candidate(self, obj: StoredObject) -> bool:
        read = self._reads.get(obj.key)
        if read is not None and read.sniffed is not None:
            return bool(read.sniffed.is_model)
        return named_like_model(obj.name)


def read_object(reader: ObjectStoreReader, obj: StoredObject, sniff_bytes: int) -> ObjectRead:
    """Sniff one object within `sniff_bytes` and read the digest the store keeps for it.
    Never raises: a failed read is the object's `error`."""
    sniffed: Sniffed | None = None
    error: str | None = None
    if obj.size == 0:
        sniffed = sniff_stream(io.BytesIO(), 0, obj.name)  # judged by its name
    elif obj.name not in MARKER_FILES:  # markers are YAML/JSON by definition
        try:
            sniffed = sniff_stream(RangedObject(reader, obj, sniff_bytes), obj.size, obj.name)  # type: ignore[arg-type]
        except ObjectReadError as exc:
            error = str(exc)
    return ObjectRead(sniffed, error, reader.recorded_sha256(obj))


def build_artefacts(
    contents: StoreContents,
    container: Container,
    source: str,
    reader: ObjectStoreReader,
    integrity_max_bytes: int,
    trust: TrustPolicy | None = None,
    recorded: Mapping[str, tuple[str, str]] | None = None,
    *,
    pool: Executor | None = None,
    workers: int = 1,
) -> list[Resource]:
    """One `artefact` per model directory; its signature, attestations and serialization
    checked within the byte budget (`integrity.py`), against the trust for that model (its
    name, prefix or URI matched by `integrity.trust.models`). `recorded` maps an artefact URI
    to the signature a registry records for it, `(uri, where the registry keeps it)`. The
    artefacts are checked concurrently on the source's `pool` (at most `workers` at a time)."""
    policy = trust or TrustPolicy()
    listed = {} if isinstance(contents.objects, Unknown) else {o.key: o for o in contents.objects}

    def one(item: tuple[str, list[StoredObject]]) -> Resource:
        owner, members = item
        uri = redact(f"{container.uri}/{owner}")
        name = owner.rpartition("/")[2] if owner else container.name
        return build_artefact(
            contents,
            container,
            source,
            reader,
            integrity_max_bytes,
            owner,
            members,
            trust=policy.for_model(name, owner, uri),
            siblings=[listed[k] for k in _beside(owner) if k in listed],
            recorded=_recorded((recorded or {}).get(uri), container, listed),
        )

    return shared_map(pool, workers, one, sorted(contents.model_dirs().items()))


def build_artefact(
    contents: StoreContents,
    container: Container,
    source: str,
    reader: ObjectStoreReader,
    integrity_max_bytes: int,
    owner: str,
    members: list[StoredObject],
    uri: str | None = None,
    *,
    trust: TrustSet | None = None,
    siblings: Sequence[StoredObject] = (),
    recorded: RecordedSignature | None = None,
) -> Resource:
    """One `artefact` of `members` (objects under `owner`, `""` for the container's root),
    its integrity checked against `trust` (none given: nothing can verify, so a signature is
    Unknown, never true).

    Object stores call it once per model directory; a container that is itself one artefact
    (an image, whose model files are wherever its layers put them) calls it once with every
    model file and its own `uri`.
    """
    # A model at the container's root keeps the trailing slash: the container's URI is
    # the storage's id.
    uri = redact(uri if uri is not None else f"{container.uri}/{owner}")
    attributes = _attributes(contents, container, uri, owner, members)
    check_integrity(
        attributes,
        members,
        reader,
        container,
        integrity_max_bytes,
        trust or TrustSet(),
        siblings=siblings,
        recorded=recorded,
    )
    return Resource(
        id=uri,
        type="artefact",
        # Where it is (`acme-models-prod/credit-scoring/2`): the last segment alone is
        # `model` or `2` for half the estate.
        name=f"{container.name}/{owner.strip('/')}" if owner.strip("/") else container.name,
        source=source,
        attributes=attributes,
        raw={
            container.kind: container.name,
            "prefix": owner,
            "keys": sorted(m.key for m in members),
        },
    )


def _attributes(
    contents: StoreContents,
    container: Container,
    uri: str,
    owner: str,
    members: list[StoredObject],
) -> dict[str, Any]:
    cut = len(owner) + 1 if owner else 0
    reads = [(m, contents.read(m)) for m in members]
    files = sorted(
        (
            {
                "path": m.key[cut:],
                "size": m.size,
                **({"sha256": read.sha256} if read.sha256 is not None else {}),
                **dict(m.digests),
                "etag": (m.etag or "").strip('"') or None,
                "format": read.format,
            }
            for m, read in reads
        ),
        key=lambda f: str(f["path"]),
    )
    serialization = serialization_summary(
        SniffedFile(m.key[cut:], read.format, read.pickle_based) for m, read in reads
    )
    attributes: dict[str, Any] = {
        "uri": uri,
        "location": {
            "provider": container.provider,
            container.kind: container.name,
            "prefix": owner,
            **container.location,
        },
    }
    if container.storage is not None:
        attributes["storage"] = Ref(container.storage)
    attributes.update(
        {
            "files": files,
            "file_count": len(files),
            "total_size": sum(m.size for m in members),
            "listing_truncated": contents.truncated,
            "serialization": serialization,
        }
    )
    return attributes


def _recorded(
    pointer: tuple[str, str] | None, container: Container, listed: Mapping[str, StoredObject]
) -> RecordedSignature | None:
    if pointer is None:
        return None
    uri, source = pointer
    inside = uri.startswith(f"{container.uri}/")
    obj = listed.get(uri[len(container.uri) + 1 :]) if inside else None
    return RecordedSignature(uri, source, obj)


def _beside(owner: str) -> list[str]:
    """Keys of a signature or attestation next to a model directory (`fraud.sig` beside
    `fraud/`; MLflow's `model.sig` beside `model/`), in order of preference."""
    return [f"{owner}{suffix}" for suffix in SIBLING_SUFFIXES] if owner else []


def _key(obj: StoredObject) -> str:
    return obj.key
