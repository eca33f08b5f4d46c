"""Formats with a magic number or a length-prefixed header: HDF5, GGUF, NumPy, safetensors."""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from scanner.artefacts.formats.base import (
    HDF5_MAGIC,
    MAX_PARSED_JSON_HEADER,
    MAX_SAFETENSORS_HEADER,
    Sniffed,
    _Ctx,
)


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
