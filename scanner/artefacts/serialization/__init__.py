"""Serialization safety: what loading a model file would import or run, found without loading it.

`scan_file` looks inside one file by its bytes: pickles (plain, joblib, compressed, legacy and
zip PyTorch, NumPy object arrays) are walked opcode by opcode (`pickle_walk`), every pickle of
a stream to its end (`stream`); zip and 7z archives are opened member by member, also when
damaged (`formats.archives`), and pickles or archives found inside are walked too (bounded
depth); Keras configs are read as JSON (`keras`); TensorFlow SavedModels are read as protobuf
(`savedmodel`). Nothing is unpickled, imported or loaded.

Every finding is an `Issue(file, global, reason, risk)`: `risk` says what the global can do,
so a message reads "`evil.pkl` imports `posix.system` (runs operating-system commands) when
loaded". A file that cannot be scanned completely (a malformed pickle, an encrypted archive, a
limit hit) is an Issue whose `global` is None and whose reason says why: the scan fails closed,
so an unreadable pickle is never "safe".

Decompression is capped (`max_bytes`, a source's `integrity_max_bytes`): no archive member and
no compressed pickle stream is decompressed past it, however small it is compressed, and a
file that would have been is reported as not fully scanned, naming the limit.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from scanner.artefacts.formats.archives import (
    MAX_EXTRACTED_BYTES,
    SEVENZIP_MAGIC,
    ZIP_MAGIC,
    ArchiveError,
    CappedStream,
    Member,
    sevenzip_members,
    zip_members,
)
from scanner.artefacts.formats.base import TORCH_LEGACY_MAGIC
from scanner.artefacts.formats.magic import _has_object, _npy_header
from scanner.artefacts.hashing import open_regular
from scanner.artefacts.serialization import keras, savedmodel
from scanner.artefacts.serialization.readers import BoundedReader, reader_for
from scanner.artefacts.serialization.stream import Walked, walk_stream

MAX_ZIP_DEPTH = 2
# What one member or compressed stream may decompress to when the caller gives no limit.
DEFAULT_MAX_DECOMPRESSED = 1024 * 1024 * 1024
MAX_NESTED_ZIP_BYTES = 512 * 1024 * 1024
PICKLE_NAMES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".dat", ".data")
# torch.save's legacy format: magic, protocol, sys_info, the object, the storage keys; raw
# storage bytes follow, which torch.load reads as data, never as a pickle.
_LEGACY_TORCH_PICKLES = 5
TF_OP_PREFIX = "tensorflow.raw_ops."  # how TensorFlow's Python API names a graph operation
SAVEDMODEL_FORMATS = ("tensorflow-savedmodel", "keras-metadata")


@dataclass(frozen=True)
class Issue:
    file: str
    global_name: str | None
    reason: str
    risk: str | None = None  # what the global can do ("runs operating-system commands")

    def as_dict(self) -> dict[str, Any]:
        out = {"file": self.file, "global": self.global_name, "reason": self.reason}
        if self.risk is not None:
            out["risk"] = self.risk
        return out

    @property
    def message(self) -> str:
        """One line for a person: what the file would do when loaded, or why it is unscanned."""
        return issue_message(self.as_dict())


def issue_message(issue: dict[str, Any]) -> str:
    """`evil.pkl imports posix.system (runs operating-system commands) when loaded`."""
    g, risk = issue.get("global"), issue.get("risk")
    if g and risk and str(g).startswith(TF_OP_PREFIX):
        op = str(g).removeprefix(TF_OP_PREFIX)
        return f"{issue['file']} runs the TensorFlow operation {op} ({risk}) when served"
    if g and risk:
        return f"{issue['file']} imports {g} ({risk}) when loaded"
    return f"{issue['file']}: {issue['reason']}"


@dataclass
class FileScan:
    issues: list[Issue] = field(default_factory=list)
    lambda_layers: list[str] = field(default_factory=list)
    pickles_walked: int = 0
    cap: int = DEFAULT_MAX_DECOMPRESSED  # bytes a member or compressed stream may inflate to


def scan_file(
    path: str | os.PathLike[str],
    name: str,
    fmt: str | None,
    max_bytes: int = DEFAULT_MAX_DECOMPRESSED,
) -> FileScan:
    """Scan one file, named `name` in findings, whose sniffed format is `fmt` (None: unknown);
    no member or compressed stream is decompressed past `max_bytes`.

    Never raises for bad content; an OSError opening the file is reported as an Issue too.
    """
    out = FileScan(cap=max_bytes)
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
    if fmt in SAVEDMODEL_FORMATS:
        return _tensorflow(f, size, name, fmt, out)
    if fmt == "hdf5" or head.startswith(b"\x89HDF"):
        return _h5(path, name, out)
    if head.startswith(ZIP_MAGIC):
        return _archive(f, size, name, out, depth, zip_=True)
    if head.startswith(SEVENZIP_MAGIC):
        return _archive(f, size, name, out, depth, zip_=False)
    if head.startswith(b"\x93NUMPY"):
        return _npy(f, size, name, out)
    if fmt == "pytorch-legacy" and TORCH_LEGACY_MAGIC in head[:32]:
        walked = walk_stream(reader_for(f, size), count=_LEGACY_TORCH_PICKLES)
        _record(walked, name, out, strict=True)
        if len(walked) < _LEGACY_TORCH_PICKLES and not any(w.result.error for w in walked):
            out.issues.append(
                Issue(name, None, f"only {len(walked)} of the legacy format's 5 pickles found")
            )
        return None
    decompressed = _decompressor(head, f) if fmt in ("pickle", "joblib") else None
    if decompressed is not None:
        capped = CappedStream(decompressed, out.cap)
        return _record(walk_stream(BoundedReader(capped)), name, out, strict=True)  # type: ignore[arg-type]
    if fmt in ("pickle", "joblib", "pytorch-legacy") or _looks_like_pickle(head):
        strict = fmt is not None or _named(name)
        return _record(walk_stream(reader_for(f, size)), name, out, strict=strict)
    return None


def _record(walked: Iterable[Walked], name: str, out: FileScan, *, strict: bool) -> None:
    """Add the findings of every pickle walked in one stream.

    `strict`: the bytes are meant to be pickles, so a walk that breaks is an Issue. Otherwise
    (opportunistic: a zip member that merely starts like one) a broken walk is not a pickle,
    but any global it named before breaking is still reported: the unpickler runs opcodes as it
    reads them, so a payload in front of garbage still runs.
    """
    seen: set[tuple[str | None, str]] = {(i.global_name, i.reason) for i in out.issues}
    for i, w in enumerate(walked, 1):
        out.pickles_walked += 1
        for flag in w.result.flags:
            key = (flag.global_name, flag.reason)
            if key not in seen:
                seen.add(key)
                out.issues.append(Issue(name, flag.global_name, flag.reason, flag.risk))
        error = w.result.error
        if error is None or not strict:
            continue
        if i == 1:
            what = "pickle could not be scanned"
        else:
            what = f"the data after pickle {i - 1}, from byte {w.start}, is not a valid pickle"
        out.issues.append(Issue(name, None, f"{what}: {error}"))


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


def _npy(f: BinaryIO, size: int | None, name: str, out: FileScan) -> None:
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
    reader = reader_for(f, None if size is None else size - end)
    _record(walk_stream(reader), name, out, strict=True)


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


def _tensorflow(f: BinaryIO, size: int | None, name: str, fmt: str, out: FileScan) -> None:
    """Graph operations of a SavedModel and Keras objects of its `keras_metadata.pb`."""
    if size is not None and size > savedmodel.MAX_PROTOBUF_BYTES:
        limit = savedmodel.MAX_PROTOBUF_BYTES
        out.issues.append(Issue(name, None, f"not scanned: over {limit} bytes of protobuf"))
        return
    data = f.read() if size is None else f.read(size)
    try:
        if fmt == "keras-metadata":
            for config in savedmodel.keras_metadata_configs(data):
                _config_bytes(config.encode(), name, out)
            return
        if name.endswith(".pbtxt"):
            ops = savedmodel.saved_model_text_ops(data.decode("utf-8", "replace"))
        else:
            ops = savedmodel.saved_model_ops(data)
    except ValueError as e:
        out.issues.append(Issue(name, None, f"could not be scanned: malformed protobuf ({e})"))
        return
    for found in dict.fromkeys(ops):
        g = TF_OP_PREFIX + found.op
        reason = f"the {found.where} runs {found.op}, which {found.risk}"
        out.issues.append(Issue(name, g, reason, found.risk))


def _archive(
    f: BinaryIO, size: int | None, name: str, out: FileScan, depth: int, zip_: bool
) -> None:
    kind = "zip" if zip_ else "7z"
    if size is None:
        size = f.seek(0, os.SEEK_END)
    try:
        members = list(
            zip_members(f, size, out.cap)
            if zip_
            else sevenzip_members(f, min(out.cap, MAX_EXTRACTED_BYTES))
        )
    except ArchiveError as e:
        out.issues.append(Issue(name, None, f"could not be scanned: {e}"))
        return
    except Exception as e:  # zipfile/py7zr raise many types on malformed archives
        out.issues.append(Issue(name, None, f"could not be scanned: unreadable {kind} ({e})"))
        return
    names = {m.name for m in members}
    for m in members:
        member = f"{name}:{m.name}"
        if m.problem is not None:
            out.issues.extend(Issue(member, None, note) for note in m.notes)
            out.issues.append(Issue(member, None, f"could not be scanned: {m.problem}"))
            continue
        try:
            _member(m, member, names, out, depth)
        except Exception as e:  # a bad member (bad compression, a read error) fails closed
            out.issues.append(Issue(member, None, f"could not be scanned: {e}"))
        # damage found while locating or reading it (a CRC mismatch shows only once read)
        out.issues.extend(Issue(member, None, note) for note in dict.fromkeys(m.notes))


def _member(m: Member, member: str, names: set[str], out: FileScan, depth: int) -> None:
    with m.open() as stream:
        head = stream.read(64)
    base = m.name.lower().rsplit("/", 1)[-1]
    if base in ("saved_model.pb", "saved_model.pbtxt", "keras_metadata.pb"):
        fmt = "keras-metadata" if base == "keras_metadata.pb" else "tensorflow-savedmodel"
        with m.open() as stream:
            return _tensorflow(stream, m.size, member, fmt, out)
    if m.name == "config.json" and _is_keras(names):
        with m.open() as stream:
            return _config_bytes(stream.read(keras.MAX_CONFIG_BYTES + 1), member, out)
    if head.startswith((ZIP_MAGIC, SEVENZIP_MAGIC)):
        if depth + 1 > MAX_ZIP_DEPTH:
            out.issues.append(Issue(member, None, "not scanned: archives nest too deeply"))
            return None
        if m.size is not None and m.size > MAX_NESTED_ZIP_BYTES:
            out.issues.append(Issue(member, None, "not scanned: nested archive too large"))
            return None
        with m.open() as stream:  # ZipExtFile seeks (forward by reading), as zipfile needs
            return _archive(stream, m.size, member, out, depth + 1, zip_=head[:2] == b"PK")
    if head.startswith(b"\x93NUMPY"):
        with m.open() as stream:
            return _npy(stream, m.size, member, out)
    standard = base in ("data.pkl", "constants.pkl") or _named(base)
    if _looks_like_pickle(head) or (standard and head[:1] in (b"(", b"c", b"]", b"}")):
        with m.open() as stream:
            reader = reader_for(stream, m.size)
            return _record(walk_stream(reader), member, out, strict=standard)
    return None


def _is_keras(names: set[str]) -> bool:
    return "config.json" in names and (
        "metadata.json" in names or any(n.endswith(".weights.h5") for n in names)
    )
