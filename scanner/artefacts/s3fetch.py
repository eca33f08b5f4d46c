"""A model in S3, copied to a local directory within a byte budget, for `modelward verify`.

Verification needs every byte (the signature covers each file's digest), so the model is
downloaded - read-only calls only (ListObjectsV2, HeadObject, GetObject) - into a temporary
directory and checked there like a local model. The budget is decided from the listing before
anything is downloaded: a model over it is not verified (Unknown, exit 3), never passed.

Object keys are untrusted: a key whose relative path would leave the download directory
(`../`, absolute parts) is refused. Credentials come from the standard boto3 chain, the endpoint
from `AWS_ENDPOINT_URL` as boto3 reads it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import EXIT_SOURCE, ModelwardError, UsageError

MAX_OBJECTS = 10_000
DEFAULT_BUDGET = 2 * 1024**3


class S3ReadError(ModelwardError):
    """S3 could not be read (no credentials, access denied, no such bucket): exit 3."""

    exit_code = EXIT_SOURCE


@dataclass(frozen=True)
class Fetched:
    path: Path | None  # the local model directory or file; None when over the budget
    total: int  # bytes listed
    objects: int
    over_budget: str | None = None


def parse_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UsageError(f"{uri}: not s3://BUCKET/PREFIX")
    return bucket, key.strip("/")


def fetch(uri: str, dest: Path, budget: int, client: Any = None) -> Fetched:
    bucket, key = parse_uri(uri)
    s3 = client or _client()
    try:
        single = _head(s3, bucket, key) if key else None
        if single is not None:
            return _fetch_file(s3, bucket, key, single, dest, budget)
        return _fetch_prefix(s3, bucket, key, dest, budget, uri)
    except ModelwardError:
        raise
    except Exception as e:  # botocore ClientError, NoCredentialsError, EndpointConnectionError
        raise S3ReadError(f"{uri}: cannot read: {_describe(e)}") from e


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"max_attempts": 3, "mode": "standard"}))


def _describe(e: Exception) -> str:
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        op = getattr(e, "operation_name", "request")
        return f"{op} failed: {err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(e).__name__}: {e}"


def _head(s3: Any, bucket: str, key: str) -> int | None:
    """The size of the object `key`, or None when the key is a prefix, not an object."""
    from botocore.exceptions import ClientError

    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _fetch_file(s3: Any, bucket: str, key: str, size: int, dest: Path, budget: int) -> Fetched:
    """One object, plus its detached signature (`KEY.sig`) when there is one."""
    name = posixpath.basename(key)
    _safe(name)
    sig_size = _head(s3, bucket, key + ".sig")
    total = size + (sig_size or 0)
    if total > budget:
        return Fetched(None, total, 1, _over(total, budget))
    s3.download_file(bucket, key, str(dest / name))
    if sig_size is not None:
        s3.download_file(bucket, key + ".sig", str(dest / (name + ".sig")))
    return Fetched(dest / name, total, 1 + (sig_size is not None))


def _fetch_prefix(s3: Any, bucket: str, prefix: str, dest: Path, budget: int, uri: str) -> Fetched:
    listing: list[tuple[str, int]] = []
    total = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue  # a "folder" marker
            listing.append((key, int(obj["Size"])))
            total += int(obj["Size"])
            if len(listing) > MAX_OBJECTS:
                return Fetched(None, total, len(listing), f"over {MAX_OBJECTS} objects")
            if total > budget:
                return Fetched(None, total, len(listing), _over(total, budget, partial=True))
    if not listing:
        raise UsageError(f"{uri}: no objects under this prefix")
    model = dest / (posixpath.basename(prefix) or bucket)
    for key, _ in listing:
        rel = key[len(prefix) + 1 :] if prefix else key
        target = model / _safe(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
    return Fetched(model, total, len(listing))


def _safe(rel: str) -> str:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise S3ReadError(f"object key part {rel!r} is not a safe relative path: not downloaded")
    return rel


def _over(total: int, budget: int, partial: bool = False) -> str:
    at_least = "at least " if partial else ""
    return f"{at_least}{total} bytes, over the byte budget of {budget} (--max-bytes)"


def parse_size(text: str) -> int:
    """`500M`, `2G`, `1048576` -> bytes (binary units)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = units.get(t[-1:], 1)
    number = t[:-1] if t[-1:] in units else t
    try:
        value = int(float(number) * mult)
    except ValueError:
        raise UsageError(f"--max-bytes {text!r} is not a size (e.g. 500M, 2G)") from None
    if value <= 0:
        raise UsageError(f"--max-bytes {text!r} must be positive")
    return value
