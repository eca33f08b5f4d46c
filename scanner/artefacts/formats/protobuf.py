"""Protobuf formats: ONNX ModelProto and TensorFlow SavedModel, read by their wire format.

Protobuf's wire format is small (tags, varints, length-delimited fields), so it is decoded here
rather than with generated classes: the ONNX and TensorFlow schemas would bring their whole
packages (`onnx`, `tensorflow`) for a handful of field numbers. `fields()` decodes one message
from bytes, for the SavedModel scan; the sniffing walk reads a file field by field without
loading it.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.artefacts.formats.base import _ONNX_FIELDS, MAX_PROTOBUF_FIELDS, Sniffed, _Ctx


class ProtobufError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def decode_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at `pos`. Raises ProtobufError."""
    value = 0
    for i in range(10):
        if pos + i >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    raise ProtobufError("varint longer than ten bytes")


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of one message: an int for varints and fixed-width
    fields, a memoryview for length-delimited ones (strings, bytes, nested messages)."""
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        tag, pos = decode_varint(view, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == 0:
            value, pos = decode_varint(view, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = decode_varint(view, pos)
            if pos + length > end:
                raise ProtobufError("a field runs past the end of its message")
            yield number, wire, view[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise ProtobufError("a field runs past the end of its message")
            yield number, wire, int.from_bytes(view[pos : pos + width], "little")
            pos += width
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def _onnx(ctx: _Ctx) -> Sniffed | None:
    """Heuristic, as any protobuf detection must be: protobuf has no magic number.

    Serializers write fields in field-number order, and a checked ModelProto always sets
    ir_version (field 1, a small varint), so the file starts 0x08 <1..63>. With the .onnx
    extension that is accepted. Without it, the top-level fields are walked (tags and lengths
    only, skipping the big graph field by its length) and must all be ModelProto fields with the
    right wire types, include graph (7) and opset_import (8), and end exactly at the end of the
    file - a structural check much stronger than looking for producer names or domain strings.
    The same walk catches truncation: a field running past the end of the file.
    """
    if len(ctx.head) < 2 or ctx.head[0] != 0x08 or not 1 <= ctx.head[1] <= 0x3F:
        return None
    fields, state = _protobuf_walk(ctx)
    if ctx.ext == ".onnx":
        if state == "truncated":
            return Sniffed(
                "onnx",
                problem=("truncated ONNX file: a protobuf field runs past the end of the file"),
            )
        if state == "invalid":
            return Sniffed("onnx", problem="corrupt ONNX file: invalid protobuf encoding")
        return Sniffed("onnx")
    numbers = {number for number, _ in fields}
    if (
        state == "ok"
        and {7, 8} <= numbers
        and all(_ONNX_FIELDS.get(number) == wire for number, wire in fields)
    ):
        return Sniffed("onnx")
    return None


def _savedmodel(ctx: _Ctx) -> Sniffed:
    """Named by TensorFlow's convention; the binary one is walked like ONNX for truncation."""
    fmt = "keras-metadata" if ctx.name == "keras_metadata.pb" else "tensorflow-savedmodel"
    if ctx.name.endswith(".pbtxt"):
        return Sniffed(fmt)
    _, state = _protobuf_walk(ctx)
    problem = {
        "truncated": "truncated SavedModel file: a protobuf field runs past the end of the file",
        "invalid": "corrupt SavedModel file: invalid protobuf encoding",
    }.get(state)
    return Sniffed(fmt, problem=problem)


def _protobuf_walk(ctx: _Ctx) -> tuple[list[tuple[int, int]], str]:
    """Top-level (field number, wire type) pairs and how the walk ended.

    The state is "ok" (ended exactly at the end of the file), "truncated", "invalid" or
    "capped" (stopped after MAX_PROTOBUF_FIELDS fields; nothing is concluded).
    """
    fields: list[tuple[int, int]] = []
    pos = 0
    while pos < ctx.size:
        if len(fields) >= MAX_PROTOBUF_FIELDS:
            return fields, "capped"
        tag, pos = _varint(ctx, pos)
        if tag is None:
            return fields, "truncated" if pos > ctx.size else "invalid"
        number, wire = tag >> 3, tag & 7
        if number == 0 or wire not in (0, 1, 2, 5):
            return fields, "invalid"
        if wire in (0, 2):
            value, pos = _varint(ctx, pos)
            if value is None:
                return fields, "truncated" if pos > ctx.size else "invalid"
            if wire == 2:
                pos += value
        else:
            pos += 8 if wire == 1 else 4
        fields.append((number, wire))
        if pos > ctx.size:
            return fields, "truncated"
    return fields, "ok"


def _varint(ctx: _Ctx, pos: int) -> tuple[int | None, int]:
    """(value, next position); (None, past-the-end) when the file ends inside the varint and
    (None, pos) when ten bytes pass without a terminator (not a varint)."""
    data = ctx.at(pos, 10)
    try:
        value, after = decode_varint(data, 0)
    except ProtobufError:
        return None, (ctx.size + 1 if len(data) < 10 else pos)
    return value, pos + after
