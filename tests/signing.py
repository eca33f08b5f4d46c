"""Key pairs, a test CA and signed models, made in the tests with `cryptography` and the
model-signing library's own API (the same code path as its `model_signing sign` CLI)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanner.demo.keys import write_key_pair
from tests.helpers import safetensors_bytes


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def key_pair(root: Path, name: str = "release") -> KeyPair:
    return KeyPair(*write_key_pair(root, name))


@dataclass(frozen=True)
class Pki:
    root_ca: Path  # what a verifier trusts
    intermediate: Path
    leaf_key: Path
    leaf_cert: Path
    identity: str


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    email: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pki(root: Path, name: str = "acme", email: str = "release@acme.test") -> Pki:
    """Root CA -> intermediate CA -> a code-signing leaf naming `email`."""
    root.mkdir(parents=True, exist_ok=True)
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_cert = _cert(f"{name} root CA", root_key, None, root_key, ca=True)
    mid_cert = _cert(f"{name} signing CA", mid_key, root_cert.subject, root_key, ca=True)
    leaf_cert = _cert(f"{name} release", leaf_key, mid_cert.subject, mid_key, ca=False, email=email)
    paths = {}
    for label, cert in (("root", root_cert), ("mid", mid_cert), ("leaf", leaf_cert)):
        paths[label] = root / f"{name}-{label}.pem"
        paths[label].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = root / f"{name}-leaf.key"
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(paths["root"], paths["mid"], key_path, paths["leaf"], email)


def model_dir(root: Path, name: str = "fraud") -> Path:
    d = root / name
    (d / "tokenizer").mkdir(parents=True, exist_ok=True)
    (d / "model.safetensors").write_bytes(safetensors_bytes())
    (d / "config.json").write_text('{"arch": "mlp"}')
    (d / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return d


def sign_with_key(model: Path, keys: KeyPair, signature: Path | None = None) -> Path:
    import model_signing

    target = signature or (model / "model.sig" if model.is_dir() else Path(f"{model}.sig"))
    model_signing.signing.Config().use_elliptic_key_signer(private_key=keys.private).sign(
        model, target
    )
    return target


def sign_with_certificate(model: Path, ca: Pki) -> Path:
    import model_signing

    target = model / "model.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=ca.leaf_key,
        signing_certificate=ca.leaf_cert,
        certificate_chain=[ca.intermediate],
    ).sign(model, target)
    return target


SLSA_V1 = "https://slsa.dev/provenance/v1"


def slsa_statement(
    files: dict[str, bytes],
    builder_id: str = "https://ci.acme.example/builders/train@v1",
    build_type: str = "https://ci.acme.example/buildtypes/train/v1",
) -> bytes:
    """An in-toto v1 statement (the attestation framework's own bindings) with SLSA v1
    provenance naming `files` (model-relative name -> content) as its subjects."""
    import hashlib

    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    subjects = [
        ResourceDescriptor(name=name, digest={"sha256": hashlib.sha256(body).hexdigest()}).pb
        for name, body in sorted(files.items())
    ]
    predicate = {
        "buildDefinition": {"buildType": build_type, "externalParameters": {"dataset": "q3"}},
        "runDetails": {"builder": {"id": builder_id}, "metadata": {"invocationId": "run-42"}},
    }
    statement = Statement(subjects, SLSA_V1, predicate)
    statement.validate()
    return json_format.MessageToJson(statement.pb).encode()


def dsse_envelope(statement: bytes, keys: KeyPair) -> bytes:
    """A bare DSSE envelope (one JSON line, `.intoto.jsonl`) signed with `keys`, through
    securesystemslib's DSSE implementation."""
    import json

    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    private = serialization.load_pem_private_key(keys.private.read_bytes(), password=None)
    envelope = Envelope(statement, "application/vnd.in-toto+json", {})
    envelope.sign(CryptoSigner(private))  # type: ignore[arg-type]
    return json.dumps(envelope.to_dict()).encode() + b"\n"
