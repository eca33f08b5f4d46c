"""Hand-built pickles and archives for the serialization tests and corpus.

Pickles that name a global are assembled opcode by opcode, so no module has to be importable
(a payload may name `torch._inductor.codecache` where torch is not installed) and nothing is
ever unpickled. Archives are built with `zipfile` and then altered byte by byte the way the
public scanners' test suites describe their damaged samples (a flipped flag bit, a CRC that
does not match, a local header whose name disagrees with the central directory), or encrypted
with the classic ZipCrypto cipher (the stdlib can read but not write it). Nothing here is read
by modelward itself.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from collections.abc import Sequence


def u(text: str) -> bytes:
    """SHORT_BINUNICODE (protocol 4+)."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def body(obj: object, protocol: int) -> bytes:
    """The opcodes pickle writes for `obj`, without PROTO, FRAME and STOP, so they can be
    spliced into a hand-built pickle. Memo indices start at 0: splice only after opcodes that
    memoize nothing."""
    data = pickle.dumps(obj, protocol=protocol)
    if protocol >= 2:
        data = data[2:]
    if protocol >= 4 and data[:1] == b"\x95":
        data = data[9:]
    assert data.endswith(b".")
    return data[:-1]


def global_ref(module: str, name: str, protocol: int) -> bytes:
    """Opcodes that push `module.name`: GLOBAL below protocol 4, STACK_GLOBAL from it."""
    if protocol >= 4:
        return u(module) + u(name) + b"\x93"
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def framed(proto: int, content: bytes) -> bytes:
    """PROTO, then `content` (ending with STOP) in one frame, as CPython writes small pickles."""
    if proto < 4:
        return (b"\x80" + bytes([proto]) if proto >= 2 else b"") + content
    return b"\x80" + bytes([proto]) + b"\x95" + struct.pack("<Q", len(content)) + content


def call(module: str, name: str, args: Sequence[object] = (), protocol: int = 4) -> bytes:
    """A pickle that calls `module.name(*args)` when loaded: the shape of every payload."""
    content = global_ref(module, name, protocol) + body(tuple(args), protocol) + b"R."
    return framed(protocol, content)


def reduce_chain(protocol: int = 4) -> bytes:
    """getattr(__import__('os'), 'system')('id'): two dangerous globals in one pickle."""
    g = global_ref("builtins", "getattr", protocol)
    imp = global_ref("builtins", "__import__", protocol) + body(("os",), protocol) + b"R"
    if protocol >= 4:
        inner = g + imp + u("system") + b"\x86R" + u("id") + b"\x85R."
    else:
        inner = g + b"(" + imp + b"S'system'\ntR(S'id'\ntR."
    return framed(protocol, inner)


# --- framing -----------------------------------------------------------------------------------


def frame_overhang(hidden: bytes) -> bytes:
    """A benign pickle whose FRAME declares more bytes than its opcodes up to STOP.

    A reader of the bytes resumes right after STOP and sees a second benign pickle whose
    BINBYTES literal swallows `hidden`; pickle.load on an unbuffered file resumes at the frame's
    end, which is where `hidden` starts, and runs it.
    """
    first = b"K\x01."  # BININT1 1, STOP
    decoy_head = b"\x80\x04B" + struct.pack("<I", len(hidden))  # BINBYTES over `hidden`
    frame_len = len(first) + len(decoy_head)
    return b"\x80\x04\x95" + struct.pack("<Q", frame_len) + first + decoy_head + hidden + b"."


def frame_too_short(payload_module: str = "posix", payload_name: str = "system") -> bytes:
    """A frame that ends in the middle of an opcode's argument."""
    content = (
        global_ref(payload_module, payload_name, 4) + body(("id",), 4) + b"R."
    )  # the frame below claims only 3 bytes of it
    return b"\x80\x04\x95" + struct.pack("<Q", 3) + content


# --- PyTorch legacy (pre-zip torch.save) ------------------------------------------------------


TORCH_MAGIC = 0x1950A86A20F9469CFC6C


def torch_legacy(pickles: Sequence[bytes] | None = None, storage: bytes = b"\x00" * 24) -> bytes:
    """Five pickles (magic, protocol, sys_info, the object, the storage keys), then storages."""
    default = [
        pickle.dumps(TORCH_MAGIC, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        pickle.dumps({"weight": 1.0}, protocol=2),
        pickle.dumps(["0"], protocol=2),
    ]
    return b"".join(pickles or default) + storage


# --- zip archives --------------------------------------------------------------------------------


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_flag(data: bytes, bit: int, local: bool = True, central: bool = True) -> bytes:
    """Set a general-purpose flag bit in the local and/or central headers of every member."""
    out = bytearray(data)
    for sig, where in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        if (sig == b"PK\x03\x04" and not local) or (sig == b"PK\x01\x02" and not central):
            continue
        i = out.find(sig)
        while i >= 0:
            flags = struct.unpack_from("<H", out, i + where)[0] | bit
            struct.pack_into("<H", out, i + where, flags)
            i = out.find(sig, i + 4)
    return bytes(out)


def zip_bad_crc(data: bytes) -> bytes:
    """Flip the CRC-32 in the central directory (the local header keeps the right one)."""
    out = bytearray(data)
    i = out.find(b"PK\x01\x02")
    for k in range(4):
        out[i + 16 + k] ^= 0xFF
    return bytes(out)


def zip_renamed_local(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rename the first occurrence (the local header) only: the directory still says `old`."""
    assert len(old) == len(new)
    return data.replace(old, new, 1)


def zip_without_directory(data: bytes) -> bytes:
    """Cut the central directory and end record off: only the local headers remain."""
    return data[: data.find(b"PK\x01\x02")]


def zipcrypto(members: dict[str, bytes], password: bytes) -> bytes:
    """A zip whose members are encrypted with ZipCrypto (APPNOTE 6.1), stored uncompressed."""
    out = io.BytesIO()
    central = []
    for name, data in members.items():
        crc = zlib.crc32(data)
        keys = _zc_init(password)
        header = bytes(range(11)) + bytes([crc >> 24 & 0xFF])
        cipher = bytes(_zc_encrypt(keys, b) for b in header + data)
        offset = out.tell()
        raw_name = name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 1, 0, 0, 0, crc, len(cipher), len(data),
                len(raw_name), 0,
            )
        )  # fmt: skip
        out.write(raw_name + cipher)
        central.append((raw_name, crc, len(cipher), len(data), offset))
    cd_start = out.tell()
    for raw_name, crc, csize, usize, offset in central:
        out.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 1, 0, 0, 0, crc, csize, usize,
                len(raw_name), 0, 0, 0, 0, 0, offset,
            )
        )  # fmt: skip
        out.write(raw_name)
    cd_size = out.tell() - cd_start
    out.write(
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), cd_size,
                    cd_start, 0)
    )  # fmt: skip
    return out.getvalue()


def _zc_crc(crc: int, b: int) -> int:
    return zlib.crc32(bytes([b]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def _zc_init(password: bytes) -> list[int]:
    keys = [0x12345678, 0x23456789, 0x34567890]
    for b in password:
        _zc_update(keys, b)
    return keys


def _zc_update(keys: list[int], b: int) -> None:
    keys[0] = _zc_crc(keys[0], b)
    keys[1] = (keys[1] + (keys[0] & 0xFF)) & 0xFFFFFFFF
    keys[1] = (keys[1] * 134775813 + 1) & 0xFFFFFFFF
    keys[2] = _zc_crc(keys[2], keys[1] >> 24)


def _zc_encrypt(keys: list[int], b: int) -> int:
    temp = (keys[2] | 2) & 0xFFFF
    c = b ^ (((temp * (temp ^ 1)) >> 8) & 0xFF)
    _zc_update(keys, b)
    return c


# --- 7z ----------------------------------------------------------------------------------------


def sevenzip(members: dict[str, bytes], password: str | None = None) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password=password) as archive:
        if password:
            archive.set_encrypted_header(True)
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()


def zip_hiding(listed: dict[str, bytes], hidden: dict[str, bytes]) -> bytes:
    """A zip whose central directory lists only `listed`; the local headers of `hidden` sit
    between the listed members and the directory, where a streaming reader finds them."""
    shown = zip_of(listed)
    secret = zip_of(hidden)
    shown_cd = shown.find(b"PK\x01\x02")
    locals_ = shown[:shown_cd] + secret[: secret.find(b"PK\x01\x02")]
    directory = bytearray(shown[shown_cd:])
    end = directory.rfind(b"PK\x05\x06")
    struct.pack_into("<I", directory, end + 16, len(locals_))  # where the directory starts
    return locals_ + bytes(directory)
