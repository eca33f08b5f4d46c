"""TensorFlow SavedModels: operations that reach files, Python or the network, and Keras Lambda
layers in keras_metadata.pb, found from the protobufs alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.artefacts.formats import sniff
from scanner.artefacts.serialization import FileScan, scan_file
from scanner.sources.interface import SourceSpec
from scanner.sources.local import LocalPathSource
from tests import savedmodel_craft as tf


def scan(tmp_path: Path, name: str, data: bytes) -> FileScan:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return scan_file(path, name, sniff(path).format)


def ops(result: FileScan) -> set[str]:
    return {i.global_name for i in result.issues if i.global_name}


CALL = "__inference_call_42"


def test_tf2_model_with_only_its_checkpoint_functions_passes(tmp_path: Path) -> None:
    functions = [*tf.tf2_checkpoint_functions(), tf.function(CALL, [tf.node("m", "MatMul")])]
    data = tf.saved_model(tf.graph(functions=functions))
    assert scan(tmp_path, "saved_model.pb", data).issues == []


def test_tf1_graph_with_its_saver_scope_passes(tmp_path: Path) -> None:
    nodes = [
        tf.node("dense/MatMul", "MatMul"),
        tf.node("save/SaveV2", "SaveV2"),
        tf.node("save/RestoreV2", "RestoreV2"),
        tf.node("save/ShardedFilename", "ShardedFilename"),
    ]
    data = tf.saved_model(tf.graph(nodes), saver_scope="save")
    assert scan(tmp_path, "saved_model.pb", data).issues == []


@pytest.mark.parametrize(
    "op", ["ReadFile", "WriteFile", "MatchingFiles", "PyFunc", "EagerPyFunc", "WholeFileReaderV2"]
)
def test_file_and_python_ops_in_a_function_are_flagged(tmp_path: Path, op: str) -> None:
    functions = [*tf.tf2_checkpoint_functions(), tf.function(CALL, [tf.node("x", op)])]
    result = scan(tmp_path, "saved_model.pb", tf.saved_model(tf.graph(functions=functions)))
    (issue,) = result.issues
    assert issue.global_name == f"tensorflow.raw_ops.{op}"
    assert issue.reason.startswith(f"the function {CALL} runs {op}, which ")
    assert issue.message.startswith(f"saved_model.pb runs the TensorFlow operation {op} (")


def test_checkpoint_ops_outside_checkpointing_are_flagged(tmp_path: Path) -> None:
    functions = [tf.function(CALL, [tf.node("s", "ShardedFilename"), tf.node("w", "SaveV2")])]
    nodes = [tf.node("exfil/Restore", "Restore")]
    data = tf.saved_model(tf.graph(nodes, functions), saver_scope="save")
    assert ops(scan(tmp_path, "saved_model.pb", data)) == {
        "tensorflow.raw_ops.ShardedFilename",
        "tensorflow.raw_ops.SaveV2",
        "tensorflow.raw_ops.Restore",
    }


def test_print_to_a_file_is_flagged_and_to_the_console_is_not(tmp_path: Path) -> None:
    nodes = [
        tf.node("p1", "PrintV2", {"output_stream": "stderr"}),
        tf.node("p2", "PrintV2", {"output_stream": "file:///etc/cron.d/x"}),
    ]
    result = scan(tmp_path, "saved_model.pb", tf.saved_model(tf.graph(nodes)))
    assert [i.reason for i in result.issues] == [
        "the node p2 runs PrintV2, which writes to a file (its output_stream names one)"
    ]


def test_text_saved_model_is_scanned(tmp_path: Path) -> None:
    text = 'node { name: "r" op: "ReadFile" }\nnode { name: "m" op: "MatMul" }\n'
    assert ops(scan(tmp_path, "saved_model.pbtxt", text.encode())) == {
        "tensorflow.raw_ops.ReadFile"
    }


def test_keras_lambda_layer_in_keras_metadata_is_flagged(tmp_path: Path) -> None:
    result = scan(tmp_path, "keras_metadata.pb", tf.keras_metadata([tf.DENSE, tf.LAMBDA]))
    assert ops(result) == {"keras.layers.Lambda", "keras.__lambda__"}
    assert result.lambda_layers == ["keras_metadata.pb:exfil"]
    assert scan(tmp_path, "k2/keras_metadata.pb", tf.keras_metadata([tf.DENSE])).issues == []


def test_malformed_saved_model_fails_closed(tmp_path: Path) -> None:
    data = tf.saved_model(tf.graph([tf.node("r", "ReadFile")]))[:-3]
    path = tmp_path / "saved_model.pb"
    path.write_bytes(data)
    (issue,) = scan_file(path, "saved_model.pb", "tensorflow-savedmodel").issues
    assert issue.global_name is None and "malformed protobuf" in issue.reason


def test_a_saved_model_directory_reports_ops_and_lambda_layers(tmp_path: Path) -> None:
    model = tmp_path / "exported"
    (model / "variables").mkdir(parents=True)
    (model / "variables" / "variables.index").write_bytes(b"\x00" * 8)
    functions = [tf.function(CALL, [tf.node("r", "ReadFile")])]
    (model / "saved_model.pb").write_bytes(tf.saved_model(tf.graph(functions=functions)))
    (model / "keras_metadata.pb").write_bytes(tf.keras_metadata([tf.LAMBDA]))
    spec = SourceSpec(kind="path", target=str(tmp_path), name="disk", options={})
    (artefact,) = LocalPathSource(spec).collect(lambda _: None).resources
    ser = artefact.attributes["serialization"]
    assert {(u["file"], u["global"]) for u in ser["unsafe"]} == {
        ("saved_model.pb", "tensorflow.raw_ops.ReadFile"),
        ("keras_metadata.pb", "keras.layers.Lambda"),
        ("keras_metadata.pb", "keras.__lambda__"),
    }
    assert ser["lambda_layers"] == ["keras_metadata.pb:exfil"]
