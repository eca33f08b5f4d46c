"""Format sniffing by content: every sample is built here, byte by byte, with the stdlib only."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from scanner.artefacts.formats import Sniffed, sniff
from scanner.artefacts.formats.base import HDF5_MAGIC
from scanner.artefacts.hashing import NotRegularFileError, bounded_map, hash_files, sha256_file

# --- builders --------------------------------------------------------------------------------


def safetensors_bytes(data: bytes = b"\x00" * 16) -> bytes:
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "w": {"dtype": "F32", "shape": [len(data) // 4], "data_offsets": [0, len(data)]},
        }
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_varint(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def pb_bytes(field: int, value: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(value)) + value


def onnx_bytes(weights: int = 300) -> bytes:
    """A ModelProto: ir_version, producer, a graph with one initializer, opset_import."""
    tensor = pb_varint(1, 4) + pb_varint(2, 1) + pb_bytes(8, b"w") + pb_bytes(9, b"\x01" * weights)
    graph = pb_bytes(2, b"main") + pb_bytes(5, tensor)
    opset = pb_bytes(1, b"") + pb_varint(2, 17)
    return (
        pb_varint(1, 9)
        + pb_bytes(2, b"pytorch")
        + pb_bytes(3, b"2.3.0")
        + pb_bytes(7, graph)
        + pb_bytes(8, opset)
    )


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npy_bytes(
    descr: str = "<f4", shape: tuple[int, ...] = (4,), data: bytes | None = None
) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    if data is None:
        data = b"\x00" * (4 * (shape[0] if shape else 1))
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def hdf5_bytes(size: int = 256, declared: int | None = None) -> bytes:
    """A version-0 superblock (8-byte addresses) whose end-of-file address is `declared`."""
    undefined = b"\xff" * 8
    sb = (
        HDF5_MAGIC
        + bytes([0, 0, 0, 0, 0, 8, 8, 0])
        + struct.pack("<HHI", 4, 16, 0)
        + struct.pack("<Q", 0)
        + undefined
        + struct.pack("<Q", declared or size)
        + undefined
    )
    return sb + b"\x00" * (size - len(sb))


def torch_zip(prefix: str = "archive") -> bytes:
    return zip_bytes(
        {
            f"{prefix}/data.pkl": pickle.dumps({"w": 1}, protocol=2),
            f"{prefix}/data/0": b"\x00" * 16,
            f"{prefix}/version": b"3\n",
        }
    )


def torch_legacy() -> bytes:
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    rest = pickle.dumps(1001, protocol=2) + pickle.dumps({"w": 1}, protocol=2)
    return magic + rest + b"\x07" * 32


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sniffed(tmp_path: Path, name: str, data: bytes) -> Sniffed:
    return sniff(write(tmp_path, name, data))


# --- detection by content --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "fmt", "pickle_based"),
    [
        ("model.safetensors", safetensors_bytes(), "safetensors", False),
        ("weights.dat", safetensors_bytes(), "safetensors", False),  # wrong extension
        ("model.onnx", onnx_bytes(), "onnx", False),
        ("exported", onnx_bytes(), "onnx", False),  # structural walk without the extension
        ("model.pt", torch_zip(), "pytorch", True),
        ("pytorch_model.bin", torch_zip("pytorch_model"), "pytorch", True),
        ("weights.pth", torch_legacy(), "pytorch-legacy", True),
        ("weights.anything", torch_legacy(), "pytorch-legacy", True),  # the magic decides
        ("plain.pt", pickle.dumps([1, 2], protocol=2), "pytorch-legacy", True),
        (
            "model.keras",
            zip_bytes(
                {"config.json": b"{}", "metadata.json": b"{}", "model.weights.h5": hdf5_bytes()}
            ),
            "keras",
            False,
        ),
        ("model.h5", hdf5_bytes(), "hdf5", False),
        ("model.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 0), "gguf", False),
        ("arr.npy", npy_bytes(), "numpy", False),
        ("objects.npy", npy_bytes("|O", (1,), pickle.dumps([None])), "numpy", True),
        (
            "arrays.npz",
            zip_bytes({"a.npy": npy_bytes(), "b.npy": npy_bytes()}, zipfile.ZIP_DEFLATED),
            "numpy-archive",
            False,
        ),
        ("objects.npz", zip_bytes({"a.npy": npy_bytes("|O", (1,), b".")}), "numpy-archive", True),
        ("model.skops", zip_bytes({"schema.json": b'{"__class__": "X"}'}), "skops", False),
        ("renamed.zip", zip_bytes({"schema.json": b'{"_skops_version": "0.9"}'}), "skops", False),
        ("model.joblib", pickle.dumps({"coef": [1.0]}, protocol=4), "joblib", True),
        ("model.joblib", zlib.compress(pickle.dumps([1], protocol=4)), "joblib", True),
        ("model.joblib.gz", gzip.compress(pickle.dumps([1], protocol=4)), "joblib", True),
        ("model.pkl.bz2", bz2.compress(pickle.dumps([1], protocol=4)), "pickle", True),
        ("anything", pickle.dumps(["joblib.numpy_pickle"], protocol=4), "joblib", True),
    ],
)
def test_formats_detected_by_content(
    tmp_path: Path, name: str, data: bytes, fmt: str, pickle_based: bool
) -> None:
    assert sniffed(tmp_path, name, data) == Sniffed(fmt, pickle_based=pickle_based)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize(
    "name", ["model.pkl", "model.pickle", "renamed.bin", "renamed.txt", "no_extension"]
)
def test_pickles_of_every_protocol_whatever_the_name(
    tmp_path: Path, name: str, protocol: int
) -> None:
    data = pickle.dumps({"weights": [1.5, 2.5], "name": "m"}, protocol=protocol)
    got = sniffed(tmp_path, name, data)
    assert got.pickle_based and got.problem is None
    assert got.format == ("pytorch-legacy" if name.endswith(".bin") else "pickle")


def test_large_protocol_0_pickle_without_extension(tmp_path: Path) -> None:
    data = pickle.dumps([f"item{i}" for i in range(20_000)], protocol=0)
    assert len(data) > 64 * 1024
    assert sniffed(tmp_path, "blob", data) == Sniffed("pickle", pickle_based=True)


def test_savedmodel_is_named_by_tensorflow_convention(tmp_path: Path) -> None:
    data = pb_varint(1, 1) + pb_bytes(2, pb_bytes(1, b"meta" * 10))
    assert sniffed(tmp_path, "m/saved_model.pb", data) == Sniffed("tensorflow-savedmodel")
    assert sniffed(tmp_path, "m/saved_model.pb.bak", data).format is None
    assert sniffed(tmp_path, "other.pb", data) == Sniffed(None)
    truncated = sniffed(tmp_path, "t/saved_model.pb", data[:-5])
    assert truncated.format == "tensorflow-savedmodel"
    assert truncated.problem and "truncated" in truncated.problem


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("README.md", b"# Model card\n\nLicensed under Apache-2.0.\n"),
        ("config.json", b'{"architectures": ["Bert"], "hidden_size": 768}'),
        ("MLmodel", b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"),
        ("notes.txt", b"(see the docs) Not. a pickle.\n"),
        ("Not", b"Not."),  # looks like 3 opcodes and STOP, but the stack does not add up
        ("train.py", b"import os\nclass Model:\n    pass\n"),
        ("labels.csv", b"label,id\ncat,1\ndog,2\n"),
        ("vocab.bin", os.urandom(0) + bytes(range(256)) * 4),
        ("archive.zip", zip_bytes({"a.txt": b"hello"})),
        ("broken.docx", zip_bytes({"word/document.xml": b"<w/>"})[:40]),
        ("data.gz", gzip.compress(b"just text")),
        ("frozen_graph.pb", b"\x0a\x03abc"),
        ("empty.txt", b""),
    ],
)
def test_non_model_files_are_not_models_and_not_problems(
    tmp_path: Path, name: str, data: bytes
) -> None:
    assert sniffed(tmp_path, name, data) == Sniffed(None)


# --- damaged model files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "fmt", "message"),
    [
        ("empty.pt", b"", None, "empty file (0 bytes)"),
        ("empty.safetensors", b"", None, "empty file (0 bytes)"),
        ("short.safetensors", b"\x10\x00", None, "truncated safetensors file (2 bytes)"),
        (
            "cut_header.safetensors",
            safetensors_bytes()[:40],
            "safetensors",
            "truncated safetensors file: header declares",
        ),
        (
            "cut_data.safetensors",
            safetensors_bytes()[:-4],
            "safetensors",
            "truncated safetensors file: tensors need",
        ),
        (
            "cut.pkl",
            pickle.dumps(list(range(50)), protocol=4)[:-3],
            "pickle",
            "truncated pickle (does not end with the STOP opcode '.')",
        ),
        ("cut0.pkl", pickle.dumps({"a": 1}, protocol=0)[:-1], "pickle", "truncated pickle"),
        # a broken central directory: the members are still found from their local headers
        ("cut.pt", torch_zip()[:100], "zip", "truncated or corrupt zip archive"),
        (
            "cut.npz",
            zip_bytes({"a.npy": npy_bytes()})[:-10],
            "zip",
            "truncated or corrupt zip archive",
        ),
        ("cut.onnx", onnx_bytes()[:-40], "onnx", "truncated ONNX file"),
        ("cut.npy", npy_bytes("<f4", (100,), b"\x00" * 40), "numpy", "truncated .npy file"),
        (
            "cut.h5",
            hdf5_bytes(256, declared=4096),
            "hdf5",
            "truncated HDF5 file: superblock says 4096 bytes, file has 256",
        ),
        ("cut.gguf", b"GGUF\x03\x00\x00\x00", "gguf", "truncated GGUF file"),
        (
            "bad.safetensors",
            struct.pack("<Q", 6) + b"{nope}",
            "safetensors",
            "corrupt safetensors header (not valid JSON)",
        ),
        (
            "fake.safetensors",
            b"this is not a model at all",
            None,
            "content is not a recognised model format (.safetensors file)",
        ),
        ("plain.pt", zip_bytes({"a.txt": b"x"}), None, "zip archive with no known model layout"),
    ],
)
def test_damaged_model_files_are_problems(
    tmp_path: Path, name: str, data: bytes, fmt: str | None, message: str
) -> None:
    got = sniffed(tmp_path, name, data)
    assert got.format == fmt
    assert got.problem is not None and got.problem.startswith(message), got.problem
    assert got.is_model  # its directory is still a model directory


def test_legacy_torch_file_is_not_truncated_by_trailing_storage(tmp_path: Path) -> None:
    assert sniffed(tmp_path, "w.pt", torch_legacy()).problem is None


def test_zip_entry_cap_refuses_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.artefacts.formats.containers as containers

    monkeypatch.setattr(containers, "MAX_ZIP_ENTRIES", 3)
    got = sniffed(tmp_path, "many.npz", zip_bytes({f"{i}.npy": npy_bytes() for i in range(5)}))
    assert got.format is None
    assert got.problem == "zip archive has 5 entries, over the limit of 3: not inspected"


def test_sniff_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.pkl"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError):
        sniff(fifo)


# --- hashing ---------------------------------------------------------------------------------


def test_sha256_of_a_sparse_50_mb_file_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        f.write(b"head")
        f.seek(50 * 1024 * 1024)
        f.write(b"tail")
    expected = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            expected.update(chunk)
    assert sha256_file(path) == expected.hexdigest()


def test_hash_files_maps_unreadable_paths_to_their_error(tmp_path: Path) -> None:
    good = write(tmp_path, "a", b"abc")
    result = hash_files([str(good), str(tmp_path / "missing")], workers=2)
    assert result[str(good)] == hashlib.sha256(b"abc").hexdigest()
    assert isinstance(result[str(tmp_path / "missing")], FileNotFoundError)


def test_bounded_map_returns_every_result_and_exception() -> None:
    def work(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n * n

    for batch_cost in (1, 8, 1000):
        results = dict(bounded_map(work, range(50), workers=3, batch_cost=batch_cost))
        assert len(results) == 50
        assert results[7] == 49
        assert isinstance(results[3], ValueError)
    weighted = dict(bounded_map(work, range(10), workers=2, cost=lambda n: n, batch_cost=5))
    assert sorted(weighted) == list(range(10))


# formats.py filters this warning at import; pytest resets filters around each test.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:pickletools")
def test_damaged_input_never_raises(tmp_path: Path) -> None:
    """Every prefix of each sample, and fixed-seed byte flips: a verdict, never an exception."""
    import random

    rng = random.Random(42)
    samples = {
        "a.safetensors": safetensors_bytes(),
        "a.onnx": onnx_bytes(40),
        "a.pt": torch_zip(),
        "b.pth": torch_legacy(),
        "a.h5": hdf5_bytes(64),
        "a.npy": npy_bytes(),
        "a.npz": zip_bytes({"a.npy": npy_bytes()}),
        "a.pkl": pickle.dumps({"a": [1]}, 0),
        "saved_model.pb": pb_varint(1, 1) + pb_bytes(2, b"meta"),
    }
    for name, data in samples.items():
        variants = [data[:n] for n in range(len(data))]
        for _ in range(100):
            flipped = bytearray(data)
            for _ in range(3):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            variants.append(bytes(flipped))
        path = tmp_path / name
        for variant in variants:
            path.write_bytes(variant)
            assert isinstance(sniff(path), Sniffed)
