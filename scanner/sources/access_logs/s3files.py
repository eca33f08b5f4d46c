"""Log objects under an `s3://BUCKET/PREFIX`, downloaded in batches for DuckDB to read.

DuckDB could read `s3://` itself through its httpfs extension, but that extension is not part
of the DuckDB wheel: it is downloaded from DuckDB's own extension repository on first use,
which a scanner in CI (or any machine without that network path) cannot count on, and it would
not follow the AWS credential chain boto3 follows (profiles, SSO, assumed roles,
`AWS_ENDPOINT_URL`). So the objects are listed and fetched with boto3, on the session the
`aws:` source builds (`scanner.sources.aws.session`), into a private temporary directory under
numbered names (object keys never become local paths), `batch_mb` at a time; each batch is
read by DuckDB and deleted before the next is fetched, so disk and memory stay bounded
whatever the prefix holds. Only ListObjectsV2 and GetObject are called.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scanner.sources.access_logs.options import AccessLogOptions
from scanner.sources.aws.options import AwsOptions
from scanner.sources.aws.session import base_session
from scanner.sources.interface import Progress, SourceError


@dataclass(frozen=True)
class Fetched:
    path: str
    name: str  # s3://bucket/key


def _client(options: AccessLogOptions) -> Any:
    from botocore.config import Config

    session = base_session(options.label, AwsOptions(profile=options.profile))
    region = options.region or session.region_name or "us-east-1"
    return session.client(
        "s3", region_name=region, config=Config(retries={"max_attempts": 5, "mode": "adaptive"})
    )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(exc).__name__)


def batches(
    options: AccessLogOptions, workdir: str, progress: Progress
) -> Iterator[tuple[list[Fetched], list[str]]]:
    """(downloaded files, problems) per batch; the files are deleted when the next batch is
    asked for. A listing that fails is a source error; an object that cannot be fetched is a
    problem line naming it."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = options.target[len("s3://") :].partition("/")
    client = _client(options)
    paginator = client.get_paginator("list_objects_v2")
    limit = options.batch_mb * 1024 * 1024
    batch: list[Fetched] = []
    problems: list[str] = []
    held = 0
    listed = 0
    directory = os.path.join(workdir, "objects")
    os.makedirs(directory, exist_ok=True)
    try:
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key, size = obj["Key"], int(obj.get("Size", 0))
                if key.endswith("/") or size == 0:
                    continue
                listed += 1
                if listed > options.max_files:
                    raise SourceError(
                        f"{options.label}: more than max_files {options.max_files} objects"
                    )
                path = os.path.join(directory, f"{listed:09d}")
                name = f"s3://{bucket}/{key}"
                try:
                    client.download_file(bucket, key, path)
                except (BotoCoreError, ClientError) as exc:
                    problems.append(f"{options.label}: cannot read {name} ({_code(exc)})")
                    continue
                batch.append(Fetched(path, name))
                held += size
                if held >= limit:
                    progress(f"{listed} log object(s) fetched")
                    yield batch, problems
                    _clear(directory)
                    batch, problems, held = [], [], 0
    except ClientError as exc:
        raise SourceError(
            f"{options.label}: cannot list the log objects ({_code(exc)}; needs s3:ListBucket)"
        ) from None
    except BotoCoreError as exc:
        raise SourceError(f"{options.label}: cannot reach S3: {exc}") from None
    if listed == 0:
        raise SourceError(f"{options.label}: no objects under the prefix")
    if batch or problems:
        yield batch, problems
    _clear(directory)


def _clear(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
