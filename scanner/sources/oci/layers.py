"""One layer, streamed once: its digest checked, decompressed, its tar entries and whiteouts.

A layer blob is read straight from the registry (or the layout or archive) into hashlib and the
decompressor (gzip, or zstd since the OCI image spec 1.1; plain tar too), then into `tarfile`
in stream mode: nothing of the layer is stored except what `capture` keeps of model files. The
blob's digest is checked when it ends; a layer that does not match its digest is discarded
whole (its files cannot be attributed to the image that names it).

Hostile tars: member names are only ever keys (never paths on this disk); names with `..` are
refused; long-name and pax headers over 1 MiB are refused before tarfile reads them into
memory; the unpacked bytes count against the image's budget, so a gzip bomb stops there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, BinaryIO, cast

from scanner.sources.oci.capture import CapturedFile, Readable, SideFile, Spool, capture
from scanner.sources.oci.manifests import Descriptor

MAX_HEADER_BYTES = 1024 * 1024
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_BUFFER = 1024 * 1024


class LayerError(Exception):
    """The layer cannot be read as a whole; the message says why (it is not used at all)."""


class BudgetExceeded(LayerError):
    pass


@dataclass
class LayerRead:
    """What one layer holds, as far as the image's filesystem needs it."""

    digest: str
    index: int
    whiteouts: list[str] = field(default_factory=list)  # paths deleted from lower layers
    opaque: list[str] = field(default_factory=list)  # directories emptied of lower content
    replaced: list[str] = field(default_factory=list)  # non-directory entries (shadow lower)
    directories: list[str] = field(default_factory=list)
    files: list[CapturedFile] = field(default_factory=list)
    side: list[SideFile] = field(default_factory=list)  # the other regular files
    hardlinks: list[tuple[str, str]] = field(default_factory=list)  # (path, target)
    entries: int = 0
    refused: list[str] = field(default_factory=list)  # entries not read, and why
    unpacked: int = 0

    def add(self, found: CapturedFile | SideFile) -> None:
        if isinstance(found, SideFile):
            self.side.append(found)
        else:
            self.files.append(found)


class Budget:
    """Unpacked bytes and tar entries left for one image."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.bytes = max_bytes
        self.entries = max_entries
        self.max_bytes = max_bytes


def read_layer(
    raw: BinaryIO,
    layer: Descriptor,
    index: int,
    budget: Budget,
    spool: Spool,
    sniff_bytes: int,
    exclude: tuple[str, ...],
) -> LayerRead:
    """Stream `raw` (the blob as stored) and return what the layer holds."""
    digesting = _Digesting(raw, layer.digest, layer.size)
    buffered = io.BufferedReader(digesting, _BUFFER)
    out = LayerRead(layer.digest, index)
    try:
        if layer.is_tar_layer:
            unpacked = _Counting(_decompressed(buffered, layer), budget, layer.digest)
            _read_tar(unpacked, out, budget, spool, sniff_bytes, exclude)
            _drain(unpacked)
            out.unpacked = unpacked.count
        else:  # a file layer: one blob, one file (ORAS and model packaging tools)
            title = layer.title or ""
            path = _normal(title)
            if path is None:
                raise LayerError(f"file layer {layer.digest} has an unusable title {title!r}")
            counted = _Counting(buffered, budget, layer.digest)
            found = capture(counted, path, layer.size, layer.digest, index, sniff_bytes, spool)
            out.add(found)
            out.replaced.append(path)
            out.entries = 1
            out.unpacked = counted.count
        _drain(buffered)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, ValueError) as exc:
        if isinstance(exc, LayerError):
            raise
        raise LayerError(
            f"layer {layer.digest} cannot be read: {type(exc).__name__}: {exc}"
        ) from None
    digesting.verify()
    return out


def _read_tar(
    stream: Readable,
    out: LayerRead,
    budget: Budget,
    spool: Spool,
    sniff_bytes: int,
    exclude: tuple[str, ...],
) -> None:
    with tarfile.open(fileobj=cast(BinaryIO, stream), mode="r|", tarinfo=_SafeTarInfo) as tar:
        for member in tar:
            budget.entries -= 1
            if budget.entries < 0:
                raise BudgetExceeded("more tar entries than max_entries allows")
            out.entries += 1
            path = _normal(member.name)
            if path is None:
                out.refused.append(f"{member.name!r}: a path outside the image root")
                continue
            base = posixpath.basename(path)
            parent = posixpath.dirname(path)
            if base == OPAQUE:
                out.opaque.append(parent)
                continue
            if base.startswith(WHITEOUT):
                if not base.startswith(".wh..wh."):  # aufs metadata (.wh..wh.plnk) is not one
                    out.whiteouts.append(posixpath.join(parent, base[len(WHITEOUT) :]))
                continue
            if member.isdir():
                out.directories.append(path)
                continue
            out.replaced.append(path)
            if member.islnk():
                target = _normal(member.linkname)
                if target is not None:
                    out.hardlinks.append((path, target))
                continue
            if not member.isreg() or _excluded(path, exclude):
                continue
            data = tar.extractfile(member)
            if data is None:
                continue
            found = capture(data, path, member.size, out.digest, out.index, sniff_bytes, spool)
            out.add(found)


def _excluded(path: str, exclude: tuple[str, ...]) -> bool:
    return any(fnmatchcase(path, pattern) for pattern in exclude)


def _normal(name: str) -> str | None:
    """A member name as a path relative to the image root; None for one that escapes it."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _decompressed(buffered: Any, layer: Descriptor) -> Readable:
    magic = buffered.peek(4)[:4]
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    if magic == b"\x28\xb5\x2f\xfd":
        import zstandard  # only for zstd layers

        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
        return cast(Readable, reader)
    if layer.media_type.endswith(("+gzip", "+zstd")):
        raise LayerError(
            f"layer {layer.digest} is declared {layer.media_type} but its content is not"
        )
    return cast(Readable, buffered)


def _drain(stream: Any) -> None:
    while stream.read(_BUFFER):
        pass


class _Digesting(io.RawIOBase):
    """The blob as stored: hashed while read, and never more than its declared size."""

    def __init__(self, raw: BinaryIO, digest: str, size: int) -> None:
        super().__init__()
        algorithm, _, self._expected = digest.partition(":")
        if algorithm not in ("sha256", "sha512"):
            raise LayerError(f"unsupported digest algorithm in {digest}")
        self._hash = hashlib.new(algorithm)
        self._raw = raw
        self._digest = digest
        self._size = size
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        if not data:
            return 0
        self.count += len(data)
        if self.count > self._size:
            raise LayerError(f"layer {self._digest} is longer than its declared {self._size} bytes")
        self._hash.update(data)
        view[: len(data)] = data
        return len(data)

    def verify(self) -> None:
        if self.count != self._size:
            raise LayerError(
                f"layer {self._digest}: {self.count} bytes read, {self._size} declared"
            )
        if self._hash.hexdigest() != self._expected:
            raise LayerError(f"layer {self._digest}: the content does not match its digest")


class _Counting:
    """Unpacked bytes, counted against the image's budget."""

    def __init__(self, inner: Readable, budget: Budget, digest: str) -> None:
        self._inner = inner
        self._budget = budget
        self._digest = digest
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n if n is not None and n >= 0 else _BUFFER)
        self.count += len(data)
        self._budget.bytes -= len(data)
        if self._budget.bytes < 0:
            raise BudgetExceeded(
                f"over the image's {self._budget.max_bytes}-byte budget (max_image_bytes) "
                f"in layer {self._digest}"
            )
        return data


class _SafeTarInfo(tarfile.TarInfo):
    """tarfile reads a long-name or pax header's whole declared size into memory: refuse big
    ones first. (`_proc_member` is tarfile's dispatch for every header, stable since 3.x.)"""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> Any:
        special = (
            tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK,
            tarfile.XHDTYPE,
            tarfile.XGLTYPE,
            tarfile.SOLARIS_XHDTYPE,
        )
        if self.type in special and self.size > MAX_HEADER_BYTES:
            raise tarfile.HeaderError(
                f"a {self.size}-byte extended header (over {MAX_HEADER_BYTES}): refused"
            )
        return super()._proc_member(tarfile_)  # type: ignore[misc]


Progress = Callable[[str], None]
