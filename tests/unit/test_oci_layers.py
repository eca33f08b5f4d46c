"""Image layers as hostile input, whiteouts, references, credential helpers and cosign
payloads: the parts of the image sources that need no registry."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from scanner.artefacts.signatures.cosign import ImageSignature, verify
from scanner.artefacts.signatures.trust import KeyTrust, TrustSet
from scanner.inventory import Unknown
from scanner.sources.oci.capture import Spool
from scanner.sources.oci.credentials import CredentialsError, credentials_for
from scanner.sources.oci.filesystem import Filesystem
from scanner.sources.oci.layers import Budget, BudgetExceeded, LayerError, read_layer
from scanner.sources.oci.manifests import Descriptor
from scanner.sources.oci.reference import ReferenceError, parse_reference
from tests import oci_images as oi
from tests.signing import key_pair


def _read(
    blob: bytes,
    media_type: str,
    tmp_path: Path,
    *,
    budget: int = 10**9,
    digest: str | None = None,
    integrity: int = 10**8,
):
    layer = Descriptor(media_type, digest or oi.digest_of(blob), len(blob))
    return read_layer(
        io.BytesIO(blob),
        layer,
        0,
        Budget(budget, 10**6),
        Spool(tmp_path, integrity),
        1024 * 1024,
        (),
    )


def _raw_tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_model_files_are_found_by_content_and_hashed(tmp_path: Path) -> None:
    weights = oi.weights()
    blob, media, _ = oi.tar_layer(
        {"srv/app.py": b"print(1)\n", "srv/blob.dat": oi.evil_pickle(), "m/w.safetensors": weights}
    )
    read = _read(blob, media, tmp_path)
    found = {f.path: f for f in read.files}
    assert set(found) == {"srv/blob.dat", "m/w.safetensors"}  # a pickle under any name
    assert found["srv/blob.dat"].read.format == "pickle"
    assert found["m/w.safetensors"].read.sha256 == hashlib.sha256(weights).hexdigest()
    assert found["srv/blob.dat"].kept.spool is not None  # kept whole for the scan
    assert found["m/w.safetensors"].kept.spool is None  # safetensors needs no scan


def test_an_empty_file_named_like_a_model_is_an_undetermined_model(tmp_path: Path) -> None:
    blob, media, _ = oi.tar_layer({"m/model.pt": b"", "m/empty.txt": b""})
    (found,) = _read(blob, media, tmp_path).files
    assert found.path == "m/model.pt"
    assert isinstance(found.read.format, Unknown) and "empty" in found.read.format.reason


def test_paths_escaping_the_root_are_refused(tmp_path: Path) -> None:
    blob = _raw_tar([(tarfile.TarInfo("../../etc/model.pkl"), oi.evil_pickle())])
    read = _read(blob, oi.LAYER_TAR, tmp_path)
    assert read.files == [] and "outside the image root" in read.refused[0]


def test_huge_pax_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    info = tarfile.TarInfo("a")
    info.pax_headers = {"comment": "x" * (2 * 1024 * 1024)}
    blob = _raw_tar([(info, b"data")])
    with pytest.raises(LayerError, match="extended header"):
        _read(blob, oi.LAYER_TAR, tmp_path)


def test_a_layer_that_does_not_match_its_digest_is_discarded(tmp_path: Path) -> None:
    blob, media, _ = oi.tar_layer({"m/w.safetensors": oi.weights()})
    with pytest.raises(LayerError, match="does not match its digest"):
        _read(blob, media, tmp_path, digest="sha256:" + "0" * 64)


def test_a_gzip_bomb_stops_at_the_budget(tmp_path: Path) -> None:
    bomb = gzip.compress(_raw_tar([(tarfile.TarInfo("zeros"), b"\0" * 20_000_000)]))
    assert len(bomb) < 100_000
    with pytest.raises(BudgetExceeded, match="max_image_bytes"):
        _read(bomb, oi.LAYER_GZIP, tmp_path, budget=5_000_000)


def test_content_not_matching_the_declared_compression(tmp_path: Path) -> None:
    blob, _, _ = oi.tar_layer({"a": b"x"}, compression="none")
    with pytest.raises(LayerError, match="declared"):
        _read(blob, oi.LAYER_GZIP, tmp_path)


def test_over_the_integrity_budget_a_pickle_keeps_only_windows(tmp_path: Path) -> None:
    blob, media, _ = oi.tar_layer({"m/model.pkl": oi.evil_pickle()})
    read = _read(blob, media, tmp_path, integrity=10)
    (found,) = read.files
    assert found.read.format == "pickle" and found.kept.spool is None


def test_whiteouts_apply_to_lower_layers_only(tmp_path: Path) -> None:
    fs = Filesystem()
    lower = _read(
        oi.tar_layer({"a/m.safetensors": oi.weights(), "b/n.safetensors": oi.weights()})[0],
        oi.LAYER_GZIP,
        tmp_path,
    )
    fs.apply(lower)
    upper_blob, _, _ = oi.tar_layer(
        {"a/new.safetensors": oi.weights()}, opaque=("a",), whiteouts=("b/n.safetensors",)
    )
    upper = _read(upper_blob, oi.LAYER_GZIP, tmp_path)
    upper.digest = "sha256:upper"
    fs.apply(upper)
    assert set(fs.live) == {"a/new.safetensors"}  # the opaque dir keeps this layer's own file
    assert {(r.file.path, r.how) for r in fs.removed} == {
        ("a/m.safetensors", "opaque whiteout"),
        ("b/n.safetensors", "whiteout"),
    }
    assert all(r.by_layer == "sha256:upper" for r in fs.removed)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000", ("127.0.0.1:5000", None, None, None)),
        ("reg.example/serving/bert:1.0", ("reg.example", "serving/bert", "1.0", None)),
        (
            "localhost:5000/a/b@sha256:" + "a" * 64,
            ("localhost:5000", "a/b", None, "sha256:" + "a" * 64),
        ),
    ],
)
def test_references(text: str, expected: tuple[object, ...]) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected


@pytest.mark.parametrize(
    "text", ["", "reg/UPPER", "reg/x:bad tag", "reg/x@sha256:12", "bad host!/x"]
)
def test_bad_references(text: str) -> None:
    with pytest.raises(ReferenceError):
        parse_reference(text)


def _helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    script = tmp_path / "bin" / "docker-credential-test"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")


def test_credential_helpers_as_docker_runs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _helper(
        tmp_path,
        monkeypatch,
        'read host; echo "{\\"Username\\": \\"u-$host\\", \\"Secret\\": \\"s\\"}"',
    )
    got = credentials_for({"credHelpers": {"reg.example": "test"}}, "reg.example")
    assert (got.username, got.secret, got.origin) == (
        "u-reg.example",
        "s",
        "docker-credential-test",
    )
    inline = {"auths": {"https://other.example": {"auth": base64.b64encode(b"a:b").decode()}}}
    assert credentials_for(inline, "other.example").secret == "b"
    assert credentials_for({}, "none.example").anonymous


def test_a_failing_credential_helper_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _helper(tmp_path, monkeypatch, "echo boom; exit 1")
    with pytest.raises(CredentialsError, match=r"docker-credential-test failed for reg\.example"):
        credentials_for({"credHelpers": {"reg.example": "test"}}, "reg.example")
    with pytest.raises(CredentialsError, match="not installed"):
        credentials_for({"credHelpers": {"reg.example": "missing"}}, "reg.example")


def test_cosign_payload_for_another_image_does_not_verify(tmp_path: Path) -> None:
    keys = key_pair(tmp_path)
    signed = oi.image([oi.tar_layer({"a": b"x"})])
    other = oi.image([oi.tar_layer({"b": b"y"})])
    manifest = oi.cosign_signature(signed, "reg/x", keys.private)
    layer = json.loads(manifest.manifest)["layers"][0]
    found = ImageSignature(
        "cosign",
        manifest.blobs[layer["digest"]],
        "tag test",
        signature=layer["annotations"]["dev.cosignproject.cosign/signature"],
    )
    trust = TrustSet(keys=(KeyTrust(keys.public),))
    assert verify(found, signed.digest, trust).verified is True
    wrong = verify(found, other.digest, trust)
    assert wrong.verified is False and f"not this image ({other.digest})" in (wrong.error or "")
    assert isinstance(verify(found, signed.digest, TrustSet()).verified, Unknown)
    tampered = ImageSignature(
        "cosign", found.payload.replace(b"reg/x", b"reg/y"), "t", found.signature
    )
    assert verify(tampered, signed.digest, trust).verified is False
