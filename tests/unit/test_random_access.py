"""`objectstore.ranged.RandomAccess`: the seekable read-only file the object-store sniffing view
and the image layers' known-head view are built on. Its subclass here serves bytes from memory
and records what it was asked, so the clamping and seek rules are seen directly."""

from __future__ import annotations

import io

import pytest

from scanner.sources.objectstore.ranged import RandomAccess

DATA = bytes(range(100))


class Recorded(RandomAccess):
    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(size)
        self.data = data
        self.asked: list[tuple[int, int]] = []

    def _range(self, start: int, end: int) -> bytes:
        self.asked.append((start, end))
        if end > len(self.data):
            raise OSError("beyond what is known")
        return self.data[start:end]


def test_reads_and_seeks_as_a_file() -> None:
    f = Recorded(DATA, len(DATA))
    assert f.readable() and f.seekable()
    assert f.read(10) == DATA[:10] and f.tell() == 10
    assert f.seek(-5, io.SEEK_END) == 95 and f.read() == DATA[95:]
    assert f.seek(-3, io.SEEK_CUR) == 97 and f.read(2) == DATA[97:99]
    assert f.seek(-500) == 0  # never before the start
    with io.BufferedReader(Recorded(DATA, len(DATA))) as buffered:
        assert buffered.read() == DATA


def test_reads_stop_at_the_size_without_asking_past_it() -> None:
    f = Recorded(DATA, 40)
    f.seek(30)
    assert f.read(50) == DATA[30:40]
    assert f.read(5) == b""
    f.seek(1000)
    assert f.read(1) == b""
    assert f.asked == [(30, 40)]


def test_an_unreadable_range_raises() -> None:
    f = Recorded(DATA[:10], 100)
    assert f.read(10) == DATA[:10]
    with pytest.raises(OSError, match="beyond what is known"):
        f.read(1)
