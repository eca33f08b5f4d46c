"""Property tests: `scanner.artefacts.formats.sniff` on hostile model files.

* Any bytes under any model-file name: `sniff` returns a `Sniffed` (it may raise only when the
  file cannot be opened, which never happens here) with consistent fields; a pickle-based
  format is always flagged pickle-based; under an extension that can only hold a model, content
  that is not recognisable is a problem, never "not a model".
* A truncated copy of a valid safetensors file, torch zip archive or pickle is never reported as
  an intact model: it has a problem, or it is not recognised as a model at all.
* Sniffing never unpickles: a pickle that would run a command when loaded runs nothing.

Valid samples are built here, without torch or safetensors installed. Known bugs are pinned by
strict-xfail tests at the bottom and recognised by `_known_bug`, so the properties keep guarding
against new failures; fixing one turns its xfail into XPASS: drop it with its `_known_bug` rule.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.artefacts.formats import PICKLE_BASED, Sniffed, sniff

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MODEL_EXTS = [
    ".pt",
    ".pkl",
    ".safetensors",
    ".onnx",
    ".gguf",
    ".h5",
    ".keras",
    ".npz",
    ".joblib",
    ".bin",
]
# `.bin` is also used for non-model binaries, so unknown content there is "not a model".
STRICT_EXTS = frozenset(MODEL_EXTS) - {".bin"}
NAMES = [
    *(f"model{ext}" for ext in MODEL_EXTS),
    "saved_model.pb",
    "saved_model.pbtxt",
    "MODEL.PKL",
    "weights.pt.pkl",
    "model.safetensors.part",
    "README",
]
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
TORCH_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
MAGICS = [
    b"",
    b"PK\x03\x04",
    HDF5_MAGIC,
    HDF5_MAGIC + b"\x00" * 5 + b"\x08",
    HDF5_MAGIC + b"\x02\x08\x08\x00",
    b"GGUF\x03\x00\x00\x00",
    b"\x93NUMPY\x01\x00",
    b"\x93NUMPY\x02\x00",
    struct.pack("<Q", 2) + b"{}",
    struct.pack("<Q", 40) + b"{",
    b"\x80\x02",
    b"\x80\x04\x95",
    b"\x80\x05}",
    b"(dp0\n",
    b"}q\x00(",
    b"\x80\x02" + TORCH_LEGACY_MAGIC,
    b"\x1f\x8b\x08\x00",
    b"x\x9c",
    b"BZh9",
    b"\xfd7zXZ\x00",
    b"\x08\x07\x12",
    b"\x08\x01",
]

# --- valid samples --------------------------------------------------------------------------


def safetensors_bytes(tensors: list[tuple[str, int]], metadata: dict[str, str] | None) -> bytes:
    header: dict[str, Any] = {}
    offset = 0
    for name, size in tensors:
        header[name] = {"dtype": "U8", "shape": [size], "data_offsets": [offset, offset + size]}
        offset += size
    if metadata is not None:
        header["__metadata__"] = metadata
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)  # the reference writer pads the header to 8 bytes
    return struct.pack("<Q", len(blob)) + blob + bytes(i % 251 for i in range(offset))


def torch_zip_bytes(payload: bytes, storages: list[bytes], compress: bool) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
        for index, storage in enumerate(storages):
            zf.writestr(f"archive/data/{index}", storage)
        zf.writestr("archive/version", "3\n")
    return buffer.getvalue()


picklable = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=10),
        st.binary(max_size=10),
    ),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
    ),
    max_leaves=12,
)
tensor_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)

safetensors_samples = st.builds(
    lambda t, m: ("model.safetensors", safetensors_bytes(t, m)),
    st.lists(
        st.tuples(tensor_names, st.integers(0, 64)),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    ),
    st.none() | st.dictionaries(st.sampled_from(["format", "x"]), st.text(max_size=6), max_size=2),
)
zip_samples = st.builds(
    lambda obj, storages, compress, ext: (
        f"model{ext}",
        torch_zip_bytes(pickle.dumps(obj, protocol=2), storages, compress),
    ),
    picklable,
    st.lists(st.binary(max_size=64), max_size=3),
    st.booleans(),
    st.sampled_from([".pt", ".pth", ".bin", ".ckpt"]),
)
pickle_samples = st.builds(
    lambda obj, protocol, ext: (f"model{ext}", pickle.dumps(obj, protocol=protocol)),
    picklable,
    st.integers(0, pickle.HIGHEST_PROTOCOL),
    st.sampled_from([".pkl", ".pt", ".joblib", ".bin"]),
)
valid_samples = st.one_of(safetensors_samples, zip_samples, pickle_samples)

# --- hostile bytes ----------------------------------------------------------------------------


def zip_tail(body: bytes, total: int, zip64_offset: int | None, comment: bytes) -> bytes:
    """A local-header start, then an end-of-central-directory record (with a zip64 locator)."""
    out = b"PK\x03\x04" + body
    if zip64_offset is not None:
        out += (
            b"PK\x06\x07" + b"\x00" * 4 + zip64_offset.to_bytes(8, "little") + b"\x01\x00\x00\x00"
        )
    eocd = b"PK\x05\x06" + b"\x00" * 6 + total.to_bytes(2, "little") + b"\x00" * 8
    return out + eocd + len(comment).to_bytes(2, "little") + comment


def npy_bytes(version: int, header: str, data: bytes) -> bytes:
    raw = header.encode("latin-1", "replace")
    size = len(raw).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + raw + data


NPY_HEADERS = [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
    "{'descr': [('a', '<i8'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<U10', 'fortran_order': False, 'shape': (99999999999999, 99999999999999), }",
    "{'descr': '<f4', 'shape': (-1,), }",
    "{'descr': 5, 'shape': 'x'}",
    "[" * 5000,
    "{'descr': '<f8', 'shape': (" + "9" * 5000 + ",)}",
    "__import__('os').system('echo pwned')",
    "\x00",
]

hostile_bytes = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda m, b: m + b, st.sampled_from(MAGICS), st.binary(max_size=400)),
    st.builds(
        zip_tail,
        st.binary(max_size=64),
        st.sampled_from([0, 1, 2, 0xFFFE, 0xFFFF]),
        st.none()
        | st.sampled_from([0, 4, 2**31, 2**62, 2**63 - 1, 2**63, 2**64 - 1])
        | st.integers(0, 2**64 - 1),
        st.binary(max_size=8),
    ),
    st.builds(
        npy_bytes, st.sampled_from([1, 2, 3]), st.sampled_from(NPY_HEADERS), st.binary(max_size=32)
    ),
    st.builds(  # a safetensors-like header: any JSON, any declared length
        lambda n, doc, data: struct.pack("<Q", n) + json.dumps(doc).encode() + data,
        st.sampled_from([2, 10, 100, 10**8, 10**8 + 1]) | st.integers(0, 2**64 - 1),
        st.recursive(
            st.none() | st.integers() | st.text(max_size=4),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["data_offsets", "__metadata__", "w"]), inner, max_size=3
                )
            ),
            max_leaves=8,
        ),
        st.binary(max_size=64),
    ),
    st.builds(  # a valid sample, damaged
        lambda sample, at, junk: sample[1][:at] + junk + sample[1][at + len(junk) :],
        valid_samples,
        st.integers(0, 500),
        st.binary(min_size=1, max_size=8),
    ),
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sniff")


def write(workdir: Path, name: str, data: bytes) -> Path:
    path = workdir / name
    path.write_bytes(data)
    return path


def checked_sniff(path: Path) -> Sniffed | None:
    """sniff(path), asserting the result is well formed; None when a pinned bug explains a
    failure."""
    try:
        result = sniff(path)
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} escaped sniff({path.name})") from exc
    assert isinstance(result, Sniffed)
    assert result.format is None or (isinstance(result.format, str) and result.format)
    assert result.problem is None or (isinstance(result.problem, str) and result.problem)
    if result.problem is not None:
        assert result.problem.splitlines() == [result.problem], result.problem
    assert isinstance(result.pickle_based, bool)
    if result.format in PICKLE_BASED:
        assert result.pickle_based, result
    return result


# --- properties -------------------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from(NAMES), hostile_bytes)
@example("model.pt", b"PK\x03\x04")
@example("model.safetensors", struct.pack("<Q", 2**63) + b"{}")
@example("model.npz", b"PK\x03\x04" + b"\x00" * 100)
def test_sniff_any_bytes_returns_a_wellformed_result(workdir: Path, name: str, data: bytes) -> None:
    result = checked_sniff(write(workdir, name, data))
    ext = os.path.splitext(name)[1].lower()
    if result is not None and ext in STRICT_EXTS:
        assert result.is_model, f"{name}: unrecognisable content reported as not a model"


@SETTINGS
@given(valid_samples, st.data())
def test_truncated_model_file_is_never_reported_intact(
    workdir: Path, sample: tuple[str, bytes], data: st.DataObject
) -> None:
    name, blob = sample
    whole = checked_sniff(write(workdir, name, blob))
    assert whole is not None and whole.format is not None and whole.problem is None, (name, whole)
    cut = data.draw(st.integers(0, len(blob) - 1), label="cut")
    part = blob[:cut]
    result = checked_sniff(write(workdir, name, part))
    assert result is not None
    if result.format is not None and result.problem is None:
        if whole.format in PICKLE_BASED and part.endswith(b"."):
            return  # pinned: test_bug_truncated_pickle_ending_in_a_dot_is_reported
        raise AssertionError(f"{name} cut to {cut} of {len(blob)} bytes reported intact: {result}")


class _RunsCommand:
    """Unpickling this runs `touch MARKER` (the classic malicious-pickle payload)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("name", ["model.pkl", "model.bin", "model.joblib", "model.pt"])
def test_sniffing_a_malicious_pickle_runs_nothing(tmp_path: Path, protocol: int, name: str) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _RunsCommand(marker)}, protocol=protocol)
    for blob in (payload, torch_zip_bytes(payload, [b"\x00" * 8], compress=False)):
        result = checked_sniff(write(tmp_path, name, blob))
        assert result is not None and result.pickle_based, result
    assert not marker.exists()


# --- pinned bugs (owner: scanner/artefacts/formats) -------------------------------------------


@pytest.mark.parametrize("offset", [2**63 - 1, 2**63, 2**64 - 1])
def test_zip64_locator_with_huge_offset(tmp_path: Path, offset: int) -> None:
    data = zip_tail(b"", 0xFFFF, offset, b"")
    result = sniff(write(tmp_path, "model.pt", data))
    assert result.problem is not None


@pytest.mark.parametrize(
    ("obj", "protocol", "cut_after"),
    [("a.b", 2, b"a."), ({"name": "a.b"}, 4, b"a."), ([1.5], 0, b"F1.")],
)
def test_truncated_pickle_ending_in_a_dot_is_reported(
    tmp_path: Path, obj: Any, protocol: int, cut_after: bytes
) -> None:
    blob = pickle.dumps(obj, protocol=protocol)
    part = blob[: blob.index(cut_after) + len(cut_after)]
    result = sniff(write(tmp_path, "model.pkl", part))
    assert result.problem is not None, (part, result)
