"""Which model serialization format a file holds, decided from its bytes.

Content, not the name, decides: a pickle renamed to `.bin` or `.txt` still runs code when loaded,
and a half-downloaded file keeps its `.safetensors` name. The extension is only supporting
evidence where bytes alone are ambiguous (pickle protocols 0/1, ONNX, pickles saved by torch),
and it decides whether content we cannot recognise is worth a problem: an unrecognisable
`.safetensors` file is; an unknown `.dat` file is not our business.

Safety: a bounded head plus small windows (the tail, a zip's central directory, protobuf tags,
a safetensors JSON header) are read. Nothing is unpickled, imported or loaded; pickles are only
decoded opcode by opcode with `pickletools`, which never resolves a global.

Result convention (`Sniffed`):
- `format` set, `problem` None: a model file in good order as far as cheap checks can tell;
- `format` set and `problem` set: the format is established but the content is damaged
  (truncated safetensors, a pickle without its STOP opcode);
- `format` None and `problem` set: it should be a model file but what it is cannot be
  established (empty `.pt`, unreadable zip) - callers record the format as Unknown;
- both None: not a model file (README, config.json).
"""

from __future__ import annotations

import ast
import bz2
import io
import json
import lzma
import math
import os
import pickletools
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO

from scanner.artefacts.hashing import open_regular

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


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """The format of one regular file. Raises OSError when the file cannot be opened or read.

    The size comes from the open descriptor, not from an earlier stat, so the truncation checks
    compare against the bytes actually there.
    """
    p = PurePath(path)
    ext = p.suffix.lower()
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            if ext in MODEL_EXTENSIONS or p.name in SAVEDMODEL_NAMES:
                return Sniffed(None, problem="empty file (0 bytes)")
            return NOT_MODEL
        head = f.read(HEAD_BYTES)
        ctx = _Ctx(f, size, head, p.name, ext, tuple(s.lower() for s in p.suffixes))
        if p.name in SAVEDMODEL_NAMES:
            return _savedmodel(ctx)
        for probe in _PROBES:
            found = probe(ctx)
            if found is not None:
                return found
    if ext in STRICT_EXTENSIONS:
        return Sniffed(None, problem=f"content is not a recognised model format ({ext} file)")
    return NOT_MODEL


# --- zip containers: pytorch, keras, skops, numpy-archive ------------------------------------


def _zip(ctx: _Ctx) -> Sniffed | None:
    if not ctx.head.startswith(b"PK\x03\x04"):
        return None
    # Any unreadable zip named like a model is a problem; a broken .docx is not our business.
    corrupt = (
        Sniffed(None, problem="truncated or corrupt zip archive")
        if ctx.ext in MODEL_EXTENSIONS
        else NOT_MODEL
    )
    count = _zip_entry_count(ctx)
    if count is None:
        return corrupt
    if count > MAX_ZIP_ENTRIES:
        return Sniffed(
            None,
            problem=f"zip archive has {count} entries, over the limit of "
            f"{MAX_ZIP_ENTRIES}: not inspected",
        )
    try:
        ctx.f.seek(0)
        with zipfile.ZipFile(ctx.f) as zf:  # reads the central directory only
            infos = [i for i in zf.infolist() if not i.is_dir()]
            fmt = _zip_layout(zf, [i.filename for i in infos], ctx.ext)
            if fmt == "numpy-archive":
                return Sniffed(fmt, pickle_based=_npz_has_objects(zf, infos))
    except Exception:  # zipfile is no hardened parser: malformed input raises all sorts
        return corrupt
    if fmt is None:  # a plain zip; only worth a problem when named like a model
        if ctx.ext in STRICT_EXTENSIONS:
            return Sniffed(None, problem=f"zip archive with no known model layout ({ctx.ext})")
        return NOT_MODEL
    return Sniffed(fmt, pickle_based=fmt in PICKLE_BASED)


def _zip_entry_count(ctx: _Ctx) -> int | None:
    """Entries declared by the end-of-central-directory record; None when there is none.

    Read before zipfile parses the directory, so a hostile archive with millions of entries is
    refused without building millions of ZipInfo objects.
    """
    tail_len = min(ctx.size, 22 + 0xFFFF)
    tail = ctx.at(ctx.size - tail_len, tail_len)
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        return None
    total = int.from_bytes(tail[i + 10 : i + 12], "little")
    if total == 0xFFFF and i >= 20 and tail[i - 20 : i - 16] == b"PK\x06\x07":  # zip64
        record = ctx.at(int.from_bytes(tail[i - 12 : i - 4], "little"), 56)
        if record[:4] == b"PK\x06\x06":
            total = int.from_bytes(record[32:40], "little")
    return total


def _zip_layout(zf: zipfile.ZipFile, names: list[str], ext: str) -> str | None:
    top = {n for n in names if "/" not in n}
    # torch.save (and TorchScript) archives: <name>/data.pkl, e.g. archive/data.pkl.
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "pytorch"
    if "config.json" in top and (
        ext == ".keras" or ("metadata.json" in top and any(n.endswith(".weights.h5") for n in top))
    ):
        return "keras"
    if "schema.json" in top and (
        ext == ".skops" or b"_skops_version" in _member_head(zf, "schema.json")
    ):
        return "skops"
    if names and all(n.endswith(".npy") for n in names):
        return "numpy-archive"
    return None


def _member_head(zf: zipfile.ZipFile, name: str, n: int = HEAD_BYTES) -> bytes:
    with zf.open(name) as member:
        return member.read(n)


def _npz_has_objects(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> bool:
    """Object arrays in an .npz are pickles (np.load(allow_pickle=True) runs them).

    Only the first MAX_NPZ_MEMBERS_INSPECTED members' headers are read, to bound the work.
    """
    for info in sorted(infos, key=lambda i: i.filename)[:MAX_NPZ_MEMBERS_INSPECTED]:
        header = _npy_header(_member_head(zf, info.filename, 4096))
        if header is not None and _has_object(header[1]):
            return True
    return False


# --- formats with a magic number -------------------------------------------------------------


def _hdf5(ctx: _Ctx) -> Sniffed | None:
    # The superblock sits at 0 or, after a user block, at 512, 1024, 2048, ...
    offset = 0
    while offset + 8 <= len(ctx.head):
        if ctx.head[offset : offset + 8] == HDF5_MAGIC:
            if ctx.size - offset < 32:  # no superblock version has fewer bytes
                return Sniffed("hdf5", problem="truncated HDF5 file (incomplete superblock)")
            end = _hdf5_end(ctx.at(offset, 64))
            if end is not None and end > ctx.size:
                return Sniffed(
                    "hdf5",
                    problem=(
                        f"truncated HDF5 file: superblock says {end} bytes, file has {ctx.size}"
                    ),
                )
            return Sniffed("hdf5")
        offset = 512 if offset == 0 else offset * 2
    return None


def _hdf5_end(sb: bytes) -> int | None:
    """Absolute end-of-file address from the superblock (versions 0-3), if well formed."""
    version = sb[8:9]
    if len(sb) < 16:
        return None
    if version in (b"\x00", b"\x01"):
        width, base_at = sb[13], 24 if version == b"\x00" else 28
    elif version in (b"\x02", b"\x03"):
        width, base_at = sb[9], 12
    else:
        return None
    if width not in (2, 4, 8) or len(sb) < base_at + 3 * width:
        return None
    base = int.from_bytes(sb[base_at : base_at + width], "little")
    eof = int.from_bytes(sb[base_at + 2 * width : base_at + 3 * width], "little")
    if eof == (1 << (8 * width)) - 1:  # "undefined address"
        return None
    return base + eof


def _gguf(ctx: _Ctx) -> Sniffed | None:
    if not ctx.head.startswith(b"GGUF"):
        return None
    if ctx.size < 24:  # magic, version, tensor count, metadata count
        return Sniffed("gguf", problem=f"truncated GGUF file ({ctx.size} bytes, header needs 24)")
    return Sniffed("gguf")


def _numpy(ctx: _Ctx) -> Sniffed | None:
    if not ctx.head.startswith(b"\x93NUMPY"):
        return None
    header = _npy_header(ctx.head)
    if header is None:
        return Sniffed("numpy", problem="corrupt .npy header")
    end, descr, shape = header
    if _has_object(descr):  # data are a pickle: length unknown without unpickling
        return Sniffed("numpy", pickle_based=True)
    itemsize = _itemsize(descr)
    if (
        itemsize is not None
        and isinstance(shape, tuple)
        and all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        need = end + math.prod(shape) * itemsize
        if need > ctx.size:
            return Sniffed(
                "numpy",
                problem=(f"truncated .npy file: header declares {need} bytes, file has {ctx.size}"),
            )
    return Sniffed("numpy")


def _npy_header(data: bytes) -> tuple[int, Any, Any] | None:
    """(end of header, descr, shape) of an .npy header, parsed as literals only."""
    if len(data) < 10 or not data.startswith(b"\x93NUMPY"):
        return None
    if data[6] == 1:
        start, length = 10, int.from_bytes(data[8:10], "little")
    elif data[6] in (2, 3) and len(data) >= 12:
        start, length = 12, int.from_bytes(data[8:12], "little")
    else:
        return None
    if start + length > len(data):
        return None
    try:  # literal_eval builds literals only, which is what numpy's own reader does
        fields = ast.literal_eval(data[start : start + length].decode("latin-1"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(fields, dict) or "descr" not in fields or "shape" not in fields:
        return None
    return start + length, fields["descr"], fields["shape"]


def _has_object(descr: Any) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):  # structured dtype: [(name, type[, shape]), ...]
        return any(isinstance(f, tuple) and len(f) >= 2 and _has_object(f[1]) for f in descr)
    return False


def _itemsize(descr: Any) -> int | None:
    match = (
        re.fullmatch(r"[<>|=]?([a-zA-Z?])(\d+)(?:\[\w+\])?", descr)
        if isinstance(descr, str)
        else None
    )
    if match is None:
        return None
    count = int(match.group(2))
    return 4 * count if match.group(1) == "U" else count


def _safetensors(ctx: _Ctx) -> Sniffed | None:
    if ctx.size < 9 or ctx.head[8:9] != b"{":
        if ctx.ext == ".safetensors" and ctx.size < 9:
            return Sniffed(None, problem=f"truncated safetensors file ({ctx.size} bytes)")
        return None
    n = int.from_bytes(ctx.head[:8], "little")
    if not 2 <= n <= MAX_SAFETENSORS_HEADER:
        return None
    if n + 8 > ctx.size:
        return Sniffed(
            "safetensors",
            problem=(
                f"truncated safetensors file: header declares {n + 8} bytes, file has {ctx.size}"
            ),
        )
    if n > MAX_PARSED_JSON_HEADER:
        return Sniffed("safetensors")
    try:
        header = json.loads(ctx.at(8, n))
    except (ValueError, RecursionError):
        return Sniffed("safetensors", problem="corrupt safetensors header (not valid JSON)")
    if not isinstance(header, dict):
        return Sniffed("safetensors", problem="corrupt safetensors header (not a JSON object)")
    end = 0
    for key, tensor in header.items():
        offsets = tensor.get("data_offsets") if isinstance(tensor, dict) else None
        if key != "__metadata__" and isinstance(offsets, list):
            end = max([end, *(o for o in offsets if isinstance(o, int))])
    if 8 + n + end > ctx.size:
        return Sniffed(
            "safetensors",
            problem=(
                f"truncated safetensors file: tensors need {8 + n + end} bytes, file has {ctx.size}"
            ),
        )
    return Sniffed("safetensors")


# --- pickles ---------------------------------------------------------------------------------


def _pickle(ctx: _Ctx) -> Sniffed | None:
    head = ctx.head
    modern = head[:1] == b"\x80" and len(head) > 2 and 2 <= head[1] <= 5 and head[2:3] in _OPCODES
    if not modern and not (head[:1] in _OPCODES and _plausible_old_pickle(ctx)):
        return None
    if TORCH_LEGACY_MAGIC in head[:32]:
        # Raw tensor storage follows the pickles, so the file does not end with STOP.
        return Sniffed("pytorch-legacy", pickle_based=True)
    if ".joblib" in ctx.suffixes or b"joblib.numpy_pickle" in head:
        fmt = "joblib"
    elif ctx.ext in TORCH_EXTENSIONS:
        fmt = "pytorch-legacy"
    else:
        fmt = "pickle"
    problem = None
    if ctx.at(ctx.size - 1, 1) != b".":
        problem = "truncated pickle (does not end with the STOP opcode '.')"
    return Sniffed(fmt, pickle_based=True, problem=problem)


def _plausible_old_pickle(ctx: _Ctx) -> bool:
    """Protocol 0/1 pickles start with printable opcodes, as text does: look closer.

    The opcodes are decoded (never executed) with pickletools. With a pickle extension a couple
    of valid opcodes suffice; without one, a small file must disassemble completely with a
    consistent stack, and a large one must decode at least 256 opcodes - text never does.
    """
    if ctx.ext in PICKLE_HINT_EXTENSIONS:
        return _count_opcodes(ctx.head) >= 2
    if ctx.size <= len(ctx.head):
        try:
            pickletools.dis(ctx.head, out=io.StringIO())
        except Exception:  # pickletools is a disassembler, not a validator: anything goes
            return False
        return _count_opcodes(ctx.head) >= 2
    return _count_opcodes(ctx.head) >= 256


def _count_opcodes(data: bytes) -> int:
    count = 0
    try:
        for _ in pickletools.genops(data):
            count += 1
    except Exception:  # stops at the first undecodable byte or the end of the head
        pass
    return count


def _compressed(ctx: _Ctx) -> Sniffed | None:
    """joblib's compressed dumps (zlib by default, gzip/bz2/xz by extension), and gzipped pickles.

    Only the first 64 decompressed bytes are produced: enough to see a pickle protocol header.
    """
    head = ctx.head
    try:
        if head[:2] == b"\x1f\x8b":
            inner = zlib.decompressobj(31).decompress(head, 64)
        elif head[:1] == b"\x78" and len(head) > 1 and int.from_bytes(head[:2], "big") % 31 == 0:
            inner = zlib.decompressobj().decompress(head, 64)
        elif head[:3] == b"BZh":
            inner = bz2.BZ2Decompressor().decompress(head, max_length=64)
        elif head[:6] == b"\xfd7zXZ\x00":
            inner = lzma.LZMADecompressor().decompress(head, max_length=64)
        else:
            return None
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    if not (inner[:1] == b"\x80" and len(inner) > 2 and 2 <= inner[1] <= 5):
        return None
    joblib = ".joblib" in ctx.suffixes or ctx.ext == ".z"
    return Sniffed("joblib" if joblib else "pickle", pickle_based=True)


# --- protobuf: ONNX and TensorFlow SavedModel ------------------------------------------------


def _onnx(ctx: _Ctx) -> Sniffed | None:
    """Heuristic, as any protobuf detection must be: protobuf has no magic number.

    Serializers write fields in field-number order, and a checked ModelProto always sets
    ir_version (field 1, a small varint), so the file starts 0x08 <1..63>. With the .onnx
    extension that is accepted. Without it, the top-level fields are walked (tags and lengths
    only, skipping the big graph field by its length) and must all be ModelProto fields with the
    right wire types, include graph (7) and opset_import (8), and end exactly at the end of the
    file - a structural check much stronger than looking for producer names or domain strings.
    The same walk catches truncation: a field running past the end of the file.
    """
    if len(ctx.head) < 2 or ctx.head[0] != 0x08 or not 1 <= ctx.head[1] <= 0x3F:
        return None
    fields, state = _protobuf_walk(ctx)
    if ctx.ext == ".onnx":
        if state == "truncated":
            return Sniffed(
                "onnx",
                problem=("truncated ONNX file: a protobuf field runs past the end of the file"),
            )
        if state == "invalid":
            return Sniffed("onnx", problem="corrupt ONNX file: invalid protobuf encoding")
        return Sniffed("onnx")
    numbers = {number for number, _ in fields}
    if (
        state == "ok"
        and {7, 8} <= numbers
        and all(_ONNX_FIELDS.get(number) == wire for number, wire in fields)
    ):
        return Sniffed("onnx")
    return None


def _savedmodel(ctx: _Ctx) -> Sniffed:
    """Named by TensorFlow's convention; the binary one is walked like ONNX for truncation."""
    if ctx.name.endswith(".pbtxt"):
        return Sniffed("tensorflow-savedmodel")
    _, state = _protobuf_walk(ctx)
    problem = {
        "truncated": "truncated SavedModel file: a protobuf field runs past the end of the file",
        "invalid": "corrupt SavedModel file: invalid protobuf encoding",
    }.get(state)
    return Sniffed("tensorflow-savedmodel", problem=problem)


def _protobuf_walk(ctx: _Ctx) -> tuple[list[tuple[int, int]], str]:
    """Top-level (field number, wire type) pairs and how the walk ended.

    The state is "ok" (ended exactly at the end of the file), "truncated", "invalid" or
    "capped" (stopped after MAX_PROTOBUF_FIELDS fields; nothing is concluded).
    """
    fields: list[tuple[int, int]] = []
    pos = 0
    while pos < ctx.size:
        if len(fields) >= MAX_PROTOBUF_FIELDS:
            return fields, "capped"
        tag, pos = _varint(ctx, pos)
        if tag is None:
            return fields, "truncated" if pos > ctx.size else "invalid"
        number, wire = tag >> 3, tag & 7
        if number == 0 or wire not in (0, 1, 2, 5):
            return fields, "invalid"
        if wire in (0, 2):
            value, pos = _varint(ctx, pos)
            if value is None:
                return fields, "truncated" if pos > ctx.size else "invalid"
            if wire == 2:
                pos += value
        else:
            pos += 8 if wire == 1 else 4
        fields.append((number, wire))
        if pos > ctx.size:
            return fields, "truncated"
    return fields, "ok"


def _varint(ctx: _Ctx, pos: int) -> tuple[int | None, int]:
    """(value, next position); (None, past-the-end) when the file ends inside the varint and
    (None, pos) when ten bytes pass without a terminator (not a varint)."""
    data = ctx.at(pos, 10)
    value = 0
    for i, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    return None, (ctx.size + 1 if len(data) < 10 else pos)


_PROBES: tuple[Callable[[_Ctx], Sniffed | None], ...] = (
    _zip,
    _hdf5,
    _gguf,
    _numpy,
    _safetensors,
    _pickle,
    _compressed,
    _onnx,
)
