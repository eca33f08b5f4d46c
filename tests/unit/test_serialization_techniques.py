"""Each evasion technique the serialization scan closes, and each benign shape it must pass.

Samples are built here (tests/pickle_craft.py), never downloaded, and never unpickled except
where a test shows CPython's own behaviour on a harmless pickle (the premise of a technique).
"""

from __future__ import annotations
import __future__

import collections.abc
import io
import pickle
import zipfile
from pathlib import Path

import pytest

from scanner.artefacts.formats import sniff
from scanner.artefacts.serialization import FileScan, Issue, scan_file
from scanner.artefacts.serialization.allowlist import is_safe
from scanner.sources.interface import SourceSpec
from scanner.sources.local import LocalPathSource
from tests import pickle_craft as craft

EVAL = craft.call("builtins", "eval", ("print('456')",))
SYSTEM = craft.call("posix", "system", ("id",))


def scan_bytes(tmp_path: Path, name: str, data: bytes) -> FileScan:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_file(path, name, sniff(path).format)


def named(scan: FileScan) -> set[str]:
    return {i.global_name for i in scan.issues if i.global_name is not None}


def unnamed(scan: FileScan) -> list[str]:
    return [i.reason for i in scan.issues if i.global_name is None]


# --- several pickles in one stream --------------------------------------------------------------


def test_second_pickle_after_a_benign_one_is_walked(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "m.pkl", pickle.dumps(["a", "b"]) + SYSTEM)
    assert named(scan) == {"posix.system"}
    assert scan.pickles_walked == 2


def test_every_pickle_to_the_end_of_the_file_is_walked(tmp_path: Path) -> None:
    data = b"".join(pickle.dumps(i, protocol=p) for i, p in ((1, 0), (2, 2), (3, 5)))
    scan = scan_bytes(tmp_path, "m.pkl", data + EVAL)
    assert named(scan) == {"builtins.eval"} and scan.pickles_walked == 4


def test_clean_pickles_in_a_row_pass(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "m.pkl", pickle.dumps({"a": 1}) + pickle.dumps([1.5], protocol=2))
    assert scan.issues == [] and scan.pickles_walked == 2


def test_trailing_bytes_that_are_not_a_pickle_fail_closed(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "m.pkl", pickle.dumps({"a": 1}) + b"\n\n\t\t")
    (reason,) = unnamed(scan)
    assert reason.startswith("the data after pickle 1, from byte ")
    assert "is not a valid pickle" in reason


# --- FRAME length divergence ---------------------------------------------------------------------


def test_premise_a_long_frame_hides_the_next_pickle_from_a_bytes_reader(tmp_path: Path) -> None:
    """On CPython, an unbuffered file resumes at the frame's end; bytes read on after STOP."""
    hidden = pickle.dumps("HIDDEN", protocol=2)
    data = craft.frame_overhang(hidden)
    path = tmp_path / "m.pkl"
    path.write_bytes(data)
    with path.open("rb", buffering=0) as f:
        assert pickle.load(f) == 1
        assert pickle.load(f) == "HIDDEN"
    first_end = data.index(b".") + 1  # what a reader of the bytes loads next
    assert pickle.loads(data[first_end:]) != "HIDDEN"


def test_frame_longer_than_its_opcodes_is_flagged_and_the_hidden_pickle_named(
    tmp_path: Path,
) -> None:
    scan = scan_bytes(tmp_path, "m.pkl", craft.frame_overhang(SYSTEM))
    assert named(scan) == {"posix.system"}
    (reason,) = unnamed(scan)
    assert "FRAME at byte 2 declares" in reason and "fail closed" in reason
    assert "pickle.load on a file resumes at byte" in reason


def test_frame_ending_inside_an_opcode_is_flagged(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "m.pkl", craft.frame_too_short())
    assert "an opcode runs across that end" in unnamed(scan)[0]


def test_frame_starting_inside_another_frame_is_flagged(tmp_path: Path) -> None:
    inner = b"K\x01."
    nested = b"\x95" + (len(inner)).to_bytes(8, "little") + inner
    data = b"\x80\x04\x95" + (len(nested) + 4).to_bytes(8, "little") + nested
    scan = scan_bytes(tmp_path, "m.pkl", data)
    assert any("starts inside the frame declared at byte 2" in r for r in unnamed(scan))


@pytest.mark.parametrize("protocol", [4, 5])
def test_frames_cpython_writes_pass_also_around_large_unframed_bytes(
    tmp_path: Path, protocol: int
) -> None:
    obj = {"small": list(range(100)), "big": b"\x01" * 200_000, "after": "x" * 70_000}
    scan = scan_bytes(tmp_path, "m.pkl", pickle.dumps(obj, protocol=protocol))
    assert scan.issues == []


# --- every pickle of a PyTorch legacy file ------------------------------------------------------


def test_every_global_of_a_legacy_torch_file_is_reported(tmp_path: Path) -> None:
    pickles = [
        pickle.dumps(craft.TORCH_MAGIC, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001}, protocol=2),
        craft.call("builtins", "eval", ("1",), protocol=2),
        craft.call("posix", "system", ("id",), protocol=2),
    ]
    scan = scan_bytes(tmp_path, "m.pt", craft.torch_legacy(pickles))
    assert named(scan) == {"builtins.eval", "posix.system"}
    assert scan.pickles_walked == 5


def test_legacy_torch_file_without_its_magic_is_walked_to_the_end(tmp_path: Path) -> None:
    pickles = [craft.call("builtins", "eval", ("1",), protocol=2)] + [
        pickle.dumps(i, protocol=2) for i in range(3)
    ]
    pickles.append(craft.call("posix", "system", ("id",), protocol=2))
    scan = scan_bytes(tmp_path, "m.pt", craft.torch_legacy(pickles))
    assert named(scan) == {"builtins.eval", "posix.system"}


def test_legacy_torch_storage_bytes_after_the_five_pickles_are_data(tmp_path: Path) -> None:
    assert scan_bytes(tmp_path, "m.pt", craft.torch_legacy()).issues == []


# --- archives by content, not by name ----------------------------------------------------------


@pytest.mark.parametrize("name", ["payload.zip", "weights.txt", "weights", "model.data"])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_holding_a_pickle_is_found_by_content(
    tmp_path: Path, name: str, compression: int
) -> None:
    data = craft.zip_of({"notes.txt": b"hello", "data.txt": EVAL}, compression)
    path = tmp_path / name
    path.write_bytes(data)
    assert sniff(path).format == "zip" and sniff(path).pickle_based
    assert named(scan_file(path, name, "zip")) == {"builtins.eval"}


def test_zip_of_plain_files_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(
        craft.zip_of({"word/document.xml": b"<w:document/>", "[Content_Types].xml": b"<x/>"})
    )
    assert not sniff(path).is_model


def test_directory_holding_only_an_extensionless_zip_is_an_artefact(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "blob").write_bytes(craft.zip_of({"x": EVAL}))
    spec = SourceSpec(kind="path", target=str(tmp_path), name="disk", options={})
    collection = LocalPathSource(spec).collect(lambda _: None)
    (artefact,) = collection.resources
    unsafe = artefact.attributes["serialization"]["unsafe"]
    assert [(u["file"], u["global"]) for u in unsafe] == [("blob:x", "builtins.eval")]


def test_7z_archive_is_found_by_its_magic_and_its_members_scanned(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "bundle", craft.sevenzip({"data.pkl": EVAL, "a.txt": b"hi"}))
    assert named(scan) == {"builtins.eval"}
    assert scan.issues[0].file == "bundle:data.pkl"


def test_encrypted_7z_fails_closed_saying_why(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "m.7z", craft.sevenzip({"data.pkl": EVAL}, password="pw"))
    (reason,) = unnamed(scan)
    assert "encrypted (password-protected)" in reason and not named(scan)


# --- names in damaged archives -----------------------------------------------------------------

BASE_ZIP = craft.zip_of({"data.pkl": EVAL})


@pytest.mark.parametrize(
    ("variant", "data", "note"),
    [
        ("flag 0x1", craft.zip_flag(BASE_ZIP, 0x1), "flagged as encrypted but stored in the clear"),
        ("flag 0x20", craft.zip_flag(BASE_ZIP, 0x20), None),
        ("flag 0x40", craft.zip_flag(BASE_ZIP, 0x40), "flagged as encrypted"),
        ("flag 0x1 local", craft.zip_flag(BASE_ZIP, 0x1, central=False), None),
        ("directory CRC", craft.zip_bad_crc(BASE_ZIP), "CRC-32 does not match"),
        (
            "data CRC",
            BASE_ZIP.replace(b"print('456')", b"print('123')", 1),
            "CRC-32 does not match",
        ),
        (
            "local name",
            craft.zip_renamed_local(BASE_ZIP, b"data.pkl", b"datap.kl"),
            "directory names it 'data.pkl' but its local header 'datap.kl'",
        ),
        ("no directory", craft.zip_without_directory(BASE_ZIP), "central directory is unreadable"),
        (
            "deflated, no directory",
            craft.zip_without_directory(craft.zip_of({"data.pkl": EVAL}, zipfile.ZIP_DEFLATED)),
            "central directory is unreadable",
        ),
    ],
)
def test_damaged_zip_still_names_the_global(
    tmp_path: Path, variant: str, data: bytes, note: str | None
) -> None:
    scan = scan_bytes(tmp_path, "m.zip", data)
    assert named(scan) == {"builtins.eval"}, (variant, scan.issues)
    if note is not None:
        assert any(note in r for r in unnamed(scan)), unnamed(scan)


def test_member_the_central_directory_does_not_list_is_scanned(tmp_path: Path) -> None:
    data = craft.zip_hiding({"README.md": b"hello"}, {"data.pkl": EVAL})
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["README.md"]  # what it lists
    scan = scan_bytes(tmp_path, "m.zip", data)
    assert named(scan) == {"builtins.eval"}
    assert any("central directory does not list it" in r for r in unnamed(scan))


def test_encrypted_zip_fails_closed_saying_why(tmp_path: Path) -> None:
    scan = scan_bytes(tmp_path, "m.zip", craft.zipcrypto({"data.pkl": EVAL}, b"secret"))
    assert not named(scan)
    (reason,) = unnamed(scan)
    assert "encrypted (password-protected)" in reason and "cannot be scanned" in reason


# --- false positives removed --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "int64", "uint8"])
def test_numpy_array_at_protocol_2_passes(tmp_path: Path, dtype: str) -> None:
    import numpy as np

    data = pickle.dumps(np.arange(12, dtype=dtype).reshape(3, 4), protocol=2)
    assert b"_codecs\nencode" in data  # the shape this test is about
    assert scan_bytes(tmp_path, "a.pkl", data).issues == []


def test_large_bytes_at_protocol_2_pass(tmp_path: Path) -> None:
    assert scan_bytes(tmp_path, "b.pkl", pickle.dumps(b"\xff" * 100_000, protocol=2)).issues == []


@pytest.mark.parametrize(
    "data",
    [
        craft.call("_codecs", "encode", ("abc", "rot13"), protocol=2),
        craft.call("_codecs", "encode", (b"abc", "latin1"), protocol=2),
        craft.call("_codecs", "encode", ("abc", "latin1", "strict"), protocol=2),
        # imported and never called in the allowed shape: handed to something else instead
        craft.framed(2, b"c__builtin__\nlist\n(c_codecs\nencode\ntR."),
        # memoized, called once as allowed, then fetched back and handed on
        craft.framed(
            2,
            b"c_codecs\nencode\nq\x00(X\x01\x00\x00\x00aX\x06\x00\x00\x00latin1tR"
            b"0c__builtin__\nlist\n(h\x00tR.",
        ),
    ],
    ids=["other codec", "bytes argument", "three arguments", "not called", "reused"],
)
def test_codecs_encode_is_flagged_in_any_other_shape(tmp_path: Path, data: bytes) -> None:
    assert "_codecs.encode" in named(scan_bytes(tmp_path, "c.pkl", data))


def test_codecs_encode_through_newobj_is_flagged(tmp_path: Path) -> None:
    data = craft.framed(2, b"c_codecs\nencode\n" + craft.body(("x", "latin1"), 2) + b"\x81.")
    assert "_codecs.encode" in named(scan_bytes(tmp_path, "c.pkl", data))


@pytest.mark.parametrize(
    "obj",
    [len, abs, sorted, __future__.annotations, __future__.division, collections.abc.Mapping],
    ids=["len", "abs", "sorted", "annotations", "division", "Mapping"],
)
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_harmless_globals_pass(tmp_path: Path, obj: object, protocol: int) -> None:
    assert scan_bytes(tmp_path, "h.pkl", pickle.dumps(obj, protocol=protocol)).issues == []


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("builtins", "map"),
        ("builtins", "iter"),
        ("builtins", "type"),
        ("__future__", "__builtins__"),
        ("collections.abc", "sys"),
        ("_collections_abc", "_check_methods"),
    ],
)
def test_allowlist_widening_stops_at_its_reasons(module: str, name: str) -> None:
    assert not is_safe(module, name)


# --- findings in words --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SYSTEM, "evil.pkl imports posix.system (runs operating-system commands"),
        (EVAL, "evil.pkl imports builtins.eval (evaluates a string as Python) when loaded"),
        (
            craft.call("socket", "create_connection", (("example.invalid", 80),)),
            "evil.pkl imports socket.create_connection (opens network connections) when loaded",
        ),
        (
            craft.call("acme.tools", "run", ()),
            "evil.pkl imports acme.tools.run (may run code: it is not on the allowlist",
        ),
    ],
)
def test_every_finding_says_what_the_global_can_do(
    tmp_path: Path, data: bytes, message: str
) -> None:
    (issue,) = scan_bytes(tmp_path, "evil.pkl", data).issues
    assert issue.risk and issue.message.startswith(message)
    assert issue.as_dict()["risk"] == issue.risk


def test_an_unscanned_file_says_why_without_a_global() -> None:
    issue = Issue("m.pkl", None, "pickle could not be scanned: truncated pickle")
    assert issue.message == "m.pkl: pickle could not be scanned: truncated pickle"
    assert "risk" not in issue.as_dict()
