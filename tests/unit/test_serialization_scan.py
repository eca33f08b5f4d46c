"""Serialization scan: malicious techniques flagged, benign models clean, never a crash."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.artefacts.formats import sniff
from scanner.artefacts.serialization import FileScan, scan_file
from scanner.artefacts.serialization.allowlist import is_safe
from scanner.artefacts.serialization.pickle_walk import walk_bytes
from tests.corpus import GLOBAL_OS_SYSTEM, SAMPLES, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def scan(path: Path) -> FileScan:
    return scan_file(path, path.name, sniff(path).format)


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.malicious], ids=lambda s: s.name)
def test_every_malicious_technique_is_flagged(sample, corpus) -> None:
    issues = scan(corpus[sample.name]).issues
    assert issues, f"{sample.technique} not flagged"
    # flagged for what it imports, not because the scan broke
    assert any("could not be scanned" not in i.reason for i in issues), issues


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.malicious], ids=lambda s: s.name)
def test_no_benign_model_is_flagged(sample, corpus) -> None:
    issues = scan(corpus[sample.name]).issues
    if sample.fail_closed:  # unreadable, so not passed: an entry that names no global
        assert issues and all(i.global_name is None for i in issues), issues
    else:
        assert issues == []


def test_corpus_covers_the_public_recipes_and_benign_shapes() -> None:
    malicious = [s for s in SAMPLES if s.malicious]
    benign = [s for s in SAMPLES if not s.malicious]
    assert len(malicious) >= 150 and len(benign) >= 50
    assert len({s.name for s in SAMPLES}) == len(SAMPLES)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("os_system_global.pkl", "os.system"),
        ("stack_global.pkl", "posix.system"),
        ("stack_global_memo.pkl", "posix.system"),
        ("builtins_eval.pkl", "builtins.eval"),
        ("builtins_getattr.pkl", "builtins.getattr"),
        ("inst_opcode.pkl", "os.system"),
        ("obj_opcode.pkl", "os.system"),
        ("importlib.pkl", "importlib.import_module"),
        ("runpy.pkl", "runpy.run_path"),
        ("subprocess.pkl", "subprocess.Popen"),
        ("torch_malicious.pt", "posix.system"),
        ("malicious.joblib", "builtins.exec"),
        ("object_array.joblib", "posix.system"),
        ("object_array.npy", "subprocess.Popen"),
        ("lambda.keras", "keras.layers.Lambda"),
        ("lambda.h5", "keras.layers.Lambda"),
    ],
)
def test_findings_name_the_global(sample, expected, corpus) -> None:
    assert expected in {i.global_name for i in scan(corpus[sample]).issues}


def test_names_not_known_statically_fail_closed(corpus) -> None:
    for name in ("stack_global_dynamic.pkl", "ext_opcode.pkl"):
        (issue,) = scan(corpus[name]).issues
        assert issue.global_name is None and "fail closed" in issue.reason


def test_nested_members_are_named_with_their_archive(corpus) -> None:
    (issue,) = scan(corpus["nested_pickle.zip"]).issues
    assert issue.file == "nested_pickle.zip:inner/payload.pkl"
    assert issue.global_name == "os.system"
    torch = {i.file for i in scan(corpus["torch_malicious.pt"]).issues}
    assert torch == {"torch_malicious.pt:model/data.pkl"}


def test_lambda_layers_are_listed(corpus) -> None:
    assert scan(corpus["lambda.keras"]).lambda_layers == ["lambda.keras:exfil"]
    assert scan(corpus["lambda.h5"]).lambda_layers == ["lambda.h5:exfil"]
    assert scan(corpus["dense.keras"]).lambda_layers == []


def test_keras_config_importing_a_foreign_module_is_flagged(tmp_path: Path) -> None:
    config = b'{"module": "os", "class_name": "system", "config": {"name": "x"}}'
    members = {"config.json": config, "metadata.json": b"{}", "model.weights.h5": b"x"}
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert [i.global_name for i in scan(path).issues] == ["os.system"]


def test_zips_nested_in_zips_are_opened(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("evil.pkl", GLOBAL_OS_SYSTEM)
    path = tmp_path / "outer.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("inner.zip", inner.getvalue())
    (issue,) = scan(path).issues
    assert issue.file == "outer.zip:inner.zip:evil.pkl" and issue.global_name == "os.system"


# --- malformed and hostile input: an error entry, never a crash or a pass ---------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01", "before seeing STOP"),  # truncated
        (b"\x80\x02h\x07.", "memo key 7 read before it is set"),
        (b"\x80\x02R.", "stack underflow"),
        (b"\x80\x02\xff\xff.", "malformed pickle"),
        # BINBYTES8 declaring 2**62 bytes: refused without allocating them
        (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.", "malformed pickle"),
    ],
)
def test_malformed_pickles_are_an_error_entry(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(data)
    (issue,) = scan_file(path, "bad.pkl", "pickle").issues
    assert issue.global_name is None
    assert "could not be scanned" in issue.reason and reason in issue.reason


def test_payload_before_garbage_is_still_flagged(tmp_path: Path) -> None:
    """The unpickler runs opcodes as it reads them: a broken tail does not disarm the head."""
    path = tmp_path / "m.pkl"
    path.write_bytes(GLOBAL_OS_SYSTEM[:-1] + b"\xff\xff")
    globals_ = [i.global_name for i in scan_file(path, "m.pkl", "pickle").issues]
    assert globals_ == ["os.system", None]


def test_large_byte_arguments_are_skipped_not_read(tmp_path: Path) -> None:
    blob = pickle.dumps({"w": b"\x00" * (20 * 1024 * 1024), "k": 1}, protocol=4)
    path = tmp_path / "big.pkl"
    path.write_bytes(blob)
    assert scan(path).issues == []


def test_unreadable_zip_is_an_error_entry(tmp_path: Path) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"PK\x03\x04" + os.urandom(200))
    (issue,) = scan_file(path, "broken.pt", "pytorch").issues
    assert issue.global_name is None and "unreadable zip" in issue.reason


def test_h5_that_h5py_cannot_open_is_an_error_entry(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    (issue,) = scan_file(path, "m.h5", "hdf5").issues
    assert issue.global_name is None and "HDF5 model config" in issue.reason


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = walk_bytes(b"\x80\x04" + data)
    assert result.error is not None or result.flags is not None


# --- the allowlist ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name", "safe"),
    [
        ("collections", "OrderedDict", True),
        ("torch._utils", "_rebuild_tensor_v2", True),
        ("numpy.core.multiarray", "_reconstruct", True),
        ("__builtin__", "set", True),  # the py2 name is normalised first
        ("sklearn.linear_model._logistic", "LogisticRegression", True),
        ("__builtin__", "eval", False),
        ("builtins", "getattr", False),
        ("torch.storage", "_load_from_bytes", False),  # a nested torch.load
        ("sklearn.utils._testing", "TempMemmap", False),
        ("sklearn.utils", "check_array", False),  # a function, not an estimator class
        ("numpy.testing._private.utils", "runstring", False),
        ("os", "system", False),
    ],
)
def test_allowlist(module: str, name: str, safe: bool) -> None:
    assert is_safe(module, name) is safe


def test_state_dict_pickle_uses_only_allowlisted_globals() -> None:
    data = pickle.dumps(OrderedDict(a=1), protocol=2)
    assert walk_bytes(data).globals_seen == {"collections.OrderedDict"}


def test_path_source_flags_every_malicious_sample_and_no_benign_one(tmp_path: Path) -> None:
    """`modelward scan` sees what `verify` sees: each sample alone in a directory must form an
    artefact when malicious (found by content, whatever its name), and name nothing when not."""
    from scanner.sources.interface import SourceSpec
    from scanner.sources.local import LocalPathSource

    for i, sample in enumerate(SAMPLES):
        path = tmp_path / f"s{i:03d}" / sample.name
        path.parent.mkdir(parents=True)
        sample.build(path)
    spec = SourceSpec(kind="path", target=str(tmp_path), name="disk", options={})
    artefacts = LocalPathSource(spec).collect(lambda _: None).resources
    unsafe = {}
    for artefact in artefacts:
        owner = artefact.attributes["location"]["path"].removeprefix(str(tmp_path) + "/")
        unsafe[owner.split("/")[0]] = artefact.attributes["serialization"]["unsafe"]
    for i, sample in enumerate(SAMPLES):
        found = unsafe.get(f"s{i:03d}", [])
        named = [u for u in found if u["global"]] if isinstance(found, list) else []
        if sample.malicious:
            assert found, f"{sample.name}: not flagged by the path: source"
        else:
            assert not named, f"{sample.name}: {named}"
