"""`artefacts.signatures.certificates.holder_names`: SANs first, then the subject CN."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from scanner.artefacts.signatures.certificates import holder_names
from tests.signing import pki


def test_a_leaf_is_named_by_its_san_then_its_common_name(tmp_path: Path) -> None:
    ca = pki(tmp_path, name="acme", email="release@acme.test")
    leaf = x509.load_pem_x509_certificate(ca.leaf_cert.read_bytes())
    assert holder_names(leaf) == ["release@acme.test", "acme release"]


def test_a_certificate_without_san_is_named_by_its_common_name(tmp_path: Path) -> None:
    ca = pki(tmp_path, name="acme")
    root = x509.load_pem_x509_certificate(ca.root_ca.read_bytes())
    assert holder_names(root) == ["acme root CA"]
