"""A corpus of malicious and benign model files, generated here (never downloaded).

Each sample is one file named for its technique. Malicious payloads are built by pickling
objects whose `__reduce__` names a dangerous callable, or by writing opcodes by hand for the
techniques pickle itself never emits (INST/OBJ, names fetched from the memo or computed at load
time). Nothing here is ever unpickled. Benign samples come from the real libraries where they
are installed (scikit-learn, joblib, NumPy, h5py: the `test` extra) and, for PyTorch (not a
dependency), from pickling against stand-in `torch` modules, which yields the same opcodes
`torch.save` writes: the rebuild globals and persistent ids of a state dict.

Used by the corpus test and by `benchmarks/bench_serialization.py`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.corpus_types import Reduce, Sample, write

_Reduce = Reduce
_write = write


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- hand-written opcodes ---------------------------------------------------------------------


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


GLOBAL_OS_SYSTEM = b"cos\nsystem\n(S'echo pwned'\ntR."
BUILTINS_EVAL = b"c__builtin__\neval\n(S'print(42)'\ntR."
INST_OPCODE = b"(S'echo pwned'\nios\nsystem\n."
OBJ_OPCODE = b"\x80\x01(cos\nsystem\nS'echo pwned'\no."
BUILTINS_GETATTR = (
    b"c__builtin__\ngetattr\n(c__builtin__\n__import__\n(S'os'\ntRS'system'\ntR(S'id'\ntR."
)
# protocol 4: module and name memoized, popped, fetched back from the memo, then imported
STACK_GLOBAL_MEMO = (
    b"\x80\x04"
    + _u("posix")
    + b"\x94"
    + _u("system")
    + b"\x94"
    + b"00"  # POP POP
    + b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
    + _u("echo pwned")
    + b"\x85R."
)
# protocol 4: the module name is computed at load time (str.lower("OS")): no static name
STACK_GLOBAL_DYNAMIC = (
    b"\x80\x04"
    + _u("builtins")
    + _u("str")
    + b"\x93"
    + _u("OS")
    + b"\x85R"
    + _u("system")
    + b"\x93"
    + _u("echo pwned")
    + b"\x85R."
)
EXT_OPCODE = b"\x80\x02\x82\x01)R."  # EXT1 1: whatever copyreg's registry holds


# --- stand-in torch modules -------------------------------------------------------------------


@contextlib.contextmanager
def _fake_torch() -> Iterator[types.SimpleNamespace]:
    """Modules named like torch's, so pickle writes torch's global names for these functions."""
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: object) -> None: ...

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield types.SimpleNamespace(rebuild=_rebuild_tensor_v2, FloatStorage=FloatStorage)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Storage:
    def __init__(self, key: str, numel: int) -> None:
        self.key, self.numel = key, numel


def _torch_pickle(extra: dict[str, object] | None = None) -> bytes:
    """data.pkl as torch.save writes it: an OrderedDict of _rebuild_tensor_v2 calls whose
    storages are persistent ids ('storage', FloatStorage, key, 'cpu', numel)."""
    with _fake_torch() as t:
        state: OrderedDict[str, object] = OrderedDict()
        for i, name in enumerate(("fc.weight", "fc.bias")):
            storage = _Storage(str(i), 4)
            state[name] = _Reduce(t.rebuild, storage, 0, (4,), (1,), False, OrderedDict())
        state.update(extra or {})
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=2)

        def persistent_id(obj: object) -> object:
            if isinstance(obj, _Storage):
                return ("storage", t.FloatStorage, obj.key, "cpu", obj.numel)
            return None

        pickler.persistent_id = persistent_id  # type: ignore[method-assign]
        pickler.dump(state)
        return buf.getvalue()


def _torch_zip(data_pkl: bytes) -> bytes:
    return _zip(
        {
            "model/data.pkl": data_pkl,
            "model/byteorder": b"little",
            "model/data/0": b"\x00" * 16,
            "model/data/1": b"\x00" * 16,
            "model/version": b"3\n",
        }
    )


# --- Keras ------------------------------------------------------------------------------------


def _keras_config(layers: list[dict[str, object]]) -> dict[str, object]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": layers},
        "registered_name": None,
    }


_DENSE = {
    "module": "keras.layers",
    "class_name": "Dense",
    "config": {"name": "dense", "units": 4, "activation": "relu"},
    "registered_name": None,
}
_LAMBDA = {
    "module": "keras.layers",
    "class_name": "Lambda",
    "config": {
        "name": "exfil",
        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}},
    },
    "registered_name": None,
}


def _keras_zip(layers: list[dict[str, object]]) -> bytes:
    return _zip(
        {
            "metadata.json": json.dumps({"keras_version": "3.6.0"}).encode(),
            "config.json": json.dumps(_keras_config(layers)).encode(),
            "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
        }
    )


def _h5(layers: list[dict[str, object]]) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import h5py

        with h5py.File(path, "w") as f:
            f.attrs["model_config"] = json.dumps(_keras_config(layers))
            f.attrs["keras_version"] = "2.15.0"
            f.create_dataset("model_weights/dense/kernel", data=[[0.0] * 4] * 4)

    return build


# --- builders that need the real libraries ----------------------------------------------------


def _sklearn_model() -> object:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    x = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.2]]
    y = [0, 1, 0, 1]
    return {
        "lr": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "tree": DecisionTreeClassifier(random_state=0).fit(x, y),
    }


def _sklearn_pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps(_sklearn_model(), protocol=pickle.DEFAULT_PROTOCOL))


def _sklearn_joblib(compress: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import joblib

        joblib.dump(_sklearn_model(), path, compress=compress)

    return build


def _joblib_evil(path: Path) -> None:
    import joblib
    import numpy as np

    joblib.dump({"w": np.zeros(3), "hook": _Reduce(exec, "print(1)")}, path)


def _joblib_object_array(path: Path) -> None:
    import joblib
    import numpy as np

    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = 1, _Reduce(os.system, "echo pwned")
    joblib.dump({"weights": np.ones((2, 3)), "meta": arr}, path)


def _npy_object(path: Path) -> None:
    import numpy as np

    arr = np.empty(1, dtype=object)
    arr[0] = _Reduce(subprocess.Popen, ["id"])
    np.save(path, arr, allow_pickle=True)


def _npy_float(path: Path) -> None:
    import numpy as np

    np.save(path, np.arange(12, dtype="float32").reshape(3, 4))


def _npz(path: Path) -> None:
    import numpy as np

    with path.open("wb") as f:
        np.savez(f, a=np.zeros(4), b=np.arange(3))


def _safetensors(path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 16)


def _onnx(path: Path) -> None:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(number: int, value: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(value)) + value

    tensor = b"\x08\x04\x10\x01" + field(8, b"w") + field(9, b"\x01" * 16)
    graph = field(2, b"main") + field(5, tensor)
    opset = field(1, b"") + b"\x10\x11"
    path.write_bytes(b"\x08\x09" + field(2, b"pytorch") + field(7, graph) + field(8, opset))


def _import_module(name: str) -> object:
    import importlib

    return importlib.import_module(name)


def _run_path(path: str) -> object:
    import runpy

    return runpy.run_path(path)


OWN_SAMPLES: tuple[Sample, ...] = (
    Sample("os_system_global.pkl", True, "os.system via GLOBAL (protocol 0)",
           _write(GLOBAL_OS_SYSTEM)),
    Sample("stack_global.pkl", True, "posix.system via STACK_GLOBAL (protocol 4)",
           _write(pickle.dumps(_Reduce(os.system, "echo pwned"), protocol=4))),
    Sample("stack_global_memo.pkl", True, "STACK_GLOBAL with names from the memo",
           _write(STACK_GLOBAL_MEMO)),
    Sample("stack_global_dynamic.pkl", True, "STACK_GLOBAL with a name computed at load",
           _write(STACK_GLOBAL_DYNAMIC)),
    Sample("builtins_eval.pkl", True, "builtins.eval via GLOBAL (old protocol)",
           _write(BUILTINS_EVAL)),
    Sample("builtins_getattr.pkl", True, "getattr(__import__('os'), 'system')",
           _write(BUILTINS_GETATTR)),
    Sample("inst_opcode.pkl", True, "os.system via INST", _write(INST_OPCODE)),
    Sample("obj_opcode.pkl", True, "os.system via OBJ", _write(OBJ_OPCODE)),
    Sample("ext_opcode.pkl", True, "EXT1 copyreg extension", _write(EXT_OPCODE)),
    Sample("importlib.pkl", True, "importlib.import_module",
           _write(pickle.dumps(_Reduce(_import_module, "os"), protocol=2).replace(
               b"tests.corpus\n_import_module", b"importlib\nimport_module"))),
    Sample("runpy.pkl", True, "runpy.run_path",
           _write(pickle.dumps(_Reduce(_run_path, "/tmp/x.py"), protocol=2).replace(
               b"tests.corpus\n_run_path", b"runpy\nrun_path"))),
    Sample("subprocess.pkl", True, "subprocess.Popen (protocol 5)",
           _write(pickle.dumps(_Reduce(subprocess.Popen, ["id"]), protocol=5))),
    Sample("nested_pickle.zip", True, "pickle nested in a zip member",
           _write(_zip({"README.md": b"hi", "inner/payload.pkl": GLOBAL_OS_SYSTEM}))),
    Sample("torch_malicious.pt", True, "PyTorch zip whose data.pkl calls os.system",
           lambda p: p.write_bytes(_torch_zip(_torch_pickle(
               {"hook": _Reduce(os.system, "echo pwned")})))),
    Sample("malicious.joblib", True, "joblib dump with builtins.exec", _joblib_evil),
    Sample("object_array.joblib", True, "joblib object array with a nested pickle",
           _joblib_object_array),
    Sample("object_array.npy", True, "NumPy object array (allow_pickle payload)", _npy_object),
    Sample("lambda.keras", True, "Keras 3 Lambda layer in config.json",
           _write(_keras_zip([_DENSE, _LAMBDA]))),
    Sample("lambda.h5", True, "Keras HDF5 Lambda layer in model_config", _h5([_DENSE, _LAMBDA])),
    Sample("sklearn.pkl", False, "scikit-learn pipeline + tree, pickled", _sklearn_pickle),
    Sample("sklearn.joblib", False, "scikit-learn via joblib.dump", _sklearn_joblib(0)),
    Sample("sklearn_z.joblib", False, "scikit-learn via joblib.dump(compress=3)",
           _sklearn_joblib(3)),
    Sample("state_dict.pt", False, "PyTorch-style state-dict zip",
           lambda p: p.write_bytes(_torch_zip(_torch_pickle()))),
    Sample("ordered_dict.pkl", False, "OrderedDict of floats",
           _write(pickle.dumps(OrderedDict(w=[0.5, 1.5], b=(1, 2)), protocol=4))),
    Sample("model.safetensors", False, "safetensors", _safetensors),
    Sample("model.onnx", False, "ONNX", _onnx),
    Sample("weights.npy", False, "NumPy float array", _npy_float),
    Sample("weights.npz", False, "NumPy archive", _npz),
    Sample("dense.keras", False, "Keras 3 model without Lambda", _write(_keras_zip([_DENSE]))),
    Sample("dense.h5", False, "Keras HDF5 model without Lambda", _h5([_DENSE])),
)  # fmt: skip


def _techniques() -> tuple[Sample, ...]:
    """The walk-arounds the scan closes, one sample each (tests/pickle_craft.py builds them)."""
    from tests import pickle_craft as craft

    system = craft.call("posix", "system", ("id",))
    evil2 = craft.call("builtins", "eval", ("1",), protocol=2)
    legacy = [pickle.dumps(craft.TORCH_MAGIC, 2), *(pickle.dumps(i, 2) for i in range(3))]
    return (
        Sample("second_pickle.pkl", True, "benign pickle, then one that calls posix.system",
               _write(pickle.dumps({"w": [1.0]}) + system)),
        Sample("third_pickle.bin", True, "three pickles in a row, the last one a payload",
               _write(pickle.dumps(1, 0) + pickle.dumps(2, 2) + system)),
        Sample("frame_overhang.pkl", True, "FRAME longer than its opcodes hides the next pickle",
               _write(craft.frame_overhang(system))),
        Sample("frame_short.pkl", True, "FRAME that ends inside an opcode",
               _write(craft.frame_too_short())),
        Sample("legacy_fifth.pt", True, "legacy torch file, posix.system in the fifth pickle",
               _write(craft.torch_legacy([*legacy, craft.call("posix", "system", ("id",), 2)]))),
        Sample("legacy_fourth_fifth.pt", True, "legacy torch file, eval and system",
               _write(craft.torch_legacy([*legacy[:3], evil2,
                                          craft.call("posix", "system", ("id",), 2)]))),
        Sample("codecs_rot13.pkl", True, "_codecs.encode with a codec other than latin1",
               _write(craft.call("_codecs", "encode", ("print(1)", "rot_13"), 2))),
        Sample("getattr_chain_p2.pkl", True, "getattr(__import__('os'), 'system') at protocol 2",
               _write(craft.reduce_chain(2))),
        Sample("nested.7z", True, "zip inside a 7z archive",
               _write(craft.sevenzip({"inner.zip": craft.zip_of({"a.pkl": system})}))),
        Sample("deflated_no_directory", True, "deflated zip without central directory or name",
               _write(craft.zip_without_directory(
                   craft.zip_of({"w": system}, zipfile.ZIP_DEFLATED)))),
    )  # fmt: skip


def _public() -> tuple[Sample, ...]:
    from tests import corpus_public

    return (*corpus_public.malicious(), *corpus_public.benign())


SAMPLES: tuple[Sample, ...] = (*OWN_SAMPLES, *_techniques(), *_public())


def build_corpus(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    assert len({s.name for s in SAMPLES}) == len(SAMPLES), "corpus sample names must be unique"
    for sample in SAMPLES:
        path = root / sample.name
        path.parent.mkdir(parents=True, exist_ok=True)
        sample.build(path)
        out[sample.name] = path
    return out
