"""TensorFlow SavedModel protobufs built field by field (no TensorFlow needed).

Field numbers as in tensorflow/core/protobuf/saved_model.proto, meta_graph.proto,
saver.proto, tensorflow/core/framework/graph.proto, node_def.proto, function.proto,
op_def.proto, attr_value.proto and keras/protobuf/saved_metadata.proto.
"""

from __future__ import annotations

import json
from collections.abc import Sequence


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def node(name: str, op: str, attrs: dict[str, str] | None = None) -> bytes:
    """NodeDef {name = 1, op = 2, attr = 5 (entries: key = 1, AttrValue {s = 2})}."""
    out = field(1, name) + field(2, op) + field(3, "input:0")
    for key, text in (attrs or {}).items():
        out += field(5, field(1, key) + field(2, field(2, text)))
    return out


def function(name: str, nodes: Sequence[bytes]) -> bytes:
    """FunctionDef {signature = 1 (OpDef {name = 1}), node_def = 3}."""
    return field(1, field(1, name)) + b"".join(field(3, n) for n in nodes)


def graph(nodes: Sequence[bytes] = (), functions: Sequence[bytes] = ()) -> bytes:
    """GraphDef {node = 1, library = 2 (FunctionDefLibrary {function = 1})}."""
    library = b"".join(field(1, f) for f in functions)
    return b"".join(field(1, n) for n in nodes) + (field(2, library) if functions else b"")


def saved_model(graph_def: bytes, saver_scope: str | None = None) -> bytes:
    """SavedModel {saved_model_schema_version = 1, meta_graphs = 2 (MetaGraphDef {
    meta_info_def = 1, graph_def = 2, saver_def = 3 (SaverDef {filename_tensor_name = 1,
    save_tensor_name = 2, restore_op_name = 3})})}."""
    meta = field(1, field(1, "serve")) + field(2, graph_def)
    if saver_scope is not None:
        saver = (
            field(1, f"{saver_scope}/Const:0")
            + field(2, f"{saver_scope}/control_dependency:0")
            + field(3, f"{saver_scope}/restore_all")
        )
        meta += field(3, saver)
    return field(1, 1) + field(2, meta)


def tf2_checkpoint_functions() -> list[bytes]:
    """The save/restore functions tf.saved_model.save writes, with their checkpoint ops."""
    return [
        function(
            "__inference__traced_save_1234",
            [
                node("StringJoin", "StringJoin"),
                node("ShardedFilename", "ShardedFilename"),
                node("SaveV2", "SaveV2"),
                node("MergeV2Checkpoints", "MergeV2Checkpoints"),
            ],
        ),
        function("__inference__traced_restore_5678", [node("RestoreV2", "RestoreV2")]),
    ]


def keras_metadata(layers: Sequence[dict[str, object]]) -> bytes:
    """SavedMetadata {nodes = 1 (SavedObject {node_id = 2, node_path = 3, identifier = 4,
    metadata = 5 (JSON)})}."""
    out = b""
    for i, layer in enumerate(layers):
        obj = (
            field(2, i)
            + field(3, f"root.layer-{i}")
            + field(4, "_tf_keras_layer")
            + field(5, json.dumps(layer))
        )
        out += field(1, obj)
    return out


DENSE = {"name": "dense", "class_name": "Dense", "config": {"name": "dense", "units": 4}}
LAMBDA = {
    "name": "exfil",
    "class_name": "Lambda",
    "config": {"name": "exfil", "function": {"class_name": "__lambda__", "config": {}}},
}
