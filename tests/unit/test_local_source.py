"""The `path:` source against real trees in tmp_path: grouping, hashing, links, damaged files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scanner.errors import UsageError
from scanner.inventory import Resource, Unknown, to_jsonable
from scanner.sources.interface import Collection, SourceError, SourceSpec
from scanner.sources.local import LocalPathSource


def safetensors_bytes(data: bytes = b"\x00" * 16) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, len(data)]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def torch_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2))
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def onnx_bytes() -> bytes:
    # ir_version 9, graph {name "g"}, opset_import {version 17}
    return b"\x08\x09" + b"\x3a\x03\x12\x01g" + b"\x42\x02\x10\x11"


def make(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def collect(root: Path | str, **options: Any) -> tuple[Collection, list[str]]:
    messages: list[str] = []
    spec = SourceSpec(kind="path", target=str(root), name="disk", options=options)
    return LocalPathSource(spec).collect(messages.append), messages


def by_name(collection: Collection) -> dict[str, Resource]:
    return {r.name: r for r in collection.resources}


def files_of(resource: Resource) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in resource.attributes["files"]}


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


# --- grouping --------------------------------------------------------------------------------

TREE: dict[str, bytes | str] = {
    "README.md": "# models\n",
    "bert/model.safetensors": safetensors_bytes(),
    "bert/config.json": '{"hidden_size": 768}',
    "bert/tokenizer/vocab.txt": "[CLS]\n[SEP]\n",
    "bert/onnx/model.onnx": onnx_bytes(),
    "mlflow/MLmodel": "flavors:\n  sklearn: {}\n",
    "mlflow/conda.yaml": "name: env\n",
    "mlflow/data/model.pkl": pickle.dumps({"coef": [1.0]}, protocol=4),
    "mlflow/data/nested/model.safetensors": safetensors_bytes(),
    "signed/model.sig": '{"mediaType": "application/vnd.dev.sigstore.bundle+json"}',
    "signed/weights/part-1.safetensors": safetensors_bytes(b"\x01" * 16),
    "docs/notes.txt": "no models here\n",
    "disguised/weights.txt": pickle.dumps([1, 2, 3], protocol=2),
    ".git/objects/model.pkl": pickle.dumps([1], protocol=2),
}


def test_model_directories_become_artefacts(tmp_path: Path) -> None:
    root = make(tmp_path / "models", TREE)
    collection, _ = collect(root)
    artefacts = by_name(collection)
    assert sorted(artefacts) == ["bert", "bert/onnx", "disguised", "mlflow", "signed"]
    assert collection.problems == ()

    bert = artefacts["bert"]
    assert bert.id == (root / "bert").as_uri()
    assert bert.type == "artefact" and bert.source == "disk"
    assert list(files_of(bert)) == ["config.json", "model.safetensors", "tokenizer/vocab.txt"]
    assert bert.attributes["serialization"]["formats"] == ["safetensors"]
    assert bert.attributes["serialization"]["pickle_based"] is False
    assert "storage" not in bert.attributes

    # MLmodel and model.sig directories absorb their subtrees, model files and all.
    mlflow = files_of(artefacts["mlflow"])
    assert list(mlflow) == [
        "MLmodel",
        "conda.yaml",
        "data/model.pkl",
        "data/nested/model.safetensors",
    ]
    assert artefacts["mlflow"].attributes["serialization"]["formats"] == ["pickle", "safetensors"]
    assert artefacts["mlflow"].attributes["serialization"]["pickle_based"] is True
    assert list(files_of(artefacts["signed"])) == ["model.sig", "weights/part-1.safetensors"]

    # Detected by content, not by its .txt name.
    assert files_of(artefacts["disguised"])["weights.txt"]["format"] == "pickle"
    assert artefacts["disguised"].attributes["serialization"]["pickle_based"] is True


def test_attribute_shape(tmp_path: Path) -> None:
    root = make(tmp_path / "models", TREE)
    bert = by_name(collect(root)[0])["bert/onnx"]
    path = str(root / "bert" / "onnx")
    assert bert.attributes == {
        "uri": (root / "bert" / "onnx").as_uri(),
        "location": {"provider": "local", "path": path},
        "files": [
            {
                "path": "model.onnx",
                "size": len(onnx_bytes()),
                "sha256": sha(onnx_bytes()),
                "format": "onnx",
            }
        ],
        "serialization": {
            "formats": ["onnx"],
            "pickle_based": False,
            "unsafe": [],
            "lambda_layers": [],
        },
        "signature": {
            "present": False,
            "kind": None,
            "verified": False,
            "identity": None,
            "error": "no signature found",
        },
        "provenance": {
            "present": False,
            "file": None,
            "predicate_type": None,
            "verified": False,
            "identity": None,
            "error": "no attestation found",
        },
        "file_count": 1,
        "total_size": len(onnx_bytes()),
    }
    assert bert.raw == {
        "root": str(root),
        "path": path,
        "single_file": False,
        "file_count": 1,
        "model_file_count": 1,
        "total_size": len(onnx_bytes()),
    }


def test_root_that_is_itself_a_model_directory(tmp_path: Path) -> None:
    root = make(tmp_path / "fraud-v3", {"model.pt": torch_zip(), "sub/extra.json": "{}"})
    (artefact,) = collect(root)[0].resources
    assert artefact.name == "fraud-v3"
    assert artefact.id == root.as_uri()
    assert list(files_of(artefact)) == ["model.pt", "sub/extra.json"]
    assert artefact.attributes["serialization"]["formats"] == ["pytorch"]


def test_single_file_root(tmp_path: Path) -> None:
    data = safetensors_bytes()
    path = make(tmp_path, {"only.safetensors": data}) / "only.safetensors"
    (artefact,) = collect(path)[0].resources
    assert artefact.id == path.as_uri() and artefact.name == "only.safetensors"
    assert artefact.attributes["files"] == [
        {
            "path": "only.safetensors",
            "size": len(data),
            "sha256": sha(data),
            "format": "safetensors",
        }
    ]


def test_no_model_files_means_no_resources(tmp_path: Path) -> None:
    root = make(tmp_path / "r", {"README.md": "hi", "config.json": "{}"})
    assert collect(root)[0] == Collection(resources=(), problems=())


# --- hashing, progress, determinism ----------------------------------------------------------


def test_sha256_matches_and_large_sparse_file_is_hashed(tmp_path: Path) -> None:
    root = make(tmp_path / "r", TREE)
    big = root / "bert" / "shard.bin"
    with big.open("wb") as f:
        f.seek(50 * 1024 * 1024 - 1)
        f.write(b"\x01")
    collection, messages = collect(root, hash_workers=2)
    bert = files_of(by_name(collection)["bert"])
    assert bert["model.safetensors"]["sha256"] == sha(TREE["bert/model.safetensors"])
    expected = hashlib.sha256(b"\x00" * (50 * 1024 * 1024 - 1) + b"\x01").hexdigest()
    assert bert["shard.bin"] == {
        "path": "shard.bin",
        "size": 50 * 1024 * 1024,
        "sha256": expected,
        "format": None,
    }
    assert any("hashed bert (4 files" in m for m in messages)
    assert messages[0].startswith(f"path:{root}: ")


def test_collect_is_deterministic(tmp_path: Path) -> None:
    root = make(tmp_path / "r", TREE)
    first, second = collect(root, hash_workers=1)[0], collect(root, hash_workers=4)[0]
    assert first == second
    assert [r.id for r in first.resources] == sorted(r.id for r in first.resources)


@pytest.mark.parametrize("bad", [0, -1, "many", True, 1.5])
def test_hash_workers_must_be_a_positive_integer(tmp_path: Path, bad: object) -> None:
    with pytest.raises(UsageError, match="hash_workers must be a positive integer"):
        collect(tmp_path, hash_workers=bad)


# --- whole-source failures -------------------------------------------------------------------


def test_missing_root_is_a_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SourceError) as err:
        collect(missing)
    assert err.value.message == f"no such file or directory: {missing}"
    assert err.value.exit_code == 3


def test_relative_root_is_reported_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=f"^no such file or directory: {tmp_path}/gone$"):
        collect("gone")


# --- links, special files, damaged files -----------------------------------------------------


def test_symlink_loops_are_problems_and_the_rest_is_collected(tmp_path: Path) -> None:
    root = make(tmp_path / "r", {"a/model.safetensors": safetensors_bytes()})
    (root / "a" / "up").symlink_to("..")
    (root / "a" / "self").symlink_to("self")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    collection, _ = collect(root)
    assert [r.name for r in collection.resources] == ["a"]
    assert list(files_of(collection.resources[0])) == ["model.safetensors"]
    assert collection.problems == (
        "a/self: symlink loop (Too many levels of symbolic links)",
        "a/up: symlink loop -> .. (links to an ancestor directory; not followed)",
        "ping: symlink loop (Too many levels of symbolic links)",
        "pong: symlink loop (Too many levels of symbolic links)",
    )


def _linked_tree(tmp_path: Path) -> tuple[Path, Path]:
    outside = make(tmp_path / "outside", {"m.safetensors": safetensors_bytes()})
    root = make(tmp_path / "r", {"real/model.pt": torch_zip()})
    (root / "linked").symlink_to(outside)
    (root / "alias").symlink_to(root / "real")
    (root / "real" / "weights.safetensors").symlink_to(outside / "m.safetensors")
    (root / "real" / "shadow").symlink_to("/etc/shadow")
    (root / "to_root").symlink_to(tmp_path)  # an ancestor of the root
    return root, outside


def test_links_out_of_the_tree_are_not_followed_and_are_reported(tmp_path: Path) -> None:
    root, outside = _linked_tree(tmp_path)
    collection, _ = collect(root)
    assert sorted(by_name(collection)) == ["real"]
    real = files_of(by_name(collection)["real"])
    assert sorted(real) == ["model.pt"]  # neither the outside weights nor /etc/shadow
    hint = "(not followed; set the follow_links option to read it)"
    assert collection.problems == (
        f"linked: symlink leaves the scanned tree -> {outside} {hint}",
        f"real/shadow: symlink leaves the scanned tree -> /etc/shadow {hint}",
        f"real/weights.safetensors: symlink leaves the scanned tree -> "
        f"{outside / 'm.safetensors'} {hint}",
        f"to_root: symlink leaves the scanned tree -> {tmp_path} {hint}",
    )


def test_with_follow_links_links_out_of_the_root_are_followed_and_inside_ones_not_duplicated(
    tmp_path: Path,
) -> None:
    root, _ = _linked_tree(tmp_path)
    (root / "real" / "shadow").unlink()
    collection, _ = collect(root, follow_links=True)
    assert sorted(by_name(collection)) == ["linked", "real"]
    real = files_of(by_name(collection)["real"])
    assert real["weights.safetensors"]["sha256"] == sha(safetensors_bytes())
    assert by_name(collection)["linked"].id == (root / "linked").as_uri()
    assert collection.problems == (
        f"to_root: symlink loop -> {tmp_path} (links to an ancestor directory; not followed)",
    )


def test_follow_links_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="follow_links must be true or false, got 'yes'"):
        collect(tmp_path, follow_links="yes")


def test_dangling_symlink_is_a_problem(tmp_path: Path) -> None:
    root = make(tmp_path / "r", {"m/model.safetensors": safetensors_bytes()})
    (root / "m" / "gone.pt").symlink_to("/nonexistent/gone.pt")
    collection, _ = collect(root)
    assert len(collection.resources) == 1
    assert collection.problems == ("m/gone.pt: dangling symlink -> /nonexistent/gone.pt",)


@pytest.mark.timeout(10)
def test_fifo_is_never_opened(tmp_path: Path) -> None:
    root = make(tmp_path / "r", {"m/model.safetensors": safetensors_bytes()})
    os.mkfifo(root / "m" / "model.pkl")  # opening it for reading would block forever
    collection, _ = collect(root)
    assert list(files_of(collection.resources[0])) == ["model.safetensors"]
    assert collection.problems == ("m/model.pkl: not a regular file, skipped (named pipe)",)


def test_damaged_model_files_keep_their_entries_and_are_problems(tmp_path: Path) -> None:
    good = safetensors_bytes()
    root = make(
        tmp_path / "r",
        {
            "m/empty.pt": b"",
            "m/cut.safetensors": good[:-5],
            "m/cut.pkl": pickle.dumps(list(range(20)), protocol=4)[:-2],
            "m/cut.pt": torch_zip()[:60],
            "lonely/empty.onnx": b"",
        },
    )
    collection, _ = collect(root)
    assert collection.problems == (
        "lonely/empty.onnx: empty file (0 bytes)",
        "m/cut.pkl: truncated pickle (does not end with the STOP opcode '.')",
        "m/cut.pt: truncated or corrupt zip archive",
        f"m/cut.safetensors: truncated safetensors file: tensors need "
        f"{len(good)} bytes, file has {len(good) - 5}",
        "m/empty.pt: empty file (0 bytes)",
    )
    artefacts = by_name(collection)
    m = files_of(artefacts["m"])
    assert m["empty.pt"]["format"] == Unknown("empty file (0 bytes)")
    assert m["empty.pt"]["sha256"] == sha(b"")
    assert m["cut.pt"]["format"] == Unknown("truncated or corrupt zip archive")
    assert m["cut.safetensors"]["format"] == "safetensors"  # known format, damaged content
    # cut.pkl is still a pickle
    assert artefacts["m"].attributes["serialization"]["pickle_based"] is True
    # A directory holding only an empty model file is still reported: unknown, not absent.
    pickle_based = artefacts["lonely"].attributes["serialization"]["pickle_based"]
    assert isinstance(pickle_based, Unknown) and "empty.onnx" in pickle_based.reason


def test_problem_lines_stay_one_line_whatever_the_file_name(tmp_path: Path) -> None:
    root = make(tmp_path / "r", {"m/evil\nname.pt": b""})
    collection, _ = collect(root)
    assert collection.problems == ("m/evil\\nname.pt: empty file (0 bytes)",)
    assert list(files_of(collection.resources[0])) == ["evil\nname.pt"]


# --- permissions -----------------------------------------------------------------------------

_AS_NOBODY = """
import json, os, sys
from scanner.inventory import to_jsonable
from scanner.sources.interface import SourceError, SourceSpec
from scanner.sources.local import LocalPathSource
sources = [LocalPathSource(SourceSpec("path", root, "disk")) for root in sys.argv[1:]]
if os.getuid() == 0:  # everything is imported: now become nobody for the reads
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
out = []
for source in sources:
    try:
        c = source.collect(lambda message: None)
        out.append({"resources": [to_jsonable(r.attributes) for r in c.resources],
                    "problems": list(c.problems)})
    except SourceError as e:
        out.append({"error": e.message})
print(json.dumps(out))
"""


def _collect_unprivileged(*roots: Path) -> list[dict[str, Any]]:
    """Root reads everything, so the check runs in a child that drops to uid 65534 (nobody).

    The child starts as root and drops privileges itself after importing: `subprocess.run(
    user=65534)` would need nobody to be able to execute the interpreter, which is not so when
    it lives under /root (0700). Not running as root, the child keeps our uid and chmod does it.
    """
    result = subprocess.run(
        [sys.executable, "-c", _AS_NOBODY, *map(str, roots)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_unreadable_files_and_directories() -> None:
    base = Path(tempfile.mkdtemp(prefix="modelward-perm-"))
    try:
        base.chmod(0o755)  # mkdtemp makes it 0700: nobody must be able to traverse it
        root = make(
            base / "r",
            {
                "m/model.safetensors": safetensors_bytes(),
                "m/secret.pkl": pickle.dumps([1], protocol=2),
                "m/locked/inner.pt": torch_zip(),
            },
        )
        closed = make(base / "closed", {"model.pt": torch_zip()})
        for d in (root, root / "m", closed):
            d.chmod(0o755)
        (root / "m" / "secret.pkl").chmod(0o000)
        (root / "m" / "locked").chmod(0o700 if os.getuid() == 0 else 0o000)
        closed.chmod(0o700 if os.getuid() == 0 else 0o000)

        scanned, refused = _collect_unprivileged(root, closed)
    finally:
        for path in (base / "r" / "m" / "locked", base / "closed"):
            if path.exists():
                path.chmod(0o755)
        shutil.rmtree(base)

    assert refused == {"error": f"cannot read {closed}: Permission denied"}
    denied = "cannot read file: Permission denied"
    assert scanned["problems"] == [
        "m/locked: cannot read directory: Permission denied",
        f"m/secret.pkl: {denied}",
    ]
    (artefact,) = scanned["resources"]
    assert artefact["files"][1] == {
        "path": "secret.pkl",
        "size": len(pickle.dumps([1], 2)),
        "sha256": {"$unknown": denied},
        "format": {"$unknown": denied},
    }
    assert artefact["files"][0]["format"] == "safetensors"
    assert artefact["serialization"]["pickle_based"] == {
        "$unknown": f"format of secret.pkl could not be determined ({denied})"
    }
    assert to_jsonable(Unknown(denied)) == {"$unknown": denied}
