"""Azure Blob Storage as an object store (`scanner.sources.objectstore`): one container, reads only.

- `list_objects`: List Blobs with metadata, page by page, up to the cap. Directory
  placeholders are left out: zero-byte blobs whose name ends in `/`, and the
  `hdi_isfolder=true` blobs that accounts with a hierarchical namespace (ADLS Gen2) list for
  their directories. Each blob's metadata is kept (`metadata`) for the governance facts.
- `read_range`: Get Blob with a range and the listed ETag as `If-Match` (a blob replaced
  between two ranged reads would be sniffed as garbage), so a changed blob fails the read.
- `recorded_sha256`: None without a call. The Blob service keeps a Content-MD5 (set by the
  client at upload, or computed by the service for small single-shot uploads), never a
  SHA-256 of the whole blob.
- `read_all`: Get Blob, whole, under the same ETag condition.

Listing failures go through `faults.Calls` (a denial is an Unknown naming the data action);
a failed read of content raises `ObjectReadError`, which the builder records on the artefact
(design.md, item 18: a read refused by the account's own rules is not a gap in its settings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from scanner.inventory import Unknown
from scanner.sources.azure.faults import Calls, classify
from scanner.sources.objectstore import Listing, ObjectReadError, StoredObject

BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
PAGE = 5000  # the service's maximum per List Blobs page
T = TypeVar("T")


class AzureBlobReader:
    def __init__(self, container_client: Any, calls: Calls, label: str) -> None:
        self.client = container_client
        self.calls = calls
        self.label = label  # ACCOUNT/CONTAINER, for messages
        self.metadata: dict[str, dict[str, str]] = {}

    def list_objects(self, cap: int) -> Listing:
        listed = self.calls.call(BLOB_READ, f"List Blobs {self.label}", lambda: self._list(cap))
        if isinstance(listed, Unknown):
            return Listing(listed)
        assert listed is not None
        return listed

    def _list(self, cap: int) -> Listing:
        objects: list[StoredObject] = []
        metadata: dict[str, dict[str, str]] = {}
        truncated = False
        pages = self.client.list_blobs(include=["metadata"], results_per_page=min(PAGE, cap))
        for page in pages.by_page():
            for blob in page:
                if len(objects) >= cap:
                    truncated = True
                    break
                name, size = blob.name, blob.size
                if not isinstance(name, str) or not isinstance(size, int):
                    raise ValueError("a listed blob without a name or size")
                meta = dict(blob.metadata or {})
                if _placeholder(name, size, meta):
                    continue
                md5 = getattr(blob.content_settings, "content_md5", None)
                objects.append(
                    StoredObject(
                        key=name, size=size, etag=blob.etag, checksums=("MD5",) if md5 else ()
                    )
                )
                if meta:
                    metadata[name] = {str(k): str(v) for k, v in meta.items()}
            if truncated:
                break
        self.metadata = metadata
        return Listing(tuple(objects), truncated)

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        data: bytes = self._guarded(
            obj, lambda: self._download(obj, offset=start, length=length).readall()
        )
        if len(data) != length:
            raise ObjectReadError(
                f"ranged read returned {len(data)} bytes for a {length}-byte range"
            )
        return data

    def read_all(self, obj: StoredObject, into: Any) -> None:
        def copy() -> None:
            for chunk in self._download(obj).chunks():
                into.write(chunk)

        self._guarded(obj, copy)

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        return None  # the Blob service keeps no SHA-256 of a blob (only Content-MD5)

    def _download(self, obj: StoredObject, **extra: Any) -> Any:
        from azure.core import MatchConditions

        conditions: dict[str, Any] = {}
        if obj.etag:
            conditions = {"etag": obj.etag, "match_condition": MatchConditions.IfNotModified}
        return self.client.download_blob(obj.key, **conditions, **extra)

    def _guarded(self, obj: StoredObject, fn: Callable[[], T]) -> T:
        """`fn()`, its failures as ObjectReadError with a one-line reason (the whole download,
        not only its first request: later chunks can fail too)."""
        try:
            return fn()
        except ObjectReadError:
            raise
        except Exception as exc:
            if getattr(exc, "status_code", None) == 412:
                raise ObjectReadError("the blob changed since it was listed") from None
            reason, _kind = classify(exc, BLOB_READ, f"Get Blob {self.label}/{obj.key}")
            raise ObjectReadError(reason) from None


def _placeholder(name: str, size: int, metadata: dict[str, Any]) -> bool:
    if size:
        return False
    folder = str(metadata.get("hdi_isfolder", "")).lower() == "true"
    return folder or name.endswith("/")
