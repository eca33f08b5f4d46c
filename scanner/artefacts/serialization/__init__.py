"""Serialization safety: what loading a model file would import or run, found without loading it.

`scan_file` looks inside one file by its bytes: pickles (plain, joblib, compressed, legacy and
zip PyTorch, NumPy object arrays) are walked opcode by opcode (`pickle_walk`); zip archives are
opened member by member, and pickles or archives found inside are walked too (bounded depth);
Keras configs are read as JSON (`keras`). Nothing is unpickled, imported or loaded.

Every finding is an `Issue(file, global, reason)`. A file that cannot be scanned completely (a
malformed pickle, a zip that cannot be opened, a limit hit) is an Issue whose `global` is None
and whose reason says why: the scan fails closed, so an unreadable pickle is never "safe".
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from scanner.artefacts.formats.base import MAX_ZIP_ENTRIES, TORCH_LEGACY_MAGIC
from scanner.artefacts.formats.magic import _has_object, _npy_header
from scanner.artefacts.hashing import open_regular
from scanner.artefacts.serialization import keras
from scanner.artefacts.serialization.pickle_walk import WalkResult, walk
from scanner.artefacts.serialization.readers import BoundedReader, reader_for

MAX_ZIP_DEPTH = 2
MAX_MEMBERS_SCANNED = 10_000
MAX_NESTED_ZIP_BYTES = 512 * 1024 * 1024
PICKLE_NAMES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".dat")
_LEGACY_TORCH_PICKLES = 5  # magic, protocol, sys_info, the object, the storage keys


@dataclass(frozen=True)
class Issue:
    file: str
    global_name: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "global": self.global_name, "reason": self.reason}


@dataclass
class FileScan:
    issues: list[Issue] = field(default_factory=list)
    lambda_layers: list[str] = field(default_factory=list)
    pickles_walked: int = 0


def scan_file(path: str | os.PathLike[str], name: str, fmt: str | None) -> FileScan:
    """Scan one file, named `name` in findings, whose sniffed format is `fmt` (None: unknown).

    Never raises for bad content; an OSError opening the file is reported as an Issue too.
    """
    out = FileScan()
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            _dispatch(f, size, name, fmt, out, depth=0, path=os.fspath(path))
    except OSError as e:
        out.issues.append(Issue(name, None, f"could not be scanned: {e.strerror or e}"))
    except Exception as e:  # a scanner bug must not pass the file: fail closed on it
        out.issues.append(Issue(name, None, f"could not be scanned: {type(e).__name__}: {e}"))
    return out


def _dispatch(
    f: BinaryIO,
    size: int,
    name: str,
    fmt: str | None,
    out: FileScan,
    depth: int,
    path: str | None = None,
) -> None:
    head = f.read(64)
    f.seek(0)
    if fmt == "hdf5" or head.startswith(b"\x89HDF"):
        return _h5(path, name, out)
    if head.startswith(b"PK\x03\x04"):
        return _zip(f, name, out, depth)
    if head.startswith(b"\x93NUMPY"):
        return _npy(f, size, name, out)
    if fmt == "pytorch-legacy" and TORCH_LEGACY_MAGIC in head[:32]:
        reader = reader_for(f, size)
        for i in range(_LEGACY_TORCH_PICKLES):
            if not _record(walk(reader), name, out, strict=True, what=f"pickle {i + 1}"):
                return None
        return None
    decompressed = _decompressor(head, f) if fmt in ("pickle", "joblib") else None
    if decompressed is not None:
        return _record(walk(BoundedReader(decompressed)), name, out, strict=True)
    if fmt in ("pickle", "joblib", "pytorch-legacy") or _looks_like_pickle(head):
        return _record(walk(reader_for(f, size)), name, out, strict=fmt is not None or _named(name))
    return None


def _record(
    result: WalkResult, name: str, out: FileScan, *, strict: bool, what: str = "pickle"
) -> bool:
    """Add a walk's findings; True when the walk reached STOP.

    `strict`: the bytes are meant to be a pickle, so a walk that breaks is an Issue. Otherwise
    (opportunistic: a zip member that merely starts like one) a broken walk is not a pickle,
    but any global it named before breaking is still reported: the unpickler runs opcodes as it
    reads them, so a payload in front of garbage still runs.
    """
    out.pickles_walked += 1
    seen: set[tuple[str | None, str]] = set()
    for flag in result.flags:
        key = (flag.global_name, flag.reason)
        if key not in seen:
            seen.add(key)
            out.issues.append(Issue(name, flag.global_name, flag.reason))
    if result.error is not None and strict:
        out.issues.append(Issue(name, None, f"{what} could not be scanned: {result.error}"))
    return result.error is None


def _looks_like_pickle(head: bytes) -> bool:
    return head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5


def _named(name: str) -> bool:
    return name.lower().endswith(PICKLE_NAMES)


def _decompressor(head: bytes, f: BinaryIO) -> BinaryIO | None:
    """joblib's compressed dumps and gzipped pickles, decompressed as a stream."""
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if head[:3] == b"BZh":
        return bz2.BZ2File(f, "rb")  # type: ignore[return-value]
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(f, "rb")  # type: ignore[return-value]
    if head[:1] == b"\x78" and len(head) > 1 and int.from_bytes(head[:2], "big") % 31 == 0:
        return _ZlibStream(f)  # type: ignore[return-value]
    return None


class _ZlibStream:
    """A raw zlib stream (joblib's default compressor) as a readable file; the stdlib has none."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.d = zlib.decompressobj()
        self.buf = b""

    def read(self, n: int) -> bytes:
        while len(self.buf) < n and not self.d.eof:
            chunk = self.d.unconsumed_tail or self.f.read(256 * 1024)
            if not chunk:
                break
            self.buf += self.d.decompress(chunk, max(n - len(self.buf), 64 * 1024))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def _npy(f: BinaryIO, size: int, name: str, out: FileScan) -> None:
    """An object array's data is a pickle (np.load(allow_pickle=True) unpickles it)."""
    head = f.read(65536 + 16)
    header = _npy_header(head)
    if header is None:
        out.issues.append(Issue(name, None, "could not be scanned: corrupt .npy header"))
        return
    end, descr, _ = header
    if not _has_object(descr):
        return
    f.seek(end)
    _record(walk(reader_for(f, size - end)), name, out, strict=True, what="object array")


def _h5(path: str | None, name: str, out: FileScan) -> None:
    """Top-level HDF5 files only: inside a `.keras` zip the HDF5 member holds weights, and the
    config that matters is `config.json`."""
    if path is None:
        return
    try:
        _config_bytes(keras.h5_model_config(path), name, out)
    except Exception as e:  # h5py raises OSError/KeyError/ValueError on malformed files
        out.issues.append(Issue(name, None, f"could not read the HDF5 model config: {e}"))


def _config_bytes(config: bytes | None, name: str, out: FileScan) -> None:
    if config is None:
        return
    try:
        findings, lambdas = keras.config_findings(config)
    except (ValueError, RecursionError) as e:
        out.issues.append(Issue(name, None, f"could not read the Keras model config: {e}"))
        return
    model_file = name.removesuffix(":config.json")  # a .keras archive's config member
    out.lambda_layers.extend(f"{model_file}:{layer}" for layer in lambdas)
    out.issues.extend(Issue(name, g, reason) for g, reason in findings)


def _zip(f: BinaryIO, name: str, out: FileScan, depth: int) -> None:
    try:
        zf = zipfile.ZipFile(f)
    except Exception as e:  # zipfile raises many types on malformed archives
        out.issues.append(Issue(name, None, f"could not be scanned: unreadable zip ({e})"))
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > min(MAX_ZIP_ENTRIES, MAX_MEMBERS_SCANNED):
            out.issues.append(
                Issue(name, None, f"not scanned: zip archive has {len(infos)} members")
            )
            return
        for info in infos:
            member = f"{name}:{info.filename}"
            try:
                _member(zf, info, member, out, depth)
            except Exception as e:  # a bad member (bad CRC, bad compression) fails closed
                out.issues.append(Issue(member, None, f"could not be scanned: {e}"))


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, out: FileScan, depth: int):
    lower = info.filename.lower()
    with zf.open(info) as m:
        head = m.read(64)
    base = lower.rsplit("/", 1)[-1]
    if info.filename == "config.json" and _is_keras(zf):
        with zf.open(info) as m:
            return _config_bytes(m.read(keras.MAX_CONFIG_BYTES + 1), member, out)
    if head.startswith(b"PK\x03\x04"):
        if depth + 1 > MAX_ZIP_DEPTH:
            out.issues.append(Issue(member, None, "not scanned: archives nest too deeply"))
            return None
        if info.file_size > MAX_NESTED_ZIP_BYTES:
            out.issues.append(Issue(member, None, "not scanned: nested archive too large"))
            return None
        with zf.open(info) as m:  # ZipExtFile seeks (forward by reading), as zipfile needs
            return _dispatch(m, info.file_size, member, None, out, depth + 1)  # type: ignore[arg-type]
    if head.startswith(b"\x93NUMPY"):
        with zf.open(info) as m:
            return _npy(m, info.file_size, member, out)  # type: ignore[arg-type]
    standard = base in ("data.pkl", "constants.pkl") or _named(base)
    if _looks_like_pickle(head) or (standard and head[:1] in (b"(", b"c", b"]", b"}")):
        with zf.open(info) as m:
            reader = reader_for(m, info.file_size)  # type: ignore[arg-type]
            return _record(walk(reader), member, out, strict=standard)
    return None


def _is_keras(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    return "config.json" in names and (
        "metadata.json" in names or any(n.endswith(".weights.h5") for n in names)
    )
