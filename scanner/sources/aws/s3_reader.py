"""S3 as an object store (`scanner.sources.objectstore`): one bucket, read-only calls only.

ListObjectsV2 for the listing (bounded by `max_objects_per_bucket`, folder placeholders left
out), ranged GetObject with the listed ETag as `IfMatch` (the object must not change between
reads: a mixed read would be garbage), HeadObject with `ChecksumMode` for a listed
`ChecksumSHA256` (only full-object checksums are kept: a multipart composite is not the file's
sha256), and a whole GetObject for the serialization scan. Every call goes through
`AwsContext`, so a denial is an Unknown naming the action, never a crash.

An object's bytes are checked to be the object's before anything reads them: the answer must
carry the listed ETag and exactly the length (and, for a range, the `Content-Range`) asked
for. A proxy that answers 200 with a page of its own would otherwise be sniffed, digested and
scanned as the model file, and an unsafe pickle would read as a clean HTML file. A body that
breaks off or stalls while being read is a fault like any other call's.
"""

from __future__ import annotations

import base64
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.context import AwsContext, classify
from scanner.sources.faults import MalformedAnswer
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
            contents = self.ctx.items(page.get("Contents", []), "s3:ListObjectsV2", "Key")
            if not isinstance(contents, list):
                return Listing(contents if isinstance(contents, Unknown) else Unknown("no list"))
            for item in contents:
                key = item["Key"]
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
        end = start + length - 1
        answer = self._get(obj, length, Range=f"bytes={start}-{end}")
        content_range = str(answer.get("ContentRange") or "")
        if content_range and not content_range.startswith(f"bytes {start}-{end}/"):
            self._malformed(f"Content-Range {content_range[:60]} for bytes {start}-{end}")
        data = self._body(answer, length + 1)
        if len(data) != length:
            raise ObjectReadError(
                f"ranged GET returned {len(data)} bytes for a {length}-byte range"
            )
        return data

    def read_all(self, obj: StoredObject, into: Any) -> None:
        answer = self._get(obj, obj.size)
        body = answer["Body"]
        try:
            while chunk := body.read(_CHUNK):
                into.write(chunk)
        except Exception as exc:  # a body that breaks off or stalls is a fault
            raise self._fault(exc) from None
        finally:
            body.close()

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        if "SHA256" not in obj.checksums:
            return None
        head = self.ctx.call(
            "s3",
            self.region,
            "head_object",
            Bucket=self.bucket,
            Key=obj.key,
            ChecksumMode="ENABLED",
        )
        if isinstance(head, Unknown) or head is None:
            return head
        value = head.get("ChecksumSHA256")
        if not value or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT" or "-" in value:
            return None  # a composite (multipart) checksum is not the file's sha256
        try:
            return base64.b64decode(value).hex()
        except ValueError:
            return None

    def _get(self, obj: StoredObject, length: int, **extra: Any) -> dict[str, Any]:
        """A GetObject answer that is the listed object's: its ETag, `length` bytes."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": obj.key, **extra}
        if obj.etag:
            params["IfMatch"] = obj.etag
        answer = self.ctx.call("s3", self.region, "get_object", **params)
        if isinstance(answer, Unknown):
            raise ObjectReadError(answer.reason)
        if answer is None:
            raise ObjectReadError("object vanished while being read")
        if "Body" not in answer:
            self._malformed("no body")
        etag = answer.get("ETag")
        if obj.etag and etag != obj.etag:
            answer["Body"].close()
            self._malformed(f"ETag {str(etag)[:40]} is not the listed {obj.etag[:40]}")
        if answer.get("ContentLength") not in (None, length):
            answer["Body"].close()
            self._malformed(f"{answer.get('ContentLength')} bytes where {length} were asked for")
        return answer

    def _body(self, answer: dict[str, Any], limit: int) -> bytes:
        body = answer["Body"]
        try:
            data: bytes = body.read(limit)
        except Exception as exc:  # a body that breaks off or stalls is a fault
            raise self._fault(exc) from None
        finally:
            body.close()
        return data

    def _malformed(self, why: str) -> None:
        raise self._fault(MalformedAnswer("s3:GetObject", why))

    def _fault(self, exc: BaseException) -> ObjectReadError:
        fault = classify(exc, "s3:GetObject", "s3:GetObject", self.region, self.ctx.read_timeout)
        return ObjectReadError(self.ctx.faults.record(fault).reason)
