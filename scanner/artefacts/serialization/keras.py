"""Keras models whose config carries code: Lambda layers and objects from arbitrary modules.

A Lambda layer stores its function as marshalled Python bytecode, run when the model loads
(CVE-2024-3660); a config object naming a module outside Keras/TensorFlow makes the loader
import that module (CVE-2025-1550). Both are found by reading the model config as JSON, never by
loading it with TensorFlow: `.keras` files keep it in the `config.json` zip member, `.h5` files
in the root group's `model_config` attribute.

`.h5` files are read with h5py, not a hand-written HDF5 parser: finding an attribute means
following the object header, B-tree and heap structures of the format, which h5py (the HDF5
library itself) does correctly for every file version. Only that one attribute is read, no
dataset. h5py is imported lazily so a scan without `.h5` files never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

MAX_CONFIG_BYTES = 64 * 1024 * 1024
_TRUSTED_MODULES = ("keras", "tensorflow", "tf_keras", "tf")
_CODE_CLASSES = {"Lambda", "TFOpLambda"}


def config_findings(config_text: bytes | str) -> tuple[list[tuple[str, str]], list[str]]:
    """(global, reason) findings and the names of Lambda layers in a Keras model config.

    Raises ValueError when the config is not JSON.
    """
    if len(config_text) > MAX_CONFIG_BYTES:
        raise ValueError(f"model config over {MAX_CONFIG_BYTES} bytes: not inspected")
    config = json.loads(config_text)
    findings: list[tuple[str, str]] = []
    lambdas: list[str] = []
    for node in _objects(config):
        cls = node.get("class_name")
        raw_inner = node.get("config")
        inner: dict[str, Any] = raw_inner if isinstance(raw_inner, dict) else {}
        raw_name = inner.get("name")
        name = raw_name if isinstance(raw_name, str) else "?"
        if cls == "Lambda":
            lambdas.append(name)
            findings.append(
                (
                    "keras.layers.Lambda",
                    f"Lambda layer '{name}' holds Python code that runs when the model loads",
                )
            )
        elif cls == "__lambda__":
            findings.append(
                ("keras.__lambda__", "a serialized Python lambda runs when the model loads")
            )
        module = node.get("module")
        if (
            isinstance(module, str)
            and module
            and cls not in _CODE_CLASSES
            and module.split(".")[0] not in _TRUSTED_MODULES
        ):
            findings.append(
                (
                    f"{module}.{cls}",
                    f"config object '{cls}' comes from module '{module}': loading imports it "
                    "(arbitrary code)",
                )
            )
    return findings, lambdas


def _objects(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every mapping with a `class_name`, depth-first; deep nesting is cut at 200 levels."""
    if depth > 200:
        return
    if isinstance(value, dict):
        if "class_name" in value:
            yield value
        for child in value.values():
            yield from _objects(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _objects(child, depth + 1)


def h5_model_config(path: str) -> bytes | None:
    """The `model_config` attribute of a Keras HDF5 file; None when there is none (weights)."""
    import h5py  # lazy: a heavy extension module, only for HDF5 files

    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs:
            return None
        raw = f.attrs["model_config"]
    if isinstance(raw, str):
        return raw.encode("utf-8")
    if isinstance(raw, bytes):
        return raw
    raise ValueError(f"model_config attribute is a {type(raw).__name__}, not a string")
