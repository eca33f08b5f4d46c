"""Constants and the result type shared by the format probes."""

from __future__ import annotations

import pickletools
import warnings
from dataclasses import dataclass
from typing import BinaryIO

HEAD_BYTES = 64 * 1024
MAX_ZIP_ENTRIES = 100_000
MAX_SAFETENSORS_HEADER = 100_000_000  # the safetensors format's own limit
MAX_PARSED_JSON_HEADER = 8 * 1024 * 1024  # bigger headers: presence and length checks only
MAX_NPZ_MEMBERS_INSPECTED = 4096
MAX_PROTOBUF_FIELDS = 10_000

PICKLE_BASED = frozenset({"pickle", "joblib", "pytorch", "pytorch-legacy"})
MODEL_EXTENSIONS = frozenset(
    {
        ".safetensors",
        ".onnx",
        ".pkl",
        ".pickle",
        ".joblib",
        ".pt",
        ".pth",
        ".bin",
        ".ckpt",
        ".keras",
        ".h5",
        ".hdf5",
        ".gguf",
        ".npy",
        ".npz",
        ".skops",
        ".pb",
    }
)
# Extensions whose content is never anything but the model format: unrecognisable content is
# a problem. `.bin`, `.ckpt` and `.pb` are also used for other binaries (raw weights of other
# runtimes, TF checkpoints, frozen graphs), so there an unknown content is only "not a model".
STRICT_EXTENSIONS = MODEL_EXTENSIONS - {".bin", ".ckpt", ".pb"}
PICKLE_HINT_EXTENSIONS = frozenset({".pkl", ".pickle", ".joblib"})
TORCH_EXTENSIONS = frozenset({".pt", ".pth", ".bin", ".ckpt"})
SAVEDMODEL_NAMES = frozenset({"saved_model.pb", "saved_model.pbtxt"})
# Keras (TF 2.x) writes its layers' configs beside saved_model.pb: Lambda layers are there.
KERAS_METADATA_NAME = "keras_metadata.pb"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Legacy (pre-zip) torch.save writes pickle(0x1950a86a20f9469cfc6c) first: LONG1, 10 bytes.
TORCH_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
# Decoding hostile protocol-0 strings makes pickletools warn about invalid escapes: noise for
# a scanner's user. Filtered once here; catch_warnings() is not thread-safe.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="pickletools")
_OPCODES = frozenset(op.code.encode("latin-1") for op in pickletools.opcodes)
# ModelProto field number -> protobuf wire type (onnx.proto3; 26 = configuration, IR v11).
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


@dataclass(frozen=True)
class Sniffed:
    format: str | None
    pickle_based: bool = False
    problem: str | None = None

    @property
    def is_model(self) -> bool:
        """A model file, or one that should be and is damaged: both make a model directory."""
        return self.format is not None or self.problem is not None


NOT_MODEL = Sniffed(None)


@dataclass(frozen=True)
class _Ctx:
    f: BinaryIO
    size: int
    head: bytes
    name: str
    ext: str
    suffixes: tuple[str, ...]

    def at(self, offset: int, n: int) -> bytes:
        """`n` bytes at `offset`, from the head when it holds them (the common case)."""
        if offset + n <= len(self.head):
            return self.head[offset : offset + n]
        self.f.seek(offset)
        return self.f.read(n)
