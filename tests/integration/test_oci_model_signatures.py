"""Model signatures inside container images: an OpenSSF model-signing `model.sig` that a model
directory carried into the image, verified where it is, against the trusted signers, with the
digests the layers' streams computed. Images are OCI layouts written here (no registry needed:
the reader is the same for every image store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.trust import KeyTrust, TrustPolicy, TrustSet
from scanner.inventory import Unknown
from scanner.sources.interface import SourceSpec
from scanner.sources.oci.source import OciSource
from tests import oci_images as oi
from tests.signing import KeyPair, key_pair, model_dir, sign_with_key


def _files(model: Path, into: str) -> dict[str, bytes]:
    return {
        f"{into}/{p.relative_to(model)}": p.read_bytes() for p in model.rglob("*") if p.is_file()
    }


def _signed(root: Path, keys: KeyPair) -> dict[str, bytes]:
    model = model_dir(root, "fraud")
    sign_with_key(model, keys)
    return _files(model, "models/fraud")


def _signature(tmp: Path, layers: list[Any], trusted: Path | None, **options: Any) -> dict:
    layout = oi.write_layout(tmp / "layout", {"v1": oi.image(layers)})
    if trusted is not None:
        options["trust"] = TrustPolicy(TrustSet(keys=(KeyTrust(trusted),)))
    spec = SourceSpec("oci-layout", str(layout), "layout", options)
    collected = OciSource(spec).collect(lambda _: None)
    (artefact,) = collected.resources
    signature: dict = artefact.attributes["signature"]
    return signature


def test_a_trusted_model_signature_inside_an_unsigned_image_verifies_it(tmp_path) -> None:
    keys = key_pair(tmp_path / "keys")
    app = oi.tar_layer({"app/server.py": b"print('serve')\n"})
    sig = _signature(tmp_path, [app, oi.tar_layer(_signed(tmp_path, keys))], keys.public)
    (inside,) = sig["model_signatures"]
    assert inside["directory"] == "models/fraud"
    assert inside["file"] == "models/fraud/model.sig"
    assert inside["verified"] is True and inside["identity"]
    # The image has no cosign signature; the model's own covers every model file it ships.
    assert sig["verified"] is True and sig["kind"] == "model-signing"
    assert sig["file"] == "models/fraud/model.sig"
    assert sig["image_signature"]["verified"] is False


def test_a_model_signature_by_someone_untrusted_fails_the_image(tmp_path) -> None:
    keys, other = key_pair(tmp_path / "keys"), key_pair(tmp_path / "other", "other")
    sig = _signature(tmp_path, [oi.tar_layer(_signed(tmp_path, keys))], other.public)
    assert sig["model_signatures"][0]["verified"] is False
    assert sig["verified"] is False
    assert "models/fraud/model.sig inside the image does not verify" in sig["error"]


def test_a_file_changed_after_signing_fails_even_in_a_later_layer(tmp_path) -> None:
    """The files a container runs are the final filesystem's: a later layer that rewrites
    the signed config is a change after signing, whatever the earlier layer held."""
    keys = key_pair(tmp_path / "keys")
    signed = _signed(tmp_path, keys)
    tampered = oi.tar_layer({"models/fraud/config.json": b'{"arch": "backdoor"}'})
    sig = _signature(tmp_path, [oi.tar_layer(signed), tampered], keys.public)
    assert sig["verified"] is False
    assert "config.json" in sig["model_signatures"][0]["error"]
    # In the same layer, a weight file swapped after signing:
    swapped = dict(signed, **{"models/fraud/model.safetensors": oi.weights(b"\x07" * 16)})
    again = _signature(tmp_path / "2", [oi.tar_layer(swapped)], keys.public)
    assert again["verified"] is False
    assert "model.safetensors" in again["model_signatures"][0]["error"]


def test_an_unsigned_model_beside_a_signed_one_leaves_the_image_unverified(tmp_path) -> None:
    keys = key_pair(tmp_path / "keys")
    files = {**_signed(tmp_path, keys), "models/other/model.safetensors": oi.weights()}
    sig = _signature(tmp_path, [oi.tar_layer(files)], keys.public)
    assert sig["model_signatures"][0]["verified"] is True
    assert sig["verified"] is False and sig["kind"] is None  # the image's own: none


def test_a_signed_file_too_large_to_hash_in_passing_is_unknown_not_verified(tmp_path) -> None:
    keys = key_pair(tmp_path / "keys")
    model = model_dir(tmp_path, "fraud")
    (model / "tokenizer" / "merges.txt").write_bytes(b"a b\n" * 65536)  # 256 KiB of text
    sign_with_key(model, keys)
    layer = oi.tar_layer(_files(model, "models/fraud"))
    sig = _signature(tmp_path, [layer], keys.public, sniff_bytes=4096)
    inside = sig["model_signatures"][0]
    assert isinstance(inside["verified"], Unknown)
    assert "merges.txt" in inside["verified"].reason and "sniff_bytes" in inside["verified"].reason
    assert sig["verified"] is not True


def test_without_trusted_signers_a_model_signature_is_unknown(tmp_path) -> None:
    keys = key_pair(tmp_path / "keys")
    sig = _signature(tmp_path, [oi.tar_layer(_signed(tmp_path, keys))], None)
    assert isinstance(sig["model_signatures"][0]["verified"], Unknown)
    assert sig["verified"] is not True
