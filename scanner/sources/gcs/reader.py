"""Cloud Storage as an object store (`scanner.sources.objectstore`): one bucket, reads only.

Through google-cloud-storage, so `STORAGE_EMULATOR_HOST` and the credentials behave exactly
as the library documents. The listing (`objects.list`, `nextPageToken` page by page, bounded
by `max_objects_per_bucket`) carries each object's generation, MD5 (absent for composite
objects) and CRC32C, which become the file entries' `md5` and `crc32c` (hex). Cloud Storage
keeps no SHA-256 of an object, so `recorded_sha256` is None without a call. Reads name the
listed generation, so a replaced object is refused (404) instead of read half old, half new.
Every call goes through `Calls.run`: a denial is an `ObjectReadError` naming the permission.
"""

from __future__ import annotations

import base64
import binascii
from functools import partial
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.gcp.calls import Calls
from scanner.sources.objectstore import Listing, ObjectReadError, StoredObject

PAGE_SIZE = 1000


class GcsReader:
    def __init__(self, client: Any, bucket: str, calls: Calls) -> None:
        self.client = client
        self.bucket = bucket
        self.calls = calls
        # Custom metadata of the listed objects that have any, by name (governance facts).
        self.metadata: dict[str, dict[str, str]] = {}

    def list_objects(self, cap: int) -> Listing:
        objects: list[StoredObject] = []
        token: str | None = None
        while True:
            size = min(PAGE_SIZE, cap - len(objects))
            page = self.calls.run(
                partial(self._page, token, size),
                permission="storage.objects.list",
                what=f"gs://{self.bucket}: objects",
            )
            if isinstance(page, Unknown):
                return Listing(page)
            if page is None:
                return Listing(Unknown(f"gs://{self.bucket} vanished while being listed"))
            blobs, token = page
            for blob in blobs:
                stored = _stored(blob)
                if stored is None:
                    return Listing(self.calls.malformed(f"gs://{self.bucket}", "an object"))
                if not (stored.key.endswith("/") and stored.size == 0):  # folder placeholder
                    objects.append(stored)
                    if isinstance(blob.metadata, dict) and blob.metadata:
                        self.metadata[stored.key] = {
                            str(k): str(v) for k, v in blob.metadata.items()
                        }
            if not token:
                return Listing(tuple(objects))
            if len(objects) >= cap:
                return Listing(tuple(objects), truncated=True)

    def _page(self, token: str | None, size: int) -> tuple[list[Any], str | None]:
        iterator = self.client.list_blobs(
            self.bucket, page_token=token, max_results=size, retry=None, timeout=60
        )
        page = next(iterator.pages, None)
        blobs = list(page) if page is not None else []
        return blobs, iterator.next_page_token

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        blob = self._blob(obj)
        data = self._run(
            obj,
            lambda: blob.download_as_bytes(
                start=start, end=start + length - 1, checksum=None, retry=None, timeout=60
            ),
        )
        if not isinstance(data, bytes) or len(data) != length:
            got = len(data) if isinstance(data, bytes) else 0
            raise ObjectReadError(f"ranged read returned {got} bytes for a {length}-byte range")
        return data

    def read_all(self, obj: StoredObject, into: Any) -> None:
        blob = self._blob(obj)

        # The whole object: the library checks it against the stored CRC32C as it goes.
        def download() -> bool:
            blob.download_to_file(into, retry=None, timeout=300)
            return True

        self._run(obj, download)

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        return None  # Cloud Storage keeps MD5 and CRC32C only (listed as `digests`)

    def _blob(self, obj: StoredObject) -> Any:
        generation = int(obj.version) if obj.version and obj.version.isdigit() else None
        return self.client.bucket(self.bucket).blob(obj.key, generation=generation)

    def _run(self, obj: StoredObject, fn: Any) -> Any:
        answer = self.calls.run(
            fn,
            permission="storage.objects.get",
            what=f"gs://{self.bucket}/{obj.key}",
            absent=True,
        )
        if isinstance(answer, Unknown):
            raise ObjectReadError(answer.reason)
        if answer is None:  # 404 for the listed generation
            raise ObjectReadError("the object changed or vanished since it was listed")
        return answer


def _stored(blob: Any) -> StoredObject | None:
    name, size = blob.name, blob.size
    if not isinstance(name, str) or not isinstance(size, int):
        return None
    digests = []
    for algorithm, value in (("md5", blob.md5_hash), ("crc32c", blob.crc32c)):
        hexed = _hex(value)
        if hexed is not None:
            digests.append((algorithm, hexed))
    generation = blob.generation
    return StoredObject(
        key=name,
        size=size,
        etag=blob.etag if isinstance(blob.etag, str) else None,
        checksums=tuple(a.upper() for a, _ in digests),
        digests=tuple(digests),
        version=str(generation) if isinstance(generation, int) else None,
    )


def _hex(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None
