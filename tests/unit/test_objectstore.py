"""The provider-neutral object-store builder, through an in-memory store.

The fake reader below is a store as the `ObjectStoreReader` protocol describes one (listing,
ranged reads, a recorded digest, whole reads), so these tests pin what every provider gets
from the builder; S3 through the same builder is tested against moto in
tests/integration/test_aws_s3*.py.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import OrderedDict
from typing import Any

from scanner.artefacts.signatures.trust import KeyTrust, TrustPolicy, TrustSet
from scanner.inventory import Ref, Unknown
from scanner.sources.interface import SourceSpec
from scanner.sources.local import LocalPathSource
from scanner.sources.objectstore import (
    Container,
    Listing,
    ObjectReadError,
    StoreContents,
    StoredObject,
    build_artefacts,
    read_object,
)
from tests.aws_estate import safetensors
from tests.signing import key_pair, sign_with_key

# Protocol 0, written by hand: loading it would run a shell command. Nothing here loads it.
EVIL = b"cos\nsystem\n(S'echo pwned'\ntR."
BENIGN = pickle.dumps(OrderedDict(weight=[0.1, 0.2]), protocol=4)
CONTAINER = Container(
    provider="mem",
    kind="bucket",
    name="store",
    uri="mem://store",
    label="in-memory",
    source_kind="mem",
    storage="mem://store",
    location={"region": "here"},
)


class MemoryReader:
    """A store in a dict. `denied` keys answer every content read with a denial."""

    def __init__(self, objects: dict[str, bytes], denied: frozenset[str] = frozenset()) -> None:
        self.objects = objects
        self.denied = denied
        self.ranges: list[tuple[str, int, int]] = []
        self.whole: list[str] = []

    def list_objects(self, cap: int) -> Listing:
        listed = tuple(
            StoredObject(key, len(data), f'"{hashlib.md5(data).hexdigest()}"', ("SHA256",))
            for key, data in sorted(self.objects.items())
        )
        return Listing(listed[:cap], truncated=len(listed) > cap)

    def read_range(self, obj: StoredObject, start: int, length: int) -> bytes:
        self._check(obj)
        self.ranges.append((obj.key, start, length))
        return self.objects[obj.key][start : start + length]

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        if obj.key in self.denied:
            return Unknown("denied: mem:Head")
        return hashlib.sha256(self.objects[obj.key]).hexdigest()

    def read_all(self, obj: StoredObject, into: Any) -> None:
        self._check(obj)
        self.whole.append(obj.key)
        into.write(self.objects[obj.key])

    def _check(self, obj: StoredObject) -> None:
        if obj.key in self.denied:
            raise ObjectReadError("denied: mem:Read")


def build(
    reader: MemoryReader,
    sniff_bytes: int = 1 << 20,
    integrity_max_bytes: int = 1 << 20,
    trust: TrustPolicy | None = None,
):
    contents = StoreContents(reader.list_objects(1000))
    for obj in contents.to_read():
        contents.record(obj, read_object(reader, obj, sniff_bytes))
    found = build_artefacts(contents, CONTAINER, "mem:", reader, integrity_max_bytes, trust)
    return {r.id: r for r in found}


class NoChecksumReader(MemoryReader):
    """A store that keeps no digest of its own (every comparison needs a read)."""

    def recorded_sha256(self, obj: StoredObject) -> str | Unknown | None:
        return None


def _signed_tree(tmp_path, keys) -> dict[str, bytes]:
    """A model with a pickle, signed with `keys`, as objects under `models/signed/`."""
    model = tmp_path / "signed"
    model.mkdir()
    (model / "model.pkl").write_bytes(BENIGN)
    (model / "config.json").write_bytes(b"{}")
    sign_with_key(model, keys)
    return {f"models/signed/{p.name}": p.read_bytes() for p in model.iterdir()}


TREE = {
    "models/fraud/model.safetensors": safetensors(),
    "models/fraud/config.json": b"{}",
    "models/evil/model.pkl": EVIL,
    "models/evil/README.md": b"# evil",
    "models/benign/model.pkl": BENIGN,
    "models/locked/model.safetensors": safetensors(),
    "datasets/train.csv": b"a,b\n1,2\n",
}


def test_model_directories_become_artefacts_with_files_digests_and_formats():
    reader = MemoryReader(TREE, denied=frozenset({"models/locked/model.safetensors"}))
    found = build(reader)
    assert sorted(found) == [
        "mem://store/models/benign",
        "mem://store/models/evil",
        "mem://store/models/fraud",
        "mem://store/models/locked",
    ]
    fraud = found["mem://store/models/fraud"]
    assert (fraud.type, fraud.name, fraud.source) == ("artefact", "store/models/fraud", "mem:")
    a = fraud.attributes
    assert a["uri"] == "mem://store/models/fraud"
    assert a["location"] == {
        "provider": "mem",
        "bucket": "store",
        "prefix": "models/fraud",
        "region": "here",
    }
    assert a["storage"] == Ref("mem://store")
    weights = safetensors()
    assert a["files"] == [
        {
            "path": "config.json",
            "size": 2,
            "sha256": hashlib.sha256(b"{}").hexdigest(),
            "etag": hashlib.md5(b"{}").hexdigest(),
            "format": None,
        },
        {
            "path": "model.safetensors",
            "size": len(weights),
            "sha256": hashlib.sha256(weights).hexdigest(),
            "etag": hashlib.md5(weights).hexdigest(),
            "format": "safetensors",
        },
    ]
    assert (a["file_count"], a["total_size"], a["listing_truncated"]) == (
        2,
        len(weights) + 2,
        False,
    )
    assert a["serialization"] == {"formats": ["safetensors"], "pickle_based": False}
    assert a["signature"]["present"] is False and a["signature"]["verified"] is False
    assert a["provenance"]["present"] is False
    assert fraud.raw == {
        "bucket": "store",
        "prefix": "models/fraud",
        "keys": ["models/fraud/config.json", "models/fraud/model.safetensors"],
    }
    # Objects outside candidate model directories are never read.
    assert all(not key.startswith("datasets/") for key, _, _ in reader.ranges)


def test_a_denied_read_leaves_the_format_and_the_serialization_unknown():
    reader = MemoryReader(TREE, denied=frozenset({"models/locked/model.safetensors"}))
    locked = build(reader)["mem://store/models/locked"].attributes
    (entry,) = locked["files"]
    assert entry["format"] == Unknown("denied: mem:Read")
    assert entry["sha256"] == Unknown("denied: mem:Head")
    unknown = Unknown("format of model.safetensors could not be determined (denied: mem:Read)")
    assert locked["serialization"] == {"formats": unknown, "pickle_based": unknown}


def test_a_pickle_is_flagged_and_scanned_and_a_benign_one_is_clean():
    reader = MemoryReader(TREE)
    found = build(reader)
    evil = found["mem://store/models/evil"].attributes["serialization"]
    assert evil["pickle_based"] is True and evil["formats"] == ["pickle"]
    (issue,) = evil["unsafe"]
    assert issue["file"] == "model.pkl" and "system" in issue["global"]
    benign = found["mem://store/models/benign"].attributes["serialization"]
    assert benign["unsafe"] == [] and benign["lambda_layers"] == []
    # Only files the serialization scan reads are copied whole: not the README beside it,
    # nor safetensors weights.
    assert sorted(reader.whole) == ["models/benign/model.pkl", "models/evil/model.pkl"]


def test_over_the_integrity_budget_unsafe_stays_unknown_and_nothing_is_copied():
    reader = MemoryReader(TREE)
    evil = build(reader, integrity_max_bytes=8)["mem://store/models/evil"]
    assert evil.attributes["serialization"]["unsafe"] == Unknown(
        f"not scanned: model is {len(EVIL) + 6} bytes; budget 8 bytes: raise "
        "integrity_max_bytes (mem source option) or verify in the pipeline"
    )
    assert reader.whole == []


def test_a_denied_whole_read_leaves_unsafe_unknown():
    class DeniedWhole(MemoryReader):
        def read_all(self, obj: StoredObject, into: Any) -> None:
            raise ObjectReadError("denied: mem:Read")

    evil = build(DeniedWhole(TREE))["mem://store/models/evil"].attributes["serialization"]
    assert evil["pickle_based"] is True
    assert evil["unsafe"] == Unknown("model files could not be read: model.pkl: denied: mem:Read")


def test_an_object_longer_than_listed_is_refused_not_scanned():
    class Grown(MemoryReader):
        def read_all(self, obj: StoredObject, into: Any) -> None:
            into.write(self.objects[obj.key] + b"more")

    evil = build(Grown(TREE))["mem://store/models/evil"].attributes["serialization"]
    assert isinstance(evil["unsafe"], Unknown)
    assert "changed" in evil["unsafe"].reason


def test_the_sniff_budget_bounds_what_is_read_of_an_object():
    big = {"m/model.safetensors": safetensors() + b"\0" * 200_000}
    reader = MemoryReader(big)
    (artefact,) = build(reader, sniff_bytes=1000).values()
    assert artefact.attributes["files"][0]["format"] == Unknown(
        "sniffing needs more than the 1000-byte read budget (sniff_bytes)"
    )
    assert reader.ranges == []  # refused before asking the store for more than the budget


def test_a_model_at_the_root_keeps_the_slash_and_is_named_after_the_container():
    (root,) = build(MemoryReader({"model.safetensors": safetensors()})).values()
    assert (root.id, root.name) == ("mem://store/", "store")
    assert root.attributes["location"]["prefix"] == ""


def test_the_grouping_is_the_path_sources(tmp_path):
    tree = {
        **TREE,
        "packaged/MLmodel": b"flavors: {}\n",
        "packaged/data/model.pkl": BENIGN,
        "nested/outer/model.safetensors": safetensors(),
        "nested/outer/inner/model.pt": BENIGN,
        "renamed/config.bin": BENIGN,  # a pickle by content, not by name
        "renamed/weights.safetensors": safetensors(),
        "notamodel/blob.bin": b"not a model at all",
    }
    for key, data in tree.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(data)
    local = LocalPathSource(SourceSpec("path", str(tmp_path), "path:", {})).collect(lambda _: None)
    on_disk = {
        r.attributes["location"]["path"][len(str(tmp_path)) + 1 :]: (
            [f["path"] for f in r.attributes["files"]],
            [f["format"] for f in r.attributes["files"]],
            r.attributes["serialization"]["pickle_based"],
        )
        for r in local.resources
    }
    in_store = {
        r.attributes["location"]["prefix"]: (
            [f["path"] for f in r.attributes["files"]],
            [f["format"] for f in r.attributes["files"]],
            r.attributes["serialization"]["pickle_based"],
        )
        for r in build(MemoryReader(tree)).values()
    }
    assert in_store == on_disk
    assert "packaged" in in_store and "notamodel" not in in_store
    assert in_store["renamed"][2] is True


def test_one_read_serves_the_scan_the_digest_and_the_signature(tmp_path):
    keys = key_pair(tmp_path / "keys")
    reader = NoChecksumReader(_signed_tree(tmp_path, keys))
    trust = TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))
    art = build(reader, trust=trust)["mem://store/models/signed"].attributes
    assert art["signature"]["verified"] is True
    assert art["signature"]["digests_from"] == "read"
    assert art["serialization"]["unsafe"] == []
    assert {f["path"]: f["sha256"] for f in art["files"]}["model.pkl"] == hashlib.sha256(
        BENIGN
    ).hexdigest()
    # Every object read whole exactly once: the pickle's read served all three checks.
    assert sorted(reader.whole) == [
        "models/signed/config.json",
        "models/signed/model.pkl",
        "models/signed/model.sig",
    ]


def test_the_stores_checksums_spare_the_reads_the_scan_does_not_need(tmp_path):
    keys = key_pair(tmp_path / "keys")
    reader = MemoryReader(_signed_tree(tmp_path, keys))
    trust = TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))
    art = build(reader, trust=trust)["mem://store/models/signed"].attributes
    assert art["signature"]["verified"] is True
    assert art["signature"]["digests_from"] == "in-memory checksum and read"
    assert sorted(reader.whole) == ["models/signed/model.pkl", "models/signed/model.sig"]


def test_a_signature_nobody_trusts_reads_no_model_file(tmp_path):
    keys, other = key_pair(tmp_path / "keys"), key_pair(tmp_path / "keys", "other")
    reader = NoChecksumReader(_signed_tree(tmp_path, keys))
    trust = TrustPolicy(TrustSet(keys=(KeyTrust(other.public),)))
    art = build(reader, trust=trust, integrity_max_bytes=8192)
    sig = art["mem://store/models/signed"].attributes["signature"]
    assert sig["verified"] is False and "not signed by the trusted key other.pub" in sig["error"]
    # The pickle is still read for the serialization scan, but nothing else is.
    assert sorted(reader.whole) == ["models/signed/model.pkl", "models/signed/model.sig"]


def test_a_denied_signature_read_leaves_the_signature_unknown(tmp_path):
    keys = key_pair(tmp_path / "keys")
    tree = _signed_tree(tmp_path, keys)
    reader = MemoryReader(tree, denied=frozenset({"models/signed/model.sig"}))
    trust = TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))
    sig = build(reader, trust=trust)["mem://store/models/signed"].attributes["signature"]
    assert sig["present"] is True
    assert sig["verified"] == Unknown("signature model.sig could not be read: denied: mem:Read")
