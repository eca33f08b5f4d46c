"""Property tests: damaged and hostile zip and 7z archives, sniffed and scanned.

Whatever the bytes, sniffing returns a result (or an OSError, which never happens on a local
file here) and the serialization scan returns its findings without raising; a zip whose
pickle member survives the damage intact still has that member's global named.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.artefacts.formats import Sniffed, sniff
from scanner.artefacts.serialization import scan_file
from tests import pickle_craft as craft

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EVAL = craft.call("builtins", "eval", ("1",))
ZIP = craft.zip_of({"notes.txt": b"x" * 40, "data.pkl": EVAL})
SEVENZIP = craft.sevenzip({"data.pkl": EVAL})


def _check(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    result = sniff(path)
    assert isinstance(result, Sniffed)
    scan = scan_file(path, path.name, result.format)
    assert all(isinstance(i.reason, str) and i.reason for i in scan.issues)


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, len(ZIP) - 1), st.integers(0, 255)), max_size=6),
    st.integers(1, len(ZIP)),
)
def test_mutated_zip_never_raises(tmp_path: Path, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(ZIP[:cut])
    for at, value in edits:
        if at < len(data):
            data[at] = value
    _check(tmp_path / "m.zip", bytes(data))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(ZIP) - 1), st.integers(0, 255)), max_size=4))
def test_damage_outside_the_pickle_keeps_its_global_named(
    tmp_path: Path, edits: list[tuple[int, int]]
) -> None:
    start = ZIP.index(EVAL)
    data = bytearray(ZIP)
    for at, value in edits:
        # loaders (torch.load, np.load) require the leading local header signature; the
        # pickle's own local header and bytes are what is being looked for
        if at >= 4 and not start - 30 - len("data.pkl") <= at < start + len(EVAL):
            data[at] = value
    path = tmp_path / "m.zip"
    path.write_bytes(bytes(data))
    scan = scan_file(path, "m.zip", "zip")
    named = {i.global_name for i in scan.issues}
    assert "builtins.eval" in named or any(i.global_name is None for i in scan.issues)


@SETTINGS
@given(
    st.binary(max_size=600), st.sampled_from([craft.zip_of({"a": b"b"})[:4], b"7z\xbc\xaf'\x1c"])
)
def test_random_bytes_behind_an_archive_magic_never_raise(
    tmp_path: Path, tail: bytes, magic: bytes
) -> None:
    _check(tmp_path / "blob", magic + tail)


@SETTINGS
@given(st.integers(1, len(SEVENZIP)), st.integers(0, 255))
def test_truncated_or_altered_7z_never_raises(tmp_path: Path, cut: int, value: int) -> None:
    data = bytearray(SEVENZIP[:cut])
    if len(data) > 40:
        data[40] = value
    _check(tmp_path / "m.7z", bytes(data))


def test_false_local_header_signatures_do_not_stall(tmp_path: Path) -> None:
    _check(tmp_path / "m.zip", b"PK\x03\x04" * 200_000)
