"""Who signs a pack: a key, a key with its certificate chain, or a Sigstore keyless identity.

Every signer turns the statement's bytes into a Sigstore bundle (v0.3 JSON) whose
`dsseEnvelope` holds the signature, so one format is verified three ways:
- key: DSSE signing by securesystemslib (the DSSE reference implementation's home), EC P-256,
  P-384, P-521 or Ed25519. The bundle names the key by `publicKey.hint` = SHA-256 (hex) of its
  PEM SubjectPublicKeyInfo, the convention model-signing uses, so model-signing's own verifier
  accepts an EC-signed pack too;
- certificate: the same signature, with the signing certificate and its chain in
  `x509CertificateChain` (the shape model-signing's certificate signer writes);
- keyless: sigstore-python signs (a Fulcio certificate for the OIDC identity, a Rekor entry).

Nothing here encodes DSSE, PAE or the bundle by hand: securesystemslib, sigstore-models and
sigstore-python do. Each signer says who it is (`description`) before it signs, so the reports
rendered into the pack can name the signer.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from scanner.artefacts.signatures.certificates import holder_names
from scanner.errors import UsageError
from scanner.evidence.statement import PAYLOAD_TYPE

BUNDLE_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
# An encrypted private key's passphrase comes from the environment, never from a flag (flags
# show in process listings and CI logs).
PASSPHRASE_ENV = "MODELWARD_EVIDENCE_KEY_PASSPHRASE"
# An explicit OIDC token for keyless signing (the name sigstore-python's CLI reads too); without
# it the CI's ambient credential is used.
TOKEN_ENV = "SIGSTORE_IDENTITY_TOKEN"
MAX_PEM_BYTES = 1024 * 1024


class SigningError(UsageError):
    """The signer cannot be set up or cannot sign (exit 2): a key, certificate or identity
    problem the user must fix; the message names the file or the service."""


class Signer(Protocol):
    description: str

    def sign(self, statement: bytes) -> bytes:
        """The statement signed, as a Sigstore bundle's JSON bytes."""
        ...


def key_hint(public_key: Any) -> str:
    """SHA-256 (hex) of the PEM SubjectPublicKeyInfo: the bundle's `publicKey.hint`."""
    from cryptography.hazmat.primitives import serialization

    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def describe_key(public_key: Any) -> str:
    return f"key sha256:{key_hint(public_key)[:16]}"


def describe_certificate(certificate: Any) -> str:
    names = holder_names(certificate)
    return f"certificate {names[0]}" if names else "an unnamed certificate"


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_PEM_BYTES:
            raise SigningError(f"{what} {path}: over {MAX_PEM_BYTES} bytes, not a PEM file")
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise SigningError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    data = _read(path, "--evidence-key")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            data, passphrase.encode() if passphrase is not None else None
        )
    except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
        raise SigningError(
            f"--evidence-key {path}: the key is encrypted: set {PASSPHRASE_ENV}"
            if passphrase is None
            else f"--evidence-key {path}: the key is not encrypted: unset {PASSPHRASE_ENV}"
        ) from None
    except ValueError as exc:
        raise SigningError(
            f"--evidence-key {path}: not a PEM private key (or a wrong passphrase): {exc}"
        ) from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for exotic keys
        raise SigningError(f"--evidence-key {path}: {type(exc).__name__}: {exc}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise SigningError(
                f"--evidence-key {path}: EC curve {key.curve.name} is not supported "
                "(use P-256, P-384, P-521 or Ed25519)"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise SigningError(
        f"--evidence-key {path}: a {type(key).__name__.removeprefix('_')} key is not supported "
        "(use EC P-256, P-384, P-521 or Ed25519)"
    )


class KeySigner:
    """DSSE over the statement with a private key, optionally with a certificate chain."""

    def __init__(self, private_key: Any, certificates: Sequence[Any] = ()) -> None:
        self._key = private_key
        self._certificates = tuple(certificates)
        self.description = (
            describe_certificate(certificates[0])
            if certificates
            else describe_key(private_key.public_key())
        )

    def sign(self, statement: bytes) -> bytes:
        from securesystemslib.dsse import Envelope
        from securesystemslib.signer import CryptoSigner
        from sigstore_models import intoto as intoto_pb
        from sigstore_models.bundle import v1 as bundle_pb

        envelope = Envelope(statement, PAYLOAD_TYPE, {})
        envelope.sign(CryptoSigner(self._key))
        encoded = envelope.to_dict()
        bundle = bundle_pb.Bundle(
            media_type=BUNDLE_MEDIA_TYPE,
            verification_material=self._material(),
            dsse_envelope=intoto_pb.Envelope(
                payload=encoded["payload"].encode(),
                payload_type=encoded["payloadType"],
                # the key is named by the bundle's hint (or certificate), not by DSSE's keyid
                signatures=[
                    intoto_pb.Signature(sig=s["sig"].encode(), keyid="")
                    for s in encoded["signatures"]
                ],
            ),
        )
        return bundle.to_json().encode()

    def _material(self) -> Any:
        from cryptography.hazmat.primitives import serialization
        from sigstore_models.bundle import v1 as bundle_pb
        from sigstore_models.common import v1 as common_pb

        if not self._certificates:
            return bundle_pb.VerificationMaterial(
                public_key=common_pb.PublicKeyIdentifier(hint=key_hint(self._key.public_key())),
                tlog_entries=[],
            )
        chain = [
            common_pb.X509Certificate(
                raw_bytes=base64.b64encode(c.public_bytes(serialization.Encoding.DER))
            )
            for c in self._certificates
        ]
        return bundle_pb.VerificationMaterial(
            x509_certificate_chain=common_pb.X509CertificateChain(certificates=chain),
            tlog_entries=[],
        )


def key_signer(key: Path, certificate: Path | None = None, chain: Path | None = None) -> KeySigner:
    """A signer from `--evidence-key` (with `--evidence-certificate` and its chain), every
    file checked now, before the scan runs."""
    from cryptography import x509

    private_key = load_private_key(key)
    if certificate is None:
        if chain is not None:
            raise SigningError("--evidence-certificate-chain needs --evidence-certificate")
        return KeySigner(private_key)
    try:
        leaf = x509.load_pem_x509_certificate(_read(certificate, "--evidence-certificate"))
    except ValueError as exc:
        raise SigningError(
            f"--evidence-certificate {certificate}: not a PEM certificate: {exc}"
        ) from None
    if leaf.public_key() != private_key.public_key():
        raise SigningError(
            f"--evidence-certificate {certificate} does not certify the key in {key}"
        )
    rest: list[Any] = []
    if chain is not None:
        try:
            rest = x509.load_pem_x509_certificates(_read(chain, "--evidence-certificate-chain"))
        except ValueError as exc:
            raise SigningError(
                f"--evidence-certificate-chain {chain}: not PEM certificates: {exc}"
            ) from None
    return KeySigner(private_key, [leaf, *rest])


class KeylessSigner:
    """Sigstore keyless: a short-lived Fulcio certificate for the OIDC identity, and a Rekor
    transparency log entry. Needs the network (Fulcio and Rekor of the trust config)."""

    def __init__(self, trust_config: Path | None) -> None:
        from sigstore.models import ClientTrustConfig
        from sigstore.sign import SigningContext

        self._token = _identity_token()
        try:
            if trust_config is not None:
                text = _read(trust_config, "--evidence-trust-config").decode("utf-8")
                trust = ClientTrustConfig.from_json(text)
            else:
                trust = ClientTrustConfig.production()
            self._context = SigningContext.from_trust_config(trust)
        except SigningError:
            raise
        except Exception as exc:  # TUF, network and parse errors alike
            where = trust_config or "the Sigstore public-good instance"
            raise SigningError(
                f"--evidence-keyless: cannot set up Sigstore signing with {where}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        issuer = self._token.federated_issuer or self._token.issuer
        self.description = f"{_certificate_identity(self._token)} ({issuer})"

    def sign(self, statement: bytes) -> bytes:
        from sigstore import dsse

        if not self._token.in_validity_period():
            self._token = _identity_token()  # CI tokens live minutes; a long scan outlives one
        try:
            with self._context.signer(self._token, cache=True) as signer:
                bundle = signer.sign_dsse(dsse.Statement(statement))
        except Exception as exc:  # Fulcio, Rekor and network errors alike
            raise SigningError(
                f"--evidence-keyless: Sigstore signing failed: {type(exc).__name__}: {exc}"
            ) from None
        return bundle.to_json().encode()


def _certificate_identity(token: Any) -> str:
    """The identity Fulcio will write into the certificate, for the reports rendered before
    signing. CI workload identities are not the token's `sub`: Fulcio names the workflow
    (GitHub: `https://github.com/` + `job_workflow_ref`; GitLab: the instance URL +
    `ci_config_ref_uri`). The claims are read without verification: this is a label only,
    the verified identity is what `modelward evidence verify` prints."""
    import json

    try:
        segment = str(token).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        claims = {}
    issuer = str(token.issuer)
    if issuer == "https://token.actions.githubusercontent.com" and claims.get("job_workflow_ref"):
        return f"https://github.com/{claims['job_workflow_ref']}"
    if claims.get("ci_config_ref_uri") and issuer.startswith("https://"):
        return f"https://{claims['ci_config_ref_uri']}"
    return str(token.identity)


def _identity_token() -> Any:
    from sigstore.oidc import IdentityError, IdentityToken, detect_credential

    raw = os.environ.get(TOKEN_ENV)
    try:
        if not raw:
            raw = detect_credential()
    except IdentityError as exc:
        raise SigningError(
            f"--evidence-keyless: cannot get an OIDC identity token: {exc}"
        ) from None
    if not raw:
        raise SigningError(
            "--evidence-keyless: no OIDC identity token: run in a CI job that has one "
            "(GitHub Actions: `permissions: id-token: write`; GitLab: an `id_tokens` entry "
            f"SIGSTORE_ID_TOKEN with `aud: sigstore`) or set {TOKEN_ENV}"
        )
    try:
        return IdentityToken(raw)
    except IdentityError as exc:
        raise SigningError(
            f"--evidence-keyless: the OIDC identity token is not usable: {exc}"
        ) from None
