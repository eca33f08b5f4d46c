"""A read-only, seekable view of one stored object through ranged reads, with a byte budget.

Format sniffing (`scanner.artefacts.formats.sniff_stream`) reads a 64 KiB head and a few small
windows (a zip's central directory, a safetensors header); fetching whole multi-gigabyte
weights for that would be absurd. Reads are served from 64 KiB-aligned blocks fetched on
demand (adjacent missing blocks in one request) and cached, and the total fetched per object
is capped: past the budget a read fails like an I/O error, so the format becomes Unknown
with the reason instead of the scanner downloading a hostile object's every byte.
"""

from __future__ import annotations

import io
from typing import Any

from scanner.sources.objectstore.reader import ObjectReadError, ObjectStoreReader, StoredObject

BLOCK = 64 * 1024


class RandomAccess(io.RawIOBase):
    """A read-only, seekable file of `size` bytes, each read served by `_range(start, end)`.

    What the object-store sniffing view and the image layers' known-head view share: the
    position and seek rules, and reads clamped to the size (so `_range` is never asked past
    the end, and a read at the end answers b"" as a file does)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), max(0, self._size - self._pos))
        if n == 0:
            return 0
        data = self._range(self._pos, self._pos + n)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _range(self, start: int, end: int) -> bytes:
        """Bytes `start` to `end` (0 <= start < end <= size); raises OSError when unreadable."""
        raise NotImplementedError


class RangedObject(RandomAccess):
    def __init__(self, reader: ObjectStoreReader, obj: StoredObject, budget: int) -> None:
        super().__init__(obj.size)
        self._reader = reader
        self._obj = obj
        self._budget = budget
        self._blocks: dict[int, bytes] = {}
        self.fetched = 0
        self.requests = 0

    def _range(self, start: int, end: int) -> bytes:
        first, last = start // BLOCK, (end - 1) // BLOCK
        missing = [b for b in range(first, last + 1) if b not in self._blocks]
        if missing:
            self._fetch(missing[0], missing[-1])
        data = b"".join(self._blocks[b] for b in range(first, last + 1))
        offset = start - first * BLOCK
        return data[offset : offset + (end - start)]

    def _fetch(self, first: int, last: int) -> None:
        lo = first * BLOCK
        length = min(self._size, (last + 1) * BLOCK) - lo
        if self.fetched + length > self._budget:
            raise ObjectReadError(
                f"sniffing needs more than the {self._budget}-byte read budget (sniff_bytes)"
            )
        data = self._reader.read_range(self._obj, lo, length)
        self.requests += 1
        if len(data) != length:
            raise ObjectReadError(
                f"a ranged read returned {len(data)} bytes for a {length}-byte range"
            )
        self.fetched += len(data)
        for b in range(first, last + 1):
            self._blocks[b] = data[(b - first) * BLOCK : (b - first + 1) * BLOCK]
