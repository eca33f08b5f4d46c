"""A signing key pair on disk, as the demo's release pipeline (and the tests) make one.

PEM PKCS#8 for the private key and PEM SubjectPublicKeyInfo for the public key: the files
model-signing's `use_elliptic_key_signer` and the scan's `integrity.trust.keys` read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def write_key_pair(
    directory: Path,
    name: str,
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | None = None,
) -> tuple[Path, Path]:
    """`directory/NAME.key` and `directory/NAME.pub` for `key` (a new P-256 key when None)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    directory.mkdir(parents=True, exist_ok=True)
    private = directory / f"{name}.key"
    public = directory / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
