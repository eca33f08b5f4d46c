"""The zip container of an evidence pack: written reproducibly, read without trusting it.

Writing: members in a fixed order, every timestamp 1980-01-01, one file mode, one compression
level, so two packs of the same results are byte-identical member for member (the signature
aside: ECDSA signatures are randomised) and `unzip -l` listings compare.

Reading: an auditor opens a pack they were handed, so the archive is hostile until proven
otherwise. Nothing is ever extracted: members are read into memory or hashed as they stream,
each bounded by its declared size, which is itself capped. Before any member is read, the
central directory is checked as a whole: names that could escape a directory (`../`, absolute
paths, drive letters, backslashes), symbolic links, directories, encrypted or oddly compressed
members, duplicate names, overlapping entries (the construction behind non-recursive zip
bombs), and sizes or compression ratios no honest pack has. Python's `zipfile` then checks
each member's local header against the directory and its CRC as it is read.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import stat
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scanner.errors import InputFileError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = stat.S_IFREG | 0o644
COMPRESS_LEVEL = 6  # zlib default; on results.json level 9 took 3.6x as long for 9% less
_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class PackError(InputFileError):
    """The file cannot be read as an evidence pack at all (exit 2): not a zip, truncated, or
    built to attack whoever opens it."""


@dataclass(frozen=True)
class Limits:
    """What an honest pack never exceeds. A results.json of a very large estate is a few
    hundred MiB; deflate compresses JSON 5-30 to 1, never 200 to 1 at that size."""

    max_members: int = 100_000
    max_member_bytes: int = 2 * 1024**3
    max_total_bytes: int = 4 * 1024**3
    max_ratio: int = 200
    ratio_from_bytes: int = 1024 * 1024  # small members may compress better: only above this


def name_problem(name: str) -> str | None:
    """Why `name` may not be a member name of a pack (None when it may)."""
    if not name:
        return "an empty name"
    if not name.isprintable():
        return "a name with control characters"
    if "\\" in name:
        return "a backslash in its name"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path (zip slip)"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' component that escapes the archive (zip slip)"
    if name.endswith("/"):
        return "a directory entry"
    if any(p in ("", ".") for p in parts):
        return "an empty or '.' path component"
    if len(name) > 1024:
        return "a name over 1024 characters"
    return None


def write_zip(members: Mapping[str, bytes], first: Sequence[str] = ()) -> bytes:
    """The pack's bytes: the names in `first` in that order, then the rest sorted."""
    for name in members:
        problem = name_problem(name)
        if problem is not None:  # a bug in the pack builder, never user input
            raise ValueError(f"pack member {name!r}: {problem}")
    order = [n for n in first if n in members] + sorted(set(members) - set(first))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = 3  # Unix: the mode below is meaningful
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name], compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PackReader:
    """An open pack whose directory passed every check; members are read on demand.

    Use as a context manager. `names` lists the members in archive order."""

    def __init__(self, path: str | os.PathLike[str], limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.shown = str(path)
        self.limits = limits or Limits()
        self._file: BinaryIO | None = None
        self._zip: zipfile.ZipFile | None = None
        self._infos: dict[str, zipfile.ZipInfo] = {}

    def __enter__(self) -> PackReader:
        try:
            self._file = open(self.path, "rb")  # closed in __exit__
        except FileNotFoundError:
            raise PackError(f"{self.shown}: no such file") from None
        except OSError as exc:
            raise PackError(f"{self.shown}: cannot read: {exc.strerror or exc}") from None
        try:
            self._zip = zipfile.ZipFile(self._file)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            self.close()
            raise PackError(
                f"{self.shown}: not a readable zip archive (truncated or damaged?): {exc}"
            ) from None
        try:
            self._infos = self._check_directory(infos)
        except PackError:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def _refuse(self, name: str, why: str) -> PackError:
        return PackError(f"{self.shown}: member {name!r}: {why}; the pack is refused")

    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        limits = self.limits
        if len(infos) > limits.max_members:
            raise PackError(
                f"{self.shown}: {len(infos)} members, over the limit of {limits.max_members}"
            )
        checked: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            problem = name_problem(name)
            if problem is not None:
                raise self._refuse(name, f"has {problem}")
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise self._refuse(name, "is a symbolic link")
            # zip tools that record no file type (Python's writestr) leave S_IFMT at 0
            if info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                raise self._refuse(name, "is not a regular file")
            if info.flag_bits & 0x1:
                raise self._refuse(name, "is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._refuse(name, f"uses compression method {info.compress_type}")
            if name in checked:
                raise self._refuse(name, "appears twice")
            if info.file_size > limits.max_member_bytes:
                raise self._refuse(
                    name, f"declares {info.file_size} bytes, over {limits.max_member_bytes}"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.ratio_from_bytes and ratio > limits.max_ratio:
                raise self._refuse(
                    name, f"expands {ratio:.0f} to 1 (a zip bomb?), over {limits.max_ratio} to 1"
                )
            total += info.file_size
            if total > limits.max_total_bytes:
                raise PackError(
                    f"{self.shown}: members declare over {limits.max_total_bytes} bytes in all "
                    "(a zip bomb?); the pack is refused"
                )
            checked[name] = info
        self._check_overlaps(infos)
        return checked

    def _check_overlaps(self, infos: list[zipfile.ZipInfo]) -> None:
        """Every member's data must end before the next member's local header starts: entries
        that share data are how a small zip expands to petabytes without nesting."""
        ordered = sorted(infos, key=lambda i: i.header_offset)
        for current, following in itertools.pairwise(ordered):
            # 30 bytes of fixed local header, then the name and extra field (at least the
            # name as the directory gives it), then the compressed data.
            end = current.header_offset + 30 + _name_length(current) + current.compress_size
            if end > following.header_offset:
                raise self._refuse(
                    following.filename,
                    f"overlaps the data of {current.filename!r} (a zip bomb?)",
                )

    def _stream(self, name: str) -> Iterator[bytes]:
        assert self._zip is not None, "PackReader used outside its `with` block"
        info = self._infos[name]
        left = info.file_size
        try:
            with self._zip.open(info) as member:
                while True:
                    chunk = member.read(min(_CHUNK, left + 1))
                    if not chunk:
                        break
                    left -= len(chunk)
                    if left < 0:
                        raise self._refuse(name, "holds more than its declared size")
                    yield chunk
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            # zlib.error is an Exception subclass outside these; zipfile wraps most as BadZipFile
            raise self._refuse(name, f"cannot be read ({exc})") from None
        except Exception as exc:  # zlib.error: a damaged deflate stream
            raise self._refuse(name, f"cannot be read ({type(exc).__name__}: {exc})") from None

    def read(self, name: str) -> bytes:
        """The whole member, bounded by its (capped) declared size; CRC checked."""
        return b"".join(self._stream(name))

    def sha256(self, name: str) -> tuple[str, int]:
        """The member's SHA-256 and size, hashed as it streams (nothing kept in memory)."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self._stream(name):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size


def _name_length(info: zipfile.ZipInfo) -> int:
    """The name's length in bytes as stored (UTF-8 when flagged, else code page 437)."""
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    try:
        return len(info.orig_filename.encode(encoding))
    except UnicodeEncodeError:
        return len(info.orig_filename.encode("utf-8"))
