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

import os
from collections.abc import Callable
from pathlib import PurePath
from typing import BinaryIO

from scanner.artefacts.formats.base import (
    HEAD_BYTES,
    KERAS_METADATA_NAME,
    MODEL_EXTENSIONS,
    NOT_MODEL,
    PICKLE_BASED,
    SAVEDMODEL_NAMES,
    STRICT_EXTENSIONS,
    Sniffed,
    _Ctx,
)
from scanner.artefacts.formats.containers import _sevenzip, _zip
from scanner.artefacts.formats.magic import _gguf, _hdf5, _numpy, _safetensors
from scanner.artefacts.formats.pickles import _compressed, _pickle
from scanner.artefacts.formats.protobuf import _onnx, _savedmodel
from scanner.artefacts.hashing import open_regular

__all__ = [
    "MODEL_EXTENSIONS",
    "PICKLE_BASED",
    "SAVEDMODEL_NAMES",
    "Sniffed",
    "sniff",
    "sniff_stream",
]

_PROBES: tuple[Callable[[_Ctx], Sniffed | None], ...] = (
    _zip,
    _sevenzip,
    _hdf5,
    _gguf,
    _numpy,
    _safetensors,
    _pickle,
    _compressed,
    _onnx,
)


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """The format of one regular file. Raises OSError when the file cannot be opened or read.

    The size comes from the open descriptor, not from an earlier stat, so the truncation checks
    compare against the bytes actually there.
    """
    with open_regular(path) as f:
        return sniff_stream(f, os.fstat(f.fileno()).st_size, PurePath(path).name)


def sniff_stream(f: BinaryIO, size: int, name: str) -> Sniffed:
    """The format of a seekable byte stream of `size` bytes named `name` (the last path part).

    For content that is not on the local disk, e.g. an S3 object read through ranged GETs
    with a byte budget; read errors surface as OSError, as for a file.
    """
    p = PurePath(name)
    ext = p.suffix.lower()
    if size == 0:
        if ext in MODEL_EXTENSIONS or p.name in SAVEDMODEL_NAMES:
            return Sniffed(None, problem="empty file (0 bytes)")
        return NOT_MODEL
    head = f.read(HEAD_BYTES)
    ctx = _Ctx(f, size, head, p.name, ext, tuple(s.lower() for s in p.suffixes))
    if p.name in SAVEDMODEL_NAMES or p.name == KERAS_METADATA_NAME:
        return _savedmodel(ctx)
    for probe in _PROBES:
        found = probe(ctx)
        if found is not None:
            return found
    if ext in STRICT_EXTENSIONS:
        return Sniffed(None, problem=f"content is not a recognised model format ({ext} file)")
    return NOT_MODEL
