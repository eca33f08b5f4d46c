"""No member is decompressed past `integrity_max_bytes`, however small it is compressed.

A deflated zip member, or a gzipped pickle, can hold gigabytes of zeros in kilobytes; a pickle
that declares one huge `BINBYTES8` value makes the walk read all of it. The scan stops at the
limit, says so naming it, and fails closed (an issue without a global: `serialization.unsafe`
is not empty, so the policies error rather than pass).
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from scanner.artefacts.formats.archives import CappedStream, DecompressionLimit, zip_members
from scanner.artefacts.serialization import scan_file
from scanner.sources.interface import SourceSpec
from scanner.sources.local import LocalPathSource

MIB = 1024 * 1024
LIMIT = 2 * MIB
HUGE = 40 * MIB  # decompressed; a few tens of kilobytes compressed


def bomb_pickle(size: int = HUGE) -> bytes:
    """A protocol-4 pickle of one BINBYTES8 value of `size` zero bytes."""
    return b"\x80\x04" + b"\x8e" + struct.pack("<Q", size) + bytes(size) + b"."


def zip_bomb(tmp_path: Path, member: str = "archive/data.pkl") -> Path:
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(member, bomb_pickle())
        zf.writestr("archive/version", "3\n")
    return path


def test_the_bombs_are_small_on_disk(tmp_path: Path) -> None:
    assert zip_bomb(tmp_path).stat().st_size < HUGE // 100
    assert len(gzip.compress(bomb_pickle())) < HUGE // 100


def test_a_zip_member_is_not_decompressed_past_the_limit(tmp_path: Path) -> None:
    scan = scan_file(zip_bomb(tmp_path), "model.pt", "pytorch", max_bytes=LIMIT)
    reasons = [i.reason for i in scan.issues if i.global_name is None]
    assert any(
        f"decompresses to more than {LIMIT} bytes (the integrity_max_bytes limit)" in r
        for r in reasons
    ), reasons


def test_a_compressed_pickle_is_not_decompressed_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(gzip.compress(bomb_pickle()))
    scan = scan_file(path, "model.joblib", "joblib", max_bytes=LIMIT)
    assert scan.issues and all(i.global_name is None for i in scan.issues)
    assert "the integrity_max_bytes limit" in scan.issues[0].reason


def test_within_the_limit_the_same_files_are_scanned_whole(tmp_path: Path) -> None:
    path = zip_bomb(tmp_path)
    assert scan_file(path, "model.pt", "pytorch", max_bytes=HUGE * 2).issues == []


def test_a_damaged_member_read_from_its_local_header_is_capped_too() -> None:
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = raw.compress(bomb_pickle()) + raw.flush()
    name = b"data.pkl"
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(data), HUGE, len(name), 0
    )
    archive = local + name + data  # no central directory: read from the local header
    (member,) = list(zip_members(io.BytesIO(archive), len(archive), cap=LIMIT))
    with pytest.raises(DecompressionLimit):
        member.open()


def test_a_capped_stream_counts_seeks_and_reads() -> None:
    capped = CappedStream(io.BytesIO(bytes(100)), 10)
    assert capped.read(4) == bytes(4) and capped.tell() == 4
    with pytest.raises(DecompressionLimit):
        capped.seek(50)
    with pytest.raises(DecompressionLimit):
        CappedStream(io.BytesIO(bytes(100)), 10).read()


def test_the_path_source_takes_integrity_max_bytes(tmp_path: Path) -> None:
    root = tmp_path / "models" / "bomb"
    root.mkdir(parents=True)
    zip_bomb(root)
    spec = SourceSpec("path", str(tmp_path / "models"), "disk", {"integrity_max_bytes": LIMIT})
    (artefact,) = LocalPathSource(spec).collect(lambda _m: None).resources
    unsafe = artefact.attributes["serialization"]["unsafe"]
    assert unsafe and all(u["global"] is None for u in unsafe)
    assert any("integrity_max_bytes" in u["reason"] for u in unsafe)
