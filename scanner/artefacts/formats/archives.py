"""Zip and 7z archives, read member by member the way model loaders read them, also when damaged.

`zipfile` is strict where loaders are not. PyTorch's zip reader ignores the CRC, the encryption
and patch flag bits, and a file name in a local header that disagrees with the central
directory; `zipfile` refuses all of these, so a scanner built on it answers "could not be
scanned" for an archive that loads (and runs) fine. Here every member is opened with `zipfile`
first; when that fails for one of those reasons, the member's bytes are read from its local
file header instead (stored or deflated), and the damage is reported beside what the bytes
hold. When the central directory itself cannot be parsed, the archive is read by walking its
local file headers from the start, as a streaming unzipper would.

A member flagged as encrypted is read as if it were not: if its bytes then decode and start
like a pickle (a flag set to fool scanners), they are scanned; otherwise it really is
encrypted and cannot be read without the password (fail closed, with that reason).

7z archives are read with py7zr (pure Python), members spooled to memory or a temporary file
within a byte budget; an encrypted one cannot be read without the password (fail closed).

Decompression is bounded: given a `cap`, no member is decompressed past `cap` bytes (a small
deflated member can claim, and hold, gigabytes of zeros); reading past it raises
`DecompressionLimit`, which the serialization scan reports as a file not fully scanned.
"""

from __future__ import annotations

import bz2
import io
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

ZIP_MAGIC = b"PK\x03\x04"
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
MAX_ARCHIVE_MEMBERS = 10_000
MAX_EXTRACTED_BYTES = 512 * 1024 * 1024  # per archive, for 7z (decompressed to spool files)
MAX_LOCAL_HEADER_SCAN = 1024 * 1024  # bytes searched for the next local header in a damaged zip
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # local file header, 30 bytes
_ENCRYPTED, _DATA_DESCRIPTOR, _PATCHED, _STRONG = 0x1, 0x8, 0x20, 0x40
_STORED, _DEFLATED, _BZIP2 = 0, 8, 12
_AES = 99  # WinZip AES encryption (the real method is in an extra field)


class ArchiveError(Exception):
    """The archive as a whole cannot be read (the reason is the message)."""


class DecompressionLimit(ValueError):
    """A member or stream decompressed past its cap: what follows was not read."""

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"decompresses to more than {cap} bytes (the integrity_max_bytes limit): "
            "not read past it"
        )
        self.cap = cap


class CappedStream:
    """A decompressing stream that refuses to go past `cap` bytes (`DecompressionLimit`).

    Reads, and seeks (a zip inside a zip seeks its member stream, which decompresses to get
    there), are counted by position; everything else is the wrapped stream's."""

    def __init__(self, stream: Any, cap: int) -> None:
        self.stream = stream
        self.cap = cap
        self.pos = 0

    def read(self, n: int | None = -1) -> bytes:
        room = self.cap + 1 - self.pos
        want = room if n is None or n < 0 else min(n, room)
        data: bytes = self.stream.read(want)
        self.pos += len(data)
        if self.pos > self.cap:
            raise DecompressionLimit(self.cap)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET and offset > self.cap:
            raise DecompressionLimit(self.cap)
        where = int(self.stream.seek(offset, whence))
        if where > self.cap:
            raise DecompressionLimit(self.cap)
        self.pos = where
        return where

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return bool(getattr(self.stream, "seekable", lambda: False)())

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> CappedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _bounded(data_size: int, cap: int | None) -> None:
    if cap is not None and data_size > cap:
        raise DecompressionLimit(cap)


@dataclass
class Member:
    """One file inside an archive. `open()` gives a fresh stream of its (decompressed) bytes."""

    name: str
    size: int | None
    opener: Callable[[], BinaryIO] | None
    problem: str | None = None  # it cannot be read at all: why
    notes: list[str] = field(default_factory=list)  # damage found on the way (reported)
    cap: int | None = None  # bytes it may decompress to (`DecompressionLimit` past them)

    def open(self) -> BinaryIO:
        assert self.opener is not None, self.problem
        stream = self.opener()
        if self.cap is None:
            return stream
        return CappedStream(stream, self.cap)  # type: ignore[return-value]


# --- zip --------------------------------------------------------------------------------------


def zip_members(f: BinaryIO, size: int, cap: int | None = None) -> Iterator[Member]:
    """Every file member of a zip, from its central directory or, when that is broken, from
    its local headers. Raises ArchiveError when neither yields a member. `cap`: the bytes any
    member may decompress to."""
    for member in _zip_members(f, size):
        member.cap = cap
        yield member


def _zip_members(f: BinaryIO, size: int) -> Iterator[Member]:
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except Exception as e:  # zipfile raises many types on malformed archives
        yield from _from_local_headers(f, size, str(e))
        return
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise ArchiveError(f"zip archive has {len(infos)} members: not scanned")
    for info in infos:
        yield _cd_member(zf, f, info)
    listed = {i.header_offset: i.compress_size for i in zf.infolist()}
    yield from _unlisted(f, size, listed)


def _unlisted(f: BinaryIO, size: int, listed: dict[int, int]) -> Iterator[Member]:
    """Members whose local headers the central directory does not list (it lies by omission):
    a streaming reader still sees them. The local headers are followed from the start, using
    the directory's sizes where it has them; the walk stops at the first gap."""
    offset, count = 0, 0
    while offset < size and count < MAX_ARCHIVE_MEMBERS:
        count += 1
        header = _local_header(f, offset, size)
        if header is None:
            return
        name, flags, method, data_at = header
        f.seek(offset + 18)
        csize = listed.get(offset, struct.unpack("<I", f.read(4))[0])
        if offset not in listed:
            if flags & _DATA_DESCRIPTOR and csize == 0:
                end = _deflate_end(f, data_at) if method == _DEFLATED else None
                if end is None:
                    return
                csize = end - data_at
            if not name.endswith("/"):
                note = (
                    "the archive's central directory does not list it (read from its local header)"
                )
                yield _raw_member(
                    f, Member(name, None, None, notes=[note]), method, flags, data_at, csize
                )
        offset = _after_data(f, data_at + csize, flags)


def _after_data(f: BinaryIO, end: int, flags: int) -> int:
    """Where the next local header starts: after the data, and its data descriptor if any."""
    if not flags & _DATA_DESCRIPTOR:
        return end
    f.seek(end)
    sig = f.read(4)
    for skip in (16, 24) if sig == b"PK\x07\x08" else (12, 20):
        f.seek(end + skip)
        if f.read(4) == ZIP_MAGIC:
            return end + skip
    return end + 12


def _cd_member(zf: zipfile.ZipFile, f: BinaryIO, info: zipfile.ZipInfo) -> Member:
    header = _local_header(f, info.header_offset)
    member = Member(info.filename, info.file_size, None)
    if header is None:
        member.problem = "its local file header is missing or corrupt"
        return member
    local_name, flags, method, data_at = header
    if local_name != info.filename:
        member.notes.append(
            f"the archive's directory names it {info.filename!r} but its local header "
            f"{local_name!r}: the two disagree (read from the local header)"
        )
    lenient = local_name != info.filename or (info.flag_bits | flags) & (
        _ENCRYPTED | _PATCHED | _STRONG
    )
    if lenient:
        return _raw_member(f, member, method, flags | info.flag_bits, data_at, info.compress_size)

    def open_checked() -> BinaryIO:
        try:
            with zf.open(info) as m:
                data = m.read() if member.cap is None else m.read(member.cap + 1)
                _bounded(len(data), member.cap)
        except zipfile.BadZipFile as e:
            if "CRC" not in str(e):
                raise
            member.notes.append(
                "its CRC-32 does not match its data: the archive is damaged or was altered "
                "(loaders that skip the check read it anyway)"
            )
            return _raw_open(f, method, data_at, info.compress_size, member.cap)
        return io.BytesIO(data)

    def open_stream() -> BinaryIO:
        return zf.open(info)  # type: ignore[return-value]

    member.opener = open_checked if info.file_size <= 256 * 1024 * 1024 else open_stream
    return member


def _raw_member(
    f: BinaryIO, member: Member, method: int, flags: int, data_at: int, csize: int
) -> Member:
    if flags & (_ENCRYPTED | _STRONG) or method == _AES:
        head = _try_head(f, method, data_at, csize)
        if head is None or not looks_like_content(head):
            member.problem = (
                "it is encrypted (password-protected): its content cannot be read without the "
                "password, so it cannot be scanned"
            )
            return member
        member.notes.append(
            "it is flagged as encrypted but stored in the clear: loaders that ignore the flag "
            "read it"
        )
    if method not in (_STORED, _DEFLATED, _BZIP2):
        member.problem = f"compression method {method} in a damaged entry is not supported"
        return member
    member.opener = lambda: _raw_open(f, method, data_at, csize, member.cap)
    return member


def _local_header(
    f: BinaryIO, offset: int, size: int | None = None
) -> tuple[str, int, int, int] | None:
    """(name, flags, method, data offset) of the local file header at `offset`; None when there
    is none, or (given the archive's size) one whose fields point past the end."""
    if offset < 0:  # a hostile directory entry
        return None
    f.seek(offset)
    raw = f.read(_LOCAL.size)
    if len(raw) < _LOCAL.size:
        return None
    sig, _, flags, method, _, _, _, csize, _, name_len, extra_len = _LOCAL.unpack(raw)
    if sig != ZIP_MAGIC:
        return None
    if size is not None and offset + _LOCAL.size + name_len + extra_len + csize > size:
        return None
    name = f.read(name_len)
    encoding = "utf-8" if flags & 0x800 else "cp437"
    return (
        name.decode(encoding, "replace"),
        flags,
        method,
        offset + _LOCAL.size + name_len + extra_len,
    )


def _raw_open(
    f: BinaryIO, method: int, data_at: int, csize: int, cap: int | None = None
) -> BinaryIO:
    """A member's bytes read from its local data, decompressed (within `cap` bytes), without
    any check."""
    f.seek(data_at)
    raw = f.read(csize)
    limit = 0 if cap is None else cap + 1  # 0: no limit, for zlib
    if method == _STORED:
        data = raw
    elif method == _DEFLATED:
        data = zlib.decompressobj(-15).decompress(raw, limit)
    elif method == _BZIP2:
        data = bz2.BZ2Decompressor().decompress(raw, max_length=limit or -1)
    else:
        raise ArchiveError(f"compression method {method} is not supported")
    _bounded(len(data), cap)
    return io.BytesIO(data)


def _try_head(f: BinaryIO, method: int, data_at: int, csize: int) -> bytes | None:
    f.seek(data_at)
    raw = f.read(min(csize, 64 * 1024))
    try:
        if method == _STORED:
            return raw[:64]
        if method == _DEFLATED:
            return zlib.decompressobj(-15).decompress(raw, 64)
        if method == _BZIP2:
            return bz2.BZ2Decompressor().decompress(raw, max_length=64)
    except (zlib.error, OSError, ValueError, EOFError):
        return None
    return None


def _from_local_headers(f: BinaryIO, size: int, error: str) -> Iterator[Member]:
    """Members found by walking local file headers from the start (the directory is broken)."""
    why = f"the zip's central directory is unreadable ({error})"
    offset, found, attempts = 0, 0, 0
    while offset < size and found < MAX_ARCHIVE_MEMBERS:
        attempts += 1
        if attempts > 4 * MAX_ARCHIVE_MEMBERS:  # a file of false signatures: stop searching
            break
        header = _local_header(f, offset, size)
        if header is None:
            nxt = _next_signature(f, offset + 1, size)
            if nxt is None:
                break
            offset = nxt
            continue
        name, flags, method, data_at = header
        f.seek(offset + 18)
        csize = struct.unpack("<I", f.read(4))[0]
        if flags & _DATA_DESCRIPTOR and csize == 0:
            end = _deflate_end(f, data_at) if method == _DEFLATED else None
            if end is None:
                yield Member(name, None, None, problem=f"{why}; its size is not recorded")
                return
            csize = end - data_at
        found += 1
        member = Member(name, None, None, notes=[f"{why}: read from its local file header"])
        if not name.endswith("/"):
            yield _raw_member(f, member, method, flags, data_at, csize)
        offset = data_at + csize
    if found == 0:
        raise ArchiveError(f"unreadable zip ({error})")


def _next_signature(f: BinaryIO, start: int, size: int) -> int | None:
    f.seek(start)
    window = f.read(min(MAX_LOCAL_HEADER_SCAN, size - start))
    i = window.find(ZIP_MAGIC)
    return None if i < 0 else start + i


def _deflate_end(f: BinaryIO, data_at: int) -> int | None:
    """Where a deflate stream of unknown length ends (its own end marker tells); the output
    is produced in bounded pieces and dropped: only where the input ends matters."""
    f.seek(data_at)
    d = zlib.decompressobj(-15)
    fed = 0
    try:
        while not d.eof:
            chunk = f.read(64 * 1024)
            if not chunk:
                return None
            fed += len(chunk)
            d.decompress(chunk, 1024 * 1024)
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail, 1024 * 1024)
    except zlib.error:
        return None
    return data_at + fed - len(d.unused_data)


def looks_like_content(head: bytes) -> bool:
    """Bytes a loader would act on: a pickle, a nested archive, a NumPy array."""
    return (
        (head[:1] == b"\x80" and len(head) > 1 and 0 <= head[1] <= 5)
        or head.startswith((ZIP_MAGIC, SEVENZIP_MAGIC, b"\x93NUMPY"))
        or head[:1] in (b"(", b"c", b"]", b"}")
    )


# --- 7z ---------------------------------------------------------------------------------------


def sevenzip_members(f: BinaryIO, budget: int = MAX_EXTRACTED_BYTES) -> list[Member]:
    """Every file of a 7z archive, decompressed into spool files. Raises ArchiveError."""
    import py7zr  # lazy: only for 7z archives
    from py7zr.io import Py7zIO, WriterFactory

    spent = [0]

    class _Spool(Py7zIO):
        def __init__(self) -> None:
            # lives as long as the member list; deleted when garbage-collected
            self.buf: Any = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115

        def write(self, s: bytes | bytearray) -> int:
            spent[0] += len(s)
            if spent[0] > budget:
                raise ArchiveError(
                    f"7z archive decompresses to more than {budget} bytes (the "
                    "integrity_max_bytes limit): not scanned"
                )
            return int(self.buf.write(s))

        def read(self, size: int | None = None) -> bytes:
            return bytes(self.buf.read(size if size is not None else -1))

        def seek(self, offset: int, whence: int = 0) -> int:
            return int(self.buf.seek(offset, whence))

        def flush(self) -> None:
            self.buf.flush()

        def size(self) -> int:
            here = self.buf.tell()
            end = self.buf.seek(0, io.SEEK_END)
            self.buf.seek(here)
            return int(end)

    class _Factory(WriterFactory):
        def __init__(self) -> None:
            self.products: dict[str, _Spool] = {}

        def create(self, filename: str) -> Py7zIO:
            self.products[filename] = _Spool()
            return self.products[filename]

    f.seek(0)
    try:
        with py7zr.SevenZipFile(f, "r") as archive:
            if archive.needs_password():
                raise ArchiveError(
                    "7z archive is encrypted (password-protected): its content cannot be read "
                    "without the password, so it cannot be scanned"
                )
            infos = [i for i in archive.list() if not i.is_directory]
            if len(infos) > MAX_ARCHIVE_MEMBERS:
                raise ArchiveError(f"7z archive has {len(infos)} members: not scanned")
            factory = _Factory()
            archive.extractall(factory=factory)
    except ArchiveError:
        raise
    except Exception as e:  # py7zr raises many types on malformed or unsupported archives
        if "password" in str(e).lower():
            raise ArchiveError(
                "7z archive is encrypted (password-protected): cannot be scanned"
            ) from e
        raise ArchiveError(f"unreadable 7z archive ({type(e).__name__}: {e})") from e
    members = []
    for info in infos:
        spool = factory.products.get(info.filename)
        if spool is None:
            members.append(Member(info.filename, None, None, problem="was not extracted"))
            continue

        def opener(s: _Spool = spool) -> BinaryIO:
            return _View(s.buf)  # type: ignore[return-value]

        members.append(Member(info.filename, spool.size(), opener))
    return members


class _View(io.RawIOBase):
    """A read-only view of a spool file with its own position; closing it leaves the spool
    open, so a member can be opened again."""

    def __init__(self, buf: Any) -> None:
        self.buf = buf
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        self.buf.seek(self.pos)
        data = self.buf.read(len(b))
        b[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        end = self.buf.seek(0, io.SEEK_END)
        self.pos = {0: offset, 1: self.pos + offset, 2: end + offset}[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos
