"""S3 as an object store (`scanner.sources.objectstore`): one bucket, read-only calls only.

ListObjectsV2 for the listing (bounded by `max_objects_per_bucket`, folder placeholders left
out), ranged GetObject with the listed ETag as `IfMatch` (the object must not change between
reads: a mixed read would be garbage), HeadObject with `ChecksumMode` for a listed
`ChecksumSHA256` (only full-object checksums are kept: a multipart composite is not the file's
sha256), and a whole GetObject for the serialization scan. Every call goes through
`AwsContext`, so a denial is an Unknown naming the action, never a crash.
"""

from __future__ import annotations

import base64
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.context import AwsCallError, AwsContext
from scanner.sources.objectstore import Listing, ObjectReadError, StoredObject

_CHUNK = 1024 * 1024


class S3Reader:
    def __init__(self, ctx: AwsContext, region: str, bucket: str) -> None:
        self.ctx = ctx
        self.region = region
        self.bucket = bucket

    def list_objects(self, cap: int) -> Listing:
        """Up to `cap` objects, page by page; `truncated` when more were there."""
        objects: list[StoredObject] = []
        token: str | None = None
        truncated = False
        while True:
            params: dict[str, Any] = {
                "Bucket": self.bucket,
                "MaxKeys": min(1000, cap - len(objects)),
            }
            if token:
                params["ContinuationToken"] = token
            page = self.ctx.call("s3", self.region, "list_objects_v2", **params)
            if isinstance(page, Unknown):
                return Listing(page)
            assert page is not None
            for item in page.get("Contents", []):
                key = item.get("Key", "")
                if key.endswith("/") and not item.get("Size"):
                    continue  # a "folder" placeholder
                objects.append(
                    StoredObject(
                        key=key,
                        size=int(item.get("Size", 0)),
                        etag=item.get("ETag"),
                        checksums=tuple(item.get("ChecksumAlgorithm", []) or ()),
                    )
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
            if len(objects) >= cap:
                truncated = True
                break
        return Listing(tuple(objects), truncated)

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        answer = self._get(obj, Range=f"bytes={start}-{start + length - 1}")
        body = answer["Body"]
        try:
            data: bytes = body.read(length + 1)
        finally:
            body.close()
        if len(data) != length:
            raise ObjectReadError(
                f"ranged GET returned {len(data)} bytes for a {length}-byte range"
            )
        return data

    def read_all(self, obj: StoredObject, into: Any) -> None:
        body = self._get(obj)["Body"]
        try:
            while chunk := body.read(_CHUNK):
                into.write(chunk)
        finally:
            body.close()

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        if "SHA256" not in obj.checksums:
            return None
        try:
            head = self.ctx.call(
                "s3",
                self.region,
                "head_object",
                Bucket=self.bucket,
                Key=obj.key,
                ChecksumMode="ENABLED",
            )
        except AwsCallError as exc:
            return Unknown(f"HeadObject failed: {exc.code}")
        if isinstance(head, Unknown) or head is None:
            return head
        value = head.get("ChecksumSHA256")
        if not value or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT" or "-" in value:
            return None  # a composite (multipart) checksum is not the file's sha256
        try:
            return base64.b64decode(value).hex()
        except ValueError:
            return None

    def _get(self, obj: StoredObject, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": obj.key, **extra}
        if obj.etag:
            params["IfMatch"] = obj.etag
        try:
            answer = self.ctx.call("s3", self.region, "get_object", **params)
        except AwsCallError as exc:
            raise ObjectReadError(f"cannot read: {exc.code}") from exc
        if isinstance(answer, Unknown):
            raise ObjectReadError(answer.reason)
        if answer is None:
            raise ObjectReadError("object vanished while being read")
        return answer
