"""Which files a target names, and what each one is, told by its content.

Neither format has a reliable name: CloudTrail delivers `..._CloudTrail_REGION_....json.gz`,
but copies and exports are renamed; S3 server access log objects have no extension at all
(`PREFIX2024-05-01-10-15-03-6F1A2B3C4D5E6F70`), and either may be gzipped or not. So a file is
sniffed: gzip by its magic bytes, then the first 64 KiB of text. A JSON object whose first key
is `Records` is CloudTrail, and so is a first line that is one CloudTrail record (exports); a
line that starts like the documented server access log record (`OWNER BUCKET
[06/Feb/2019:00:00:38 +0000] ...`) is a server access log. CloudTrail digest
files (`{"awsAccountId": ..., "digestStartTime": ...}`) are recognised and left out; anything
else is reported.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass

from scanner.sources import local_files
from scanner.sources.interface import SourceError

SNIFF_BYTES = 64 * 1024
CLOUDTRAIL = "cloudtrail"
SERVER_ACCESS = "s3-server-access"
_RECORDS = re.compile(rb'^\s*\{\s*"Records"\s*:')
_DIGEST = re.compile(rb'^\s*\{\s*"awsAccountId"\s*:')
# The start of a server access log record: owner, bucket, [time].
_SERVER_LINE = re.compile(rb"^\S+ \S+ \[\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] ")


@dataclass(frozen=True)
class LogFile:
    path: str  # where it is on this machine
    name: str  # how problems name it: the path, or the s3:// URI it was read from
    format: str  # cloudtrail | s3-server-access
    gzipped: bool
    size: int
    # A `{"Records": [...]}` file is one JSON object that DuckDB holds whole: its decompressed
    # size (see object_bytes). None for line-oriented files, which are read a line at a time.
    object_bytes: int | None = None


@dataclass(frozen=True)
class Sorted:
    files: tuple[LogFile, ...]
    digests: int  # CloudTrail digest files left out
    unrecognised: tuple[str, ...]  # names of files that are neither format


def discover(target: str, max_files: int) -> list[str]:
    """The regular files a local target names: a file, every file below a directory (hidden
    ones excepted), or the files a glob matches."""
    return local_files.discover(
        f"access-logs:{target}",
        target,
        counts=lambda relative: not any(part.startswith(".") for part in relative.parts),
        none_in_directory="the directory holds no files",
        max_files=max_files,
        limit=f"max_files {max_files}",
    )


def head(path: str) -> tuple[bytes, bool]:
    """Up to SNIFF_BYTES of the file's text (decompressed), and whether it is gzipped. A
    truncated gzip still gives what it holds; an unreadable file raises OSError."""
    with open(path, "rb") as handle:
        raw = handle.read(SNIFF_BYTES)
    if not raw.startswith(b"\x1f\x8b"):
        return raw, False
    try:
        # decompressobj reads what a truncated or damaged stream has before the damage.
        text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, SNIFF_BYTES)
    except zlib.error:
        try:
            with gzip.open(path, "rb") as handle:
                text = handle.read(SNIFF_BYTES)
        except (OSError, EOFError):
            text = b""
    return text, True


def object_bytes(path: str, gzipped: bool, size: int) -> int:
    """The decompressed size of a file: a gzip member records it (mod 2**32) in its last four
    bytes, so a multi-GB file is not decompressed to be measured. The trailer describes only
    the last member and can be crafted; it bounds what CloudTrail delivers (one member, well
    under 4 GiB), which is what the check is for."""
    if not gzipped or size < 18:
        return size
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        return int.from_bytes(handle.read(4), "little")


def sniff(text: bytes) -> str | None:
    """`cloudtrail`, `s3-server-access`, `digest` or None, from the start of a file's text."""
    if _RECORDS.match(text):
        return CLOUDTRAIL
    if _DIGEST.match(text):
        return "digest"
    first = text.lstrip().split(b"\n", 1)[0]
    if first.startswith(b"{"):
        # Newline-delimited records, as CloudTrail exports and log pipelines write them.
        try:
            record = json.loads(first)
        except ValueError:
            record = None
        if isinstance(record, dict) and "eventTime" in record and "eventName" in record:
            return CLOUDTRAIL
    for line in text.splitlines()[:20]:
        if _SERVER_LINE.match(line):
            return SERVER_ACCESS
    return None


def sort_files(paths: list[tuple[str, str]], requested: str) -> Sorted:
    """(path, name) pairs into log files by format. With `requested` set (not `auto`), every
    non-empty file is read as that format, and what does not parse is counted malformed."""
    files: list[LogFile] = []
    digests = 0
    unrecognised: list[str] = []
    for path, name in paths:
        try:
            size = os.path.getsize(path)
            text, gz = head(path)
        except OSError as exc:
            raise SourceError(f"{name}: cannot read: {exc.strerror or exc}") from None
        if size == 0:
            continue
        kind = sniff(text)
        if kind == "digest":
            digests += 1
            continue
        if requested != "auto":
            kind = requested
        if kind is None:
            unrecognised.append(name)
            continue
        whole = object_bytes(path, gz, size) if _RECORDS.match(text) else None
        files.append(
            LogFile(path=path, name=name, format=kind, gzipped=gz, size=size, object_bytes=whole)
        )
    return Sorted(tuple(files), digests, tuple(unrecognised))
