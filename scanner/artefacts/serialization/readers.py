"""Where the pickle walk reads from: memory when the pickle is small, else a bounded stream.

pickletools trusts the lengths a pickle declares (`BINBYTES8` may claim 2**63 bytes) and calls
`read(n)`; neither reader ever allocates more than the bytes that are there.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

SKIP_READ_THRESHOLD = 8 * 1024 * 1024  # reads above this are skipped, not materialised
MAX_LINE = 1024 * 1024  # protocol-0 text arguments longer than this are cut
IN_MEMORY_MAX = 256 * 1024 * 1024  # pickles up to this size are walked from memory


class Skipped:
    """Stands in for a huge bytes argument: pickletools checks only its length."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


class BoundedReader:
    """A read-only view that never allocates more than the data left, and skips huge reads.

    pickletools trusts declared lengths (`BINBYTES8` can claim 2**63 bytes) and calls
    `read(n)`; a plain file would try to allocate that. Here a read is capped at what remains
    (so the length check fails cleanly) and reads above SKIP_READ_THRESHOLD are skipped in
    chunks and answered with a length-only placeholder.
    """

    def __init__(self, f: BinaryIO, limit: int | None = None) -> None:
        self.f = f
        self.pos = 0
        self.limit = limit  # bytes available, when known
        self.pushback = b""  # a byte read ahead by `at_eof` on a stream of unknown length

    def read(self, n: int = -1) -> Any:
        remaining = None if self.limit is None else max(0, self.limit - self.pos)
        if n is None or n < 0:
            n = remaining if remaining is not None else SKIP_READ_THRESHOLD
        if remaining is not None:
            n = min(n, remaining)
        if n > SKIP_READ_THRESHOLD:
            skipped = self.skip(n)
            return Skipped(skipped) if skipped == n else b""
        data = self._raw(n)
        self.pos += len(data)
        return data

    def _raw(self, n: int) -> bytes:
        if not self.pushback or n <= 0:
            return self.f.read(n)
        head, self.pushback = self.pushback, b""
        return head + self.f.read(n - 1) if n > 1 else head

    def at_eof(self) -> bool:
        if self.limit is not None:
            return self.pos >= self.limit
        if not self.pushback:
            self.pushback = self.f.read(1)
        return not self.pushback

    def readline(self) -> bytes:
        out = bytearray()
        while len(out) < MAX_LINE:
            c = self.read(1)
            if not c:
                break
            out += c
            if c == b"\n":
                break
        return bytes(out)

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            chunk = self._raw(min(1024 * 1024, n - done))
            if not chunk:
                break
            done += len(chunk)
        self.pos += done
        return done

    def tell(self) -> int:
        return self.pos


class MemoryReader(io.BytesIO):
    """A pickle held in memory: reads stay in C (the walk's hot path), and a declared length
    can never allocate more than the bytes that are there."""

    def skip(self, n: int) -> int:
        start = self.tell()
        end = min(start + n, len(self.getbuffer()))
        self.seek(end)
        return end - start

    def at_eof(self) -> bool:
        return self.tell() >= len(self.getbuffer())


Reader = BoundedReader | MemoryReader


def reader_for(f: BinaryIO, size: int | None) -> Reader:
    """In memory when the size is known and small enough, else streamed and bounded."""
    if size is not None and size <= IN_MEMORY_MAX:
        return MemoryReader(f.read(size))
    return BoundedReader(f, size)
