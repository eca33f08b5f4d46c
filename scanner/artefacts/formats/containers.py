"""Zip and 7z containers: PyTorch, Keras, skops, NumPy archives, and plain archives that hold
pickles.

A plain archive is a model file when what it holds is: a member named like a model file, or
whose first bytes are a pickle, a NumPy array or another archive. That is decided from the
members themselves, not from the archive's name, so `weights`, `model.txt` or `payload.zip`
holding a pickle is recognised. Damaged zips (a bad CRC, odd flag bits, a broken central
directory) are listed the way loaders read them (`archives`).
"""

from __future__ import annotations

import re
import zipfile

from scanner.artefacts.formats.archives import (
    SEVENZIP_MAGIC,
    ZIP_MAGIC,
    ArchiveError,
    zip_members,
)
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

# A protocol 0/1 pickle starts with a GLOBAL (`cmodule\nname\n`) or a MARK and a literal.
_OLD_PICKLE_HEAD = re.compile(rb"c[A-Za-z_][\w.]*\n[A-Za-z_][\w.]*\n|\((?:[SVIFLdN]|c[A-Za-z_])")
# Names a loader picks inside an archive, beyond the model extensions.
_PICKLE_MEMBER_NAMES = (
    ".pkl",
    ".pickle",
    ".joblib",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".dat",
    ".data",
)


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
        return _damaged(ctx) or corrupt
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
        return _damaged(ctx) or corrupt
    if fmt is None:  # a plain zip: a model file when what it holds is one
        found = _plain_archive(ctx)
        if found is not None:
            return found
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


def member_looks_like_model(name: str, head: bytes) -> tuple[bool, bool]:
    """(is a model file, is pickle-based) for an archive member, by its name and first bytes."""
    lower = name.lower()
    pickled = (
        (head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5)
        or _OLD_PICKLE_HEAD.match(head) is not None
        or lower.endswith(_PICKLE_MEMBER_NAMES)
    )
    nested = head.startswith((ZIP_MAGIC, SEVENZIP_MAGIC, b"\x93NUMPY"))
    named = any(lower.endswith(ext) for ext in MODEL_EXTENSIONS)
    return pickled or nested or named, pickled


def _plain_archive(ctx: _Ctx) -> Sniffed | None:
    """Sniffed("zip") when some member of a zip without a known layout is a model file.

    Member heads are read (64 bytes each, decompressed) for at most MAX_NPZ_MEMBERS_INSPECTED
    members; damaged archives are listed from their local headers.
    """
    model = pickled = False
    try:
        for i, member in enumerate(zip_members(ctx.f, ctx.size)):
            if i >= MAX_NPZ_MEMBERS_INSPECTED:
                break
            head = b""
            if member.opener is not None:
                try:
                    with member.open() as stream:
                        head = stream.read(64)
                except OSError:
                    raise
                except Exception:  # a damaged member: its name may still tell
                    head = b""
            is_model, is_pickle = member_looks_like_model(member.name, head)
            model, pickled = model or is_model, pickled or is_pickle
            if model and pickled:
                break
    except OSError:
        raise  # the bytes could not be read (an object over its read budget): not "no model"
    except ArchiveError:
        return None
    except Exception:  # zipfile/zlib raise all sorts on hostile input
        return None
    return Sniffed("zip", pickle_based=pickled) if model else None


def _damaged(ctx: _Ctx) -> Sniffed | None:
    """A zip whose central directory is unreadable but whose local headers hold a model file:
    loaders that stream local headers still read it, so it is scanned, and reported."""
    found = _plain_archive(ctx)
    if found is None:
        return None
    return Sniffed(
        "zip",
        pickle_based=found.pickle_based,
        problem="truncated or corrupt zip archive (its central directory is unreadable; "
        "members were found from their local headers)",
    )


def _sevenzip(ctx: _Ctx) -> Sniffed | None:
    """Every 7z archive is inspected: one is rarely anything but a packed model or dataset,
    and its members cannot be read without decompressing them."""
    if not ctx.head.startswith(SEVENZIP_MAGIC):
        return None
    import py7zr  # lazy: only for 7z archives

    try:
        ctx.f.seek(0)
        with py7zr.SevenZipFile(ctx.f, "r") as archive:
            names = archive.getnames()
    except Exception as e:  # py7zr raises many types; an encrypted header needs a password
        if "password" in str(e).lower():
            return Sniffed(None, problem="encrypted 7z archive: its members cannot be inspected")
        return Sniffed(None, problem=f"truncated or corrupt 7z archive ({type(e).__name__})")
    pickled = any(member_looks_like_model(n, b"")[1] for n in names)
    return Sniffed("7z", pickle_based=pickled)
