"""What a provider implements for its object store: a listing and reads, nothing more.

The builder (`builder.py`) turns any store's listing into `artefact` resources; a provider
(S3, Google Cloud Storage; Azure Blob and OCI image layers next) implements
`ObjectStoreReader` for one container (bucket, blob container, repository) and names where
the container is (`Container`). Reads are the provider's only calls on object content, so the
read-only and fail-closed rules live in the implementation: a denied or failed read raises
`ObjectReadError` with a one-line reason, which becomes an `Unknown` on the artefact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from scanner.inventory import Unknown


@dataclass(frozen=True)
class StoredObject:
    """One object as the store lists it."""

    key: str  # its name in the container, `/`-separated
    size: int
    etag: str | None = None  # as the store quotes it; readers may require it to be unchanged
    checksums: tuple[str, ...] = ()  # algorithms the store keeps a checksum for (`SHA256`, …)
    # Digests the listing itself carries, as (algorithm, lower-case hex): Cloud Storage lists
    # every object's `md5` (when not composite) and `crc32c`. They go into the file entries.
    digests: tuple[tuple[str, str], ...] = ()
    # The store's id of this version of the object (a Cloud Storage generation), so a reader
    # can read exactly the object as listed.
    version: str | None = None

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]


@dataclass(frozen=True)
class Listing:
    """A container's objects (Unknown when they cannot be listed), capped by the source."""

    objects: tuple[StoredObject, ...] | Unknown
    truncated: bool = False  # the cap was reached: more objects exist


class ObjectReadError(OSError):
    """A read was denied or failed, the object changed, or a byte budget ran out."""


class ObjectStoreReader(Protocol):
    """One container of one store, read-only."""

    def list_objects(self, cap: int) -> Listing:
        """Up to `cap` objects (folder placeholders left out); Unknown with the reason (the
        action denied) when the listing cannot be read."""
        ...

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        """Exactly `length` bytes of `obj` from `start` (the object as listed: a store that can
        should refuse a changed object, e.g. with the listed ETag). Raises ObjectReadError."""
        ...

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        """The full-object SHA-256 (hex) the store keeps for `obj`, None when it keeps none
        (no call should be made then; Cloud Storage keeps none at all, only MD5 and CRC32C,
        which come with the listing as `StoredObject.digests`), Unknown when it cannot be
        read. Never raises."""
        ...

    def read_all(self, obj: StoredObject, into: Any) -> None:
        """Write the whole of `obj` to the binary file `into`. A store that cannot raises
        ObjectReadError. The caller bounds the total by the listed sizes beforehand and
        rejects an object that turns out larger or smaller than listed."""
        ...


@dataclass(frozen=True)
class Container:
    """Where a store's artefacts are, as its provider names them.

    An artefact's id and `uri` are `f"{uri}/{prefix}"` (`s3://bucket/fraud/v3`; a model at
    the container's root keeps the slash, `s3://bucket/`, since the container's own URI is
    the storage's id). Its `location` is `{provider, <kind>: name, prefix, **location}`.
    """

    provider: str  # `s3`, `azure`, `gcs`, `oci`
    kind: str  # what the provider calls the container: `bucket`, `container`, `repository`
    name: str
    uri: str  # `s3://bucket`, `azure://ACCOUNT/CONTAINER`, `gs://bucket`
    label: str  # for people: `S3`, `Azure Blob`, `Cloud Storage`
    source_kind: str  # the source type whose options the messages name (`aws`)
    storage: str | None = None  # the `storage` resource holding it, when the source reports one
    location: Mapping[str, Any] = field(default_factory=dict)  # more fields: region, account
