"""Zip containers: PyTorch, Keras, skops, NumPy archives."""

from __future__ import annotations

import zipfile

from scanner.artefacts.formats.base import (
    HEAD_BYTES,
    MAX_NPZ_MEMBERS_INSPECTED,
    MAX_ZIP_ENTRIES,
    MODEL_EXTENSIONS,
    NOT_MODEL,
    PICKLE_BASED,
    STRICT_EXTENSIONS,
    Sniffed,
    _Ctx,
)
from scanner.artefacts.formats.magic import _has_object, _npy_header


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
        offset = int.from_bytes(tail[i - 12 : i - 4], "little")
        if offset + 56 > ctx.size:  # a hostile locator pointing past the end of the file
            return None
        record = ctx.at(offset, 56)
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
