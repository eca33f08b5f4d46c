"""TensorFlow SavedModels: graph operations that reach files, the network or Python, and Keras
Lambda layers recorded in `keras_metadata.pb`, read from the protobufs without TensorFlow.

Loading a SavedModel runs its graph functions. Most operations compute on tensors, but some
read or write files (`ReadFile`, `WriteFile`, `MatchingFiles`, readers and dataset sources),
run Python (`PyFunc`, `EagerPyFunc`) or reach the network; a model whose graph holds them can
exfiltrate or plant files when it is served. Checkpointing legitimately uses `SaveV2`,
`RestoreV2`, `ShardedFilename` and kin, so those are accepted only where TensorFlow puts them:
in the saver's name scope of a TF1 graph (`saver_def`) and in the `__inference__traced_save`
/ `__inference__traced_restore` (and per-object `save_fn`/`restore_fn`) functions of a TF2
SavedModel. Anywhere else they are flagged like the others.

Field numbers (tensorflow/core/protobuf/saved_model.proto, meta_graph.proto, graph.proto,
node_def.proto, function.proto, op_def.proto; keras/protobuf/saved_metadata.proto):
SavedModel.meta_graphs = 2; MetaGraphDef.graph_def = 2, .saver_def = 3;
SaverDef.save_tensor_name = 2, .restore_op_name = 3; GraphDef.node = 1, .library = 2;
NodeDef.name = 1, .op = 2, .attr = 5 (map entries: key = 1, value = 2; AttrValue.s = 2);
FunctionDefLibrary.function = 1; FunctionDef.signature = 1,
.node_def = 3; OpDef.name = 1; SavedMetadata.nodes = 1; SavedObject.metadata = 5 (JSON).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.artefacts.formats.protobuf import fields

MAX_PROTOBUF_BYTES = 1024 * 1024 * 1024  # saved_model.pb embeds constants; over this: unscanned

_FILES = "reads or writes files on the serving host"
_PYTHON = "runs a Python function when the graph runs"
_NETWORK = "reaches the network"
_FILE_OPS = (
    "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "WholeFileReader",
    "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2", "LMDBReader",
    "IdentityReader", "IdentityReaderV2", "ReaderReadV2", "ReaderRead", "TextLineDataset",
    "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
    "LMDBDataset", "ExperimentalLMDBDataset", "LoadDataset", "SaveDataset", "SaveDatasetV2",
    "SnapshotDataset", "SnapshotDatasetV2", "DatasetToTFRecord",
    "ExperimentalDatasetToTFRecord", "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2", "LoadAndRemapMatrix", "CreateSummaryFileWriter",
    "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "DebugIdentity",
    "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
    "DebugNumericSummaryV2", "DecodeProtoV2", "EncodeProto",
)  # fmt: skip
# checkpoint I/O: accepted only inside the saver's own scope or functions (see above)
_CHECKPOINT_IO_OPS = (
    "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "ShardedFilename",
    "ShardedFilespec", "MergeV2Checkpoints",
)  # fmt: skip
_NETWORK_OPS = (
    "SqlDataset", "ExperimentalSqlDataset", "RpcCall", "RpcClient", "RpcServer",
    "RpcServerStart", "RpcServerRegister", "RpcCheckStatus", "RpcGetValue", "DataServiceDataset",
    "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4", "BigQueryReader",
    "GenerateBigQueryReaderPartitions",
)  # fmt: skip
DANGEROUS_OPS: dict[str, str] = {
    **dict.fromkeys(_FILE_OPS, _FILES),
    **dict.fromkeys(_CHECKPOINT_IO_OPS, "reads or writes checkpoint files, outside checkpointing"),
    **dict.fromkeys(("PyFunc", "PyFuncStateless", "EagerPyFunc"), _PYTHON),
    **dict.fromkeys(_NETWORK_OPS, _NETWORK),
    "PrintV2": "writes to a file (its output_stream names one)",
}
_CHECKPOINT_OPS = frozenset(_CHECKPOINT_IO_OPS)
# TF2 writes its checkpoint functions under these names (save/restore of the object graph,
# and per-object save_fn/restore_fn for resources such as lookup tables).
_CHECKPOINT_FUNCTION = re.compile(
    r"__inference_(?:_traced_save|_traced_restore|save_fn|restore_fn)_\d+"
)


@dataclass(frozen=True)
class OpFinding:
    op: str
    where: str  # "node save/SaveV2" or "function __inference_call_123"
    risk: str


def saved_model_ops(data: bytes | memoryview) -> list[OpFinding]:
    """Dangerous operations in a binary `saved_model.pb`. Raises ValueError when malformed."""
    found: list[OpFinding] = []
    for number, _, meta in fields(data):
        if number != 2 or isinstance(meta, int):
            continue
        graph, saver_scope = None, "save"
        for n, _, value in fields(meta):
            if n == 2 and not isinstance(value, int):
                graph = value
            elif n == 3 and not isinstance(value, int):
                saver_scope = _saver_scope(value) or saver_scope
        if graph is not None:
            found.extend(_graph_ops(graph, saver_scope))
    return found


def saved_model_text_ops(text: str) -> list[OpFinding]:
    """Dangerous operations in a text `saved_model.pbtxt` (every `op: "..."` entry)."""
    return [
        OpFinding(op, "text graph", DANGEROUS_OPS[op])
        for op in dict.fromkeys(re.findall(r'\bop:\s*"([A-Za-z0-9_>]+)"', text))
        if op in DANGEROUS_OPS
    ]


def keras_metadata_configs(data: bytes | memoryview) -> Iterator[str]:
    """The JSON metadata of every Keras object in `keras_metadata.pb`."""
    for number, _, node in fields(data):
        if number != 1 or isinstance(node, int):
            continue
        for n, _, value in fields(node):
            if n == 5 and not isinstance(value, int):
                yield bytes(value).decode("utf-8", "replace")


def _saver_scope(saver: memoryview) -> str | None:
    """The name scope of the TF1 saver (`save` in `save/Const:0`)."""
    for n, _, value in fields(saver):
        if n in (2, 3) and not isinstance(value, int):
            name = bytes(value).decode("utf-8", "replace")
            if "/" in name:
                return name.split("/", 1)[0]
    return None


def _graph_ops(graph: memoryview, saver_scope: str) -> Iterator[OpFinding]:
    for number, _, value in fields(graph):
        if isinstance(value, int):
            continue
        if number == 1:  # a TF1 graph node
            name, op = _node(value)
            in_saver = name.startswith(saver_scope + "/")
            if op in DANGEROUS_OPS and not (op in _CHECKPOINT_OPS and in_saver):
                yield OpFinding(op, f"node {name}", DANGEROUS_OPS[op])
        elif number == 2:  # the function library
            for n, _, function in fields(value):
                if n == 1 and not isinstance(function, int):
                    yield from _function_ops(function)


def _function_ops(function: memoryview) -> Iterator[OpFinding]:
    name, nodes = "", []
    for n, _, value in fields(function):
        if isinstance(value, int):
            continue
        if n == 1:
            name = next(
                (
                    bytes(v).decode("utf-8", "replace")
                    for k, _, v in fields(value)
                    if k == 1 and not isinstance(v, int)
                ),
                "",
            )
        elif n == 3:
            nodes.append(value)
    checkpoint_function = _CHECKPOINT_FUNCTION.fullmatch(name) is not None
    for node in nodes:
        _, op = _node(node)
        if op in DANGEROUS_OPS and not (op in _CHECKPOINT_OPS and checkpoint_function):
            yield OpFinding(op, f"function {name or '?'}", DANGEROUS_OPS[op])


def _node(node: memoryview) -> tuple[str, str]:
    """(name, op) of a NodeDef; a PrintV2 that prints to the console counts as no op."""
    name = op = ""
    to_file = False
    for n, _, value in fields(node):
        if isinstance(value, int):
            continue
        if n in (1, 2):
            text = bytes(value).decode("utf-8", "replace")
            if n == 1:
                name = text
            else:
                op = text
        elif n == 5:
            key, attr = _attr(value)
            to_file = to_file or (key == "output_stream" and attr.startswith("file://"))
    if op == "PrintV2" and not to_file:
        op = ""
    return name, op


def _attr(entry: memoryview) -> tuple[str, str]:
    """(key, string value) of one NodeDef.attr map entry ("" when it is not a string)."""
    key = text = ""
    for n, _, value in fields(entry):
        if isinstance(value, int):
            continue
        if n == 1:
            key = bytes(value).decode("utf-8", "replace")
        elif n == 2:
            for k, _, v in fields(value):
                if k == 2 and not isinstance(v, int):
                    text = bytes(v).decode("utf-8", "replace")
    return key, text
