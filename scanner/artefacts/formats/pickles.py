"""Pickles, decoded opcode by opcode with pickletools (never unpickled), and compressed joblib."""

from __future__ import annotations

import bz2
import io
import lzma
import pickletools
import zlib

from scanner.artefacts.formats.base import (
    _OPCODES,
    PICKLE_HINT_EXTENSIONS,
    TORCH_EXTENSIONS,
    TORCH_LEGACY_MAGIC,
    Sniffed,
    _Ctx,
)

MAX_PICKLE_WALK = 8 * 1024 * 1024  # bigger plain pickles: only the last-byte check


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
    elif fmt == "pickle" and ctx.size <= MAX_PICKLE_WALK and not _reaches_stop(ctx):
        # A final "." can be data (the cut of `'a.b'` after `a.`): walk the opcodes to be sure.
        # Only plain pickles: joblib and torch put raw array bytes between their pickles.
        problem = "truncated pickle (the opcode stream ends before STOP)"
    return Sniffed(fmt, pickle_based=True, problem=problem)


def _reaches_stop(ctx: _Ctx) -> bool:
    """Decode opcodes (never executing them) until STOP; False if the data runs out first."""
    data = ctx.at(0, ctx.size)
    try:
        for opcode, _, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name == "STOP":
                return True
    except Exception:
        return False
    return False


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
