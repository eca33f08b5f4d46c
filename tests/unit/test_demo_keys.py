"""`scanner.demo.keys.write_key_pair`: the key files the demo and the tests sign with."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from scanner.demo.keys import write_key_pair


def _public_pem(key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_a_new_p256_pair_whose_files_belong_together(tmp_path: Path) -> None:
    private, public = write_key_pair(tmp_path / "keys", "release")
    assert (private, public) == (tmp_path / "keys/release.key", tmp_path / "keys/release.pub")
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert public.read_bytes() == _public_pem(key.public_key())


def test_a_given_key_is_written_as_it_is(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = write_key_pair(tmp_path, "auditor", key)
    assert public.read_bytes() == _public_pem(key.public_key())
    loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(loaded, ed25519.Ed25519PrivateKey)
    assert _public_pem(loaded.public_key()) == public.read_bytes()
