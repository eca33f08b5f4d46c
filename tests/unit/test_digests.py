"""MW-INT-04: recorded digests against stored files, as a pure linking step."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest

from scanner.artefacts.digests import (
    compare_manifest,
    compare_recorded,
    link_digests,
    normalise_digest,
)
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.policy.evaluate import evaluate_all
from scanner.policy.loader import load_policy_dirs
from tests.integrity_policies import integrity_pack

SHA = hashlib.sha256(b"weights").hexdigest()
OTHER = hashlib.sha256(b"other").hexdigest()
FILES = [
    {"path": "model.pkl", "size": 7, "sha256": SHA, "etag": '"abc123"'},
    {"path": "MLmodel", "size": 9, "sha256": OTHER},
]


def artefact(files=FILES, signature=None) -> Resource:
    attrs = {"files": files}
    if signature is not None:
        attrs["signature"] = signature
    return Resource("s3://b/fraud/3", "artefact", "fraud/3", "aws", attrs)


REF = Ref("s3://b/fraud/3")


def version(recorded=None, ref=REF, **extra) -> Resource:
    attrs = {"artefact": ref, **extra}
    if recorded is not None:
        attrs["recorded_digest"] = recorded
    return Resource(
        "mlflow+http://m/models/fraud/versions/3", "model_version", "fraud/3", "m", attrs
    )


def linked(*resources: Resource):
    (updated,) = link_digests(Inventory(resources))
    return updated.attributes["digest_match"]


def test_normalisation() -> None:
    b64 = base64.b64encode(bytes.fromhex(SHA)).decode()
    assert normalise_digest("sha256", b64) == SHA  # S3 ChecksumSHA256
    assert normalise_digest("sha256", f"sha256:{SHA.upper()}") == SHA
    assert normalise_digest("etag", '"ABC123"') == "abc123"


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ({"algorithm": "sha256", "value": SHA, "source": "tag"}, True),
        ({"algorithm": "sha256", "value": "00" * 32, "source": "tag"}, False),
        ({"algorithm": "etag", "value": "abc123", "source": "ModelDataETag"}, True),
        (
            {"algorithm": "md5", "value": "ffff", "source": "x"},
            Unknown("1 file(s) have no md5 or etag to compare with the recorded digest"),
        ),
        (
            {"algorithm": "crc32", "value": "1", "source": "x"},
            Unknown("recorded digest algorithm 'crc32' has no counterpart on the files"),
        ),
    ],
)
def test_compare_recorded(recorded, expected) -> None:
    assert compare_recorded(recorded, FILES) == expected


def test_compare_manifest() -> None:
    manifest = [{"path": "model.pkl", "algorithm": "sha256", "digest": SHA}]
    assert compare_manifest(manifest, FILES) is True
    assert compare_manifest([{**manifest[0], "digest": OTHER}], FILES) is False
    assert compare_manifest([{**manifest[0], "path": "gone.pkl"}], FILES) is False
    unknown = compare_manifest(manifest, [{"path": "model.pkl", "sha256": Unknown("denied")}])
    assert isinstance(unknown, Unknown)


def test_link_sets_digest_match() -> None:
    good = {"algorithm": "sha256", "value": SHA, "source": "tag"}
    assert linked(version(good), artefact()) is True
    assert linked(version({**good, "value": OTHER + "0"}), artefact()) is False


def test_a_verified_signature_manifest_is_compared_too() -> None:
    sig = {
        "verified": True,
        "manifest": [{"path": "model.pkl", "algorithm": "sha256", "digest": OTHER}],
    }
    good = {"algorithm": "sha256", "value": SHA, "source": "tag"}
    assert linked(version(good), artefact(signature=sig)) is False
    assert linked(version(), artefact(signature=sig)) is False  # the manifest alone decides


def test_unknowns_carry_the_reason() -> None:
    good = {"algorithm": "sha256", "value": SHA, "source": "tag"}
    missing = linked(version(good))
    assert (
        isinstance(missing, Unknown) and "not reported by any configured source" in missing.reason
    )
    denied = linked(version(good, ref=Unknown("GetModelVersion denied")))
    assert denied == Unknown("artefact unknown: GetModelVersion denied")
    files = linked(version(good), artefact(files=Unknown("ListObjectsV2 denied")))
    assert files == Unknown("files of s3://b/fraud/3 unknown: ListObjectsV2 denied")


def test_nothing_recorded_nothing_linked_and_source_values_kept() -> None:
    assert link_digests(Inventory([version(), artefact()])) == []
    kept = version({"algorithm": "sha256", "value": SHA, "source": "t"}, digest_match=False)
    assert link_digests(Inventory([kept, artefact()])) == []


def test_policy_on_linked_inventory(tmp_path) -> None:
    pack = load_policy_dirs([integrity_pack(tmp_path)])
    good = {"algorithm": "sha256", "value": SHA, "source": "tag"}
    for recorded, status in ((good, "pass"), ({**good, "value": OTHER + "1"}, "fail")):
        inventory = Inventory([version(recorded), artefact()])
        for r in link_digests(inventory):
            inventory = Inventory([r, artefact()])
        policies = [p for p in pack.policies if p.id == "T-INT-04"]
        (finding,) = evaluate_all(policies, inventory, dt.datetime.now(dt.UTC))
        assert finding.status == status


def test_md5_compares_with_a_listed_md5_before_the_etag() -> None:
    """Cloud Storage lists an MD5 per object (its ETag is no digest): a registry's MD5, hex or
    base64 as GCS publishes it, is compared with that."""
    import base64

    digest = "7b8c0097041de5d22d96344c3f3bef44"
    files = [{"path": "model.bin", "etag": "CJ+fr6GS0uICEAE=", "md5": digest}]
    as_base64 = base64.b64encode(bytes.fromhex(digest)).decode()
    assert compare_recorded({"algorithm": "md5", "value": digest}, files) is True
    assert compare_recorded({"algorithm": "md5", "value": as_base64}, files) is True
    assert compare_recorded({"algorithm": "md5", "value": "00" * 16}, files) is False
