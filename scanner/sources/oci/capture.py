"""What is kept of one file while its layer streams past, and the reader over what was kept.

A layer is a tar stream (usually gzip- or zstd-compressed) that can be read once, in order: no
ranged reads. So each regular file is judged as it passes:
1. its head (the first `sniff_bytes`) is read and sniffed on its own; when that settles it as
   not a model file (the probes needed no byte beyond the head), only its path, size and, when
   the head is the whole file, its SHA-256 are kept (`SideFile`): a model signature inside the
   image signs the small files beside the weights too (config, tokenizer), and their digests
   come free from bytes already in memory;
2. otherwise the whole file is hashed as it streams, its head and its last 64-128 KiB (a zip's
   central directory) are kept, and, while the image's `integrity_max_bytes` allows, the whole
   file goes to a private temporary file (numbered, never under its own name) so the
   serialization scan can read it; a file that turns out to need no scan is deleted at once;
3. the kept bytes are sniffed through the object-store builder's `read_object`, the same
   ranged sniffing every object store uses: a read outside what was kept fails like a denied
   range, and the format is Unknown with that reason, never guessed.
Nothing of an image is ever written to disk beyond the model files within the budget.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from scanner.artefacts.formats import Sniffed, sniff_stream
from scanner.artefacts.integrity import should_scan
from scanner.artefacts.signatures import is_signature_name
from scanner.inventory import Unknown
from scanner.sources.model_dirs import MARKER_FILES
from scanner.sources.objectstore import (
    Listing,
    ObjectRead,
    ObjectReadError,
    StoredObject,
    read_object,
)
from scanner.sources.objectstore.ranged import BLOCK, RandomAccess

# A zip's end-of-central-directory record sits within the last 64 KiB + 22 bytes.
TAIL_NEED = 0xFFFF + 22
_CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass
class Kept:
    """The bytes of one file that survive its layer's stream."""

    size: int
    head: bytes
    tail_start: int
    tail: bytes
    sha256: str
    spool: Path | None = None  # the whole file, within the integrity budget


@dataclass(frozen=True)
class SideFile:
    """A file that is not a model file: what a model signature's check needs of it."""

    path: str
    size: int
    layer: str
    sha256: str | None  # None: larger than the head that was read, not hashed


@dataclass
class CapturedFile:
    """A model file (or a marker or signature file) found in a layer."""

    path: str  # in the image, relative to `/`
    size: int
    layer: str  # the layer's digest
    layer_index: int
    read: ObjectRead
    kept: Kept | None


class Spool:
    """The image's private temporary directory and its byte budget for whole files."""

    def __init__(self, directory: Path, budget: int) -> None:
        self.directory = directory
        self.remaining = budget
        self._count = 0

    def reserve(self, size: int) -> Path | None:
        if size > self.remaining:
            return None
        self.remaining -= size
        self._count += 1
        return self.directory / str(self._count)

    def release(self, path: Path, size: int) -> None:
        path.unlink(missing_ok=True)
        self.remaining += size


def always_kept(name: str) -> bool:
    return name in MARKER_FILES or is_signature_name(name)


def capture(
    stream: Readable,
    path: str,
    size: int,
    layer: str,
    layer_index: int,
    sniff_bytes: int,
    spool: Spool,
) -> CapturedFile | SideFile:
    """Read one file's bytes from `stream`: the file if it is (or may be) a model file, else
    what a signature check needs of it."""
    name = posixpath.basename(path)
    head_len = -(-sniff_bytes // BLOCK) * BLOCK
    head = _read_exactly(stream, min(size, head_len))
    if not always_kept(name):
        verdict = _head_verdict(head, size, name)
        if verdict is not None and not verdict.is_model:
            whole = len(head) == size
            return SideFile(path, size, layer, hashlib.sha256(head).hexdigest() if whole else None)
    kept = _keep_rest(stream, head, size, spool)
    obj = StoredObject(path, size)
    read = read_object(_OneFile(kept, layer), obj, sniff_bytes)
    # A signature file stays whole: a model signature's check reads it after the layers.
    if (
        kept.spool is not None
        and not should_scan(path, read.format)
        and not is_signature_name(name)
    ):
        spool.release(kept.spool, size)
        kept.spool = None
    return CapturedFile(path, size, layer, layer_index, read, kept)


def _head_verdict(head: bytes, size: int, name: str) -> Sniffed | None:
    """The format from the head alone, or None when the probes need bytes beyond it (then the
    whole file is read and kept as for a model file)."""
    try:
        return sniff_stream(cast(BinaryIO, _Window(head, size)), size, name)
    except OSError:
        return None
    except Exception:  # a probe bug must not hide a file: treat it as undecided
        return None


def _keep_rest(stream: Readable, head: bytes, size: int, spool: Spool) -> Kept:
    digest = hashlib.sha256(head)
    tail_start = max(0, ((size - TAIL_NEED) // BLOCK) * BLOCK)
    tail = bytearray(head[tail_start:]) if tail_start < len(head) else bytearray()
    target = spool.reserve(size)
    out = target.open("wb") if target is not None else None
    try:
        if out is not None:
            out.write(head)
        pos = len(head)
        while pos < size:
            chunk = stream.read(min(_CHUNK, size - pos))
            if not chunk:
                raise ObjectReadError(f"the layer ended {size - pos} bytes into a file")
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
            end = pos + len(chunk)
            if end > tail_start:
                tail += chunk[max(0, tail_start - pos) :]
            pos = end
    finally:
        if out is not None:
            out.close()
    return Kept(size, head, max(tail_start, 0), bytes(tail), digest.hexdigest(), target)


def _read_exactly(stream: Readable, n: int) -> bytes:
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            raise ObjectReadError(f"the layer ended {remaining} bytes into a file")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


class _Window(RandomAccess):
    """A file of `size` bytes of which only the head is known: reading past it raises."""

    def __init__(self, head: bytes, size: int) -> None:
        super().__init__(size)
        self._head = head

    def _range(self, start: int, end: int) -> bytes:
        if end > len(self._head):
            raise OSError("beyond the head")
        return self._head[start:end]


class _OneFile:
    """The object-store reader protocol over one kept file (for `read_object`)."""

    def __init__(self, kept: Kept, layer: str) -> None:
        self._kept = kept
        self._layer = layer

    def list_objects(self, cap: int) -> Listing:
        return Listing(())

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        return kept_range(self._kept, start, length, self._layer)

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        return self._kept.sha256

    def read_all(self, obj: StoredObject, into: Any) -> None:
        copy_kept(self._kept, into, self._layer)


def kept_range(kept: Kept, start: int, length: int, layer: str) -> bytes:
    end = start + length
    if kept.spool is not None:
        with kept.spool.open("rb") as f:
            f.seek(start)
            return f.read(length)
    if end <= len(kept.head):
        return kept.head[start:end]
    if start >= kept.tail_start and end <= kept.tail_start + len(kept.tail):
        return kept.tail[start - kept.tail_start : end - kept.tail_start]
    raise ObjectReadError(
        f"bytes {start}-{end} of a {kept.size}-byte file in layer {layer} were not kept (a "
        f"layer is read once as a stream; over the integrity budget only the first "
        f"{len(kept.head)} and last {len(kept.tail)} bytes are kept: raise integrity_max_bytes "
        "or sniff_bytes)"
    )


def copy_kept(kept: Kept, into: Any, layer: str) -> None:
    if kept.spool is None and len(kept.head) == kept.size:  # the head is the whole file
        into.write(kept.head)
        return
    if kept.spool is None:
        raise ObjectReadError(
            f"the {kept.size}-byte file in layer {layer} was not kept whole: over the image's "
            "integrity_max_bytes budget"
        )
    with kept.spool.open("rb") as f:
        while chunk := f.read(_CHUNK):
            into.write(chunk)


def remove_spool(kept: Kept | None) -> None:
    if kept is not None and kept.spool is not None:
        os.unlink(kept.spool)
        kept.spool = None
