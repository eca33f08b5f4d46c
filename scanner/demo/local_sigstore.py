"""A Sigstore of one's own on loopback: an OIDC issuer, a Fulcio CA, a CT log and a Rekor log.

Keyless signing (`model_signing sign sigstore`) asks Fulcio for a short-lived certificate that
names the signer's OIDC identity, and records the signature in Rekor; verification checks the
certificate against Fulcio's CA, its embedded SCT against the CT log's key, and the log entry
(a signed checkpoint over a Merkle inclusion proof, and a signed entry timestamp) against
Rekor's key. sigstore-python reads all four from a *client trust config* (a trusted root plus
a signing config naming the services' URLs), so the whole chain can be one's own: this module
is that chain, offline, for the demo and the tests. The signing and verifying code is
sigstore-python's and model-signing's own; only the services are local.

The services answer exactly the requests sigstore-python's clients send and in the documented
shapes: OIDC discovery (`/.well-known/openid-configuration`), Fulcio's
`POST /api/v2/signingCert` (a CSR and a bearer token in, `signedCertificateEmbeddedSct` out),
and Rekor v1's `POST /api/v1/log/entries` (a proposed `dsse` entry in; the entry with its
inclusion proof, checkpoint and signed entry timestamp out). What each takes:

- Fulcio: the leaf names the token's subject as a SAN (an email address, or a URI for a
  workload identity) and carries the OIDC issuer in both of Fulcio's extensions
  (1.3.6.1.4.1.57264.1.1 raw, .1.8 DER UTF8String), code-signing EKU, and one SCT: the CT log
  signs the *precertificate* (the leaf's TBS without the SCT list) with the issuer's key hash,
  as RFC 6962 describes, and the SCT list is added to the same TBS.
- Rekor: an RFC 6962 Merkle tree over the canonicalised entry bodies; each response carries
  the audit path for the tree as it stands, a checkpoint (a signed note: origin, size, root)
  and an inclusion promise signed over the RFC 8785 JSON of body, time, log id and index.
  sigstore-python refuses a bundle without an inclusion proof whose checkpoint verifies, so
  the proof is real: with one entry the tree is that entry's leaf hash and the path is empty.
- OIDC: tokens are ES256 JWTs minted here (`identity_token`); Fulcio accepts only tokens this
  issuer signed, for audience `sigstore`, unexpired.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
AUDIENCE = "sigstore"


def _der_spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 key id: SHA-256 of the DER SubjectPublicKeyInfo (also Rekor's log id)."""
    return hashlib.sha256(_der_spki(key)).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_utf8(text: str) -> bytes:
    raw = text.encode()
    return b"\x0c" + _der_length(len(raw)) + raw


def _der_octets(raw: bytes) -> bytes:
    return b"\x04" + _der_length(len(raw)) + raw


class MerkleLog:
    """An append-only RFC 6962 Merkle tree: leaf hashes and audit paths."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []

    @staticmethod
    def leaf_hash(data: bytes) -> bytes:
        return hashlib.sha256(b"\x00" + data).digest()

    @staticmethod
    def _node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    def append(self, data: bytes) -> int:
        self.leaves.append(self.leaf_hash(data))
        return len(self.leaves) - 1

    def root(self, leaves: list[bytes] | None = None) -> bytes:
        nodes = self.leaves if leaves is None else leaves
        if len(nodes) == 1:
            return nodes[0]
        split = 1 << ((len(nodes) - 1).bit_length() - 1)  # largest power of 2 below len
        return self._node(self.root(nodes[:split]), self.root(nodes[split:]))

    def path(self, index: int, leaves: list[bytes] | None = None) -> list[bytes]:
        """The audit path of leaf `index` (RFC 6962 2.1.1), lowest level first."""
        nodes = self.leaves if leaves is None else leaves
        if len(nodes) <= 1:
            return []
        split = 1 << ((len(nodes) - 1).bit_length() - 1)
        if index < split:
            return [*self.path(index, nodes[:split]), self.root(nodes[split:])]
        return [*self.path(index - split, nodes[split:]), self.root(nodes[:split])]


@dataclass(frozen=True)
class TrustFiles:
    trusted_root: Path  # what a verifier pins (`integrity.trust.identities[].trust_root`)
    client_config: Path  # trusted root + signing config: what a signer is given


class LocalSigstore:
    """The keys and state of one local Sigstore instance (not yet serving)."""

    def __init__(self, issuer: str = "https://oidc.acme.example", name: str = "acme") -> None:
        self.issuer = issuer  # the OIDC issuer URL the certificates name
        self.name = name
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        self.oidc_key = ec.generate_private_key(ec.SECP256R1())
        self.started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        self.ca_cert = self._ca_certificate()
        self.log = MerkleLog()
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.url = ""  # set once serving

    # -- identities ---------------------------------------------------------------------------

    def identity_token(self, identity: str, lifetime: int = 600) -> str:
        """An OIDC ID token for `identity` (an email address or a workload URI), as the
        issuer would mint it for a CI job or a person."""
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": identity,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
        }
        if "@" in identity and "://" not in identity:
            claims["email"] = identity
            claims["email_verified"] = True
        return str(jwt.encode(claims, self.oidc_key, algorithm="ES256"))

    # -- Fulcio -------------------------------------------------------------------------------

    def _ca_certificate(self) -> x509.Certificate:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{self.name} sigstore"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} fulcio"),
            ]
        )
        public = self.ca_key.public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.started)
            .not_valid_after(self.started + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )

    def issue(self, csr_pem: bytes, token: str) -> list[x509.Certificate]:
        """Fulcio: a short-lived leaf for the token's identity, with an embedded SCT."""
        import jwt

        claims = jwt.decode(
            token, self.oidc_key.public_key(), algorithms=["ES256"], audience=AUDIENCE
        )
        if claims.get("iss") != self.issuer:
            raise PermissionError(f"token issuer {claims.get('iss')!r} is not {self.issuer}")
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise PermissionError("the CSR's proof of possession does not verify")
        identity = str(claims.get("email") or claims["sub"])
        san: x509.GeneralName = (
            x509.UniformResourceIdentifier(identity)
            if "://" in identity
            else x509.RFC822Name(identity)
        )
        now = dt.datetime.now(dt.UTC)
        public = csr.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca_cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V1, self.issuer.encode()), False)
            .add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_V2, _der_utf8(self.issuer)), False
            )
        )
        precert = builder.sign(self.ca_key, hashes.SHA256())
        sct = self._sct(precert.tbs_certificate_bytes)
        sct_list = struct.pack("!H", len(sct) + 2) + struct.pack("!H", len(sct)) + sct
        leaf = builder.add_extension(
            x509.UnrecognizedExtension(SCT_LIST, _der_octets(sct_list)), critical=False
        ).sign(self.ca_key, hashes.SHA256())
        return [leaf, self.ca_cert]

    def _sct(self, tbs: bytes) -> bytes:
        """An RFC 6962 v1 SCT over a precertificate entry, signed by the CT log's key."""
        timestamp = int(time.time() * 1000)
        issuer_key_hash = _key_id(self.ca_key.public_key())
        entry = issuer_key_hash + struct.pack("!I", len(tbs))[1:] + tbs
        extensions = b""
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp, 1)
            + entry
            + struct.pack("!H", len(extensions))
            + extensions
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return (
            b"\x00"
            + _key_id(self.ct_key.public_key())
            + struct.pack("!Q", timestamp)
            + struct.pack("!H", len(extensions))
            + extensions
            + b"\x04\x03"  # sha256, ecdsa
            + struct.pack("!H", len(signature))
            + signature
        )

    # -- Rekor --------------------------------------------------------------------------------

    def log_entry(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """Rekor v1: integrate a proposed `dsse` entry; the response as Rekor returns it."""
        import rfc8785

        if proposed.get("kind") != "dsse" or proposed.get("apiVersion") != "0.0.1":
            raise ValueError("this log accepts dsse 0.0.1 entries only")
        content = proposed["spec"]["proposedContent"]
        envelope_text = content["envelope"]
        envelope = json.loads(envelope_text)
        payload = base64.b64decode(envelope["payload"])
        body: dict[str, Any] = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(envelope_text.encode()).hexdigest(),
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
                "signatures": [
                    {"signature": s["sig"], "verifier": content["verifiers"][0]}
                    for s in envelope["signatures"]
                ],
            },
        }
        canonical = rfc8785.dumps(body)
        log_id = _key_id(self.rekor_key.public_key())
        with self._lock:
            index = self.log.append(canonical)
            size = len(self.log.leaves)
            root = self.log.root()
            path = self.log.path(index)
        integrated = int(time.time())
        promise = rfc8785.dumps(
            {
                "body": _b64(canonical),
                "integratedTime": integrated,
                "logID": log_id.hex(),
                "logIndex": index,
            }
        )
        entry = {
            "body": _b64(canonical),
            "integratedTime": integrated,
            "logID": log_id.hex(),
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self._checkpoint(size, root),
                    "hashes": [h.hex() for h in path],
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": _b64(
                    self.rekor_key.sign(promise, ec.ECDSA(hashes.SHA256()))
                ),
            },
        }
        uuid = MerkleLog.leaf_hash(canonical).hex()
        self.entries.append(entry)
        return {uuid: entry}

    def _checkpoint(self, size: int, root: bytes) -> str:
        """A signed note (transparency-dev checkpoint format) over the tree head."""
        host = f"{self.name}-rekor.local"  # the signer's name: one word, as Rekor's hostname
        note = f"{host} - 1\n{size}\n{_b64(root)}\n"
        signature = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        hint = _key_id(self.rekor_key.public_key())[:4]
        return f"{note}\n\u2014 {host} {_b64(hint + signature)}\n"

    # -- trust files --------------------------------------------------------------------------

    def _public_key(self, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        return {
            "rawBytes": _b64(_der_spki(key.public_key())),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": self.started.strftime("%Y-%m-%dT%H:%M:%SZ")},
        }

    def trusted_root(self) -> dict[str, Any]:
        """The trusted root a verifier pins: this CA, this CT log, this Rekor log."""
        start = {"start": self.started.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": self.url or "http://127.0.0.1",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": self._public_key(self.rekor_key),
                    "logId": {"keyId": _b64(_key_id(self.rekor_key.public_key()))},
                }
            ],
            "certificateAuthorities": [
                {
                    "subject": {"organization": f"{self.name} sigstore", "commonName": "fulcio"},
                    "uri": self.url or "http://127.0.0.1",
                    "certChain": {
                        "certificates": [
                            {
                                "rawBytes": _b64(
                                    self.ca_cert.public_bytes(serialization.Encoding.DER)
                                )
                            }
                        ]
                    },
                    "validFor": start,
                }
            ],
            "ctlogs": [
                {
                    "baseUrl": self.url or "http://127.0.0.1",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": self._public_key(self.ct_key),
                    "logId": {"keyId": _b64(_key_id(self.ct_key.public_key()))},
                }
            ],
            "timestampAuthorities": [],
        }

    def signing_config(self) -> dict[str, Any]:
        start = {"start": self.started.strftime("%Y-%m-%dT%H:%M:%SZ")}

        def service(url: str) -> dict[str, Any]:
            return {"url": url, "majorApiVersion": 1, "validFor": start, "operator": self.name}

        return {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(self.url)],
            "oidcUrls": [service(f"{self.url}/oidc")],
            "rekorTlogUrls": [service(self.url)],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }

    def write_trust(self, directory: Path) -> TrustFiles:
        directory.mkdir(parents=True, exist_ok=True)
        root = directory / "trusted_root.json"
        root.write_text(json.dumps(self.trusted_root(), indent=2), encoding="utf-8")
        client = directory / "client_trust_config.json"
        client.write_text(
            json.dumps(
                {
                    "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                    "trustedRoot": self.trusted_root(),
                    "signingConfig": self.signing_config(),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        return TrustFiles(root, client)

    # -- serving ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serving(self) -> Iterator[LocalSigstore]:
        """Serve OIDC discovery, Fulcio and Rekor on a free loopback port until the block ends."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, name="local-sigstore", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)

    def sign_model(self, model: Path, signature: Path, identity: str, trust: TrustFiles) -> None:
        """`model_signing sign sigstore` against this instance, as a CI job with an OIDC
        token for `identity` would run it."""
        import model_signing

        config = model_signing.signing.Config()  # type: ignore[no-untyped-call]
        config.use_sigstore_signer(
            identity_token=self.identity_token(identity),
            trust_config=trust.client_config,
            use_ambient_credentials=False,
            oidc_issuer=f"{self.url}/oidc",
        ).sign(model, signature)

    def sign_statement(self, statement: bytes, identity: str, trust: TrustFiles) -> str:
        """A Sigstore bundle (JSON) over an in-toto statement, signed keylessly: how
        `sigstore attest` and CI provenance generators publish attestations."""
        from sigstore import dsse
        from sigstore.models import ClientTrustConfig
        from sigstore.oidc import IdentityToken
        from sigstore.sign import SigningContext

        config = ClientTrustConfig.from_json(trust.client_config.read_text(encoding="utf-8"))
        context = SigningContext.from_trust_config(config)
        token = IdentityToken(self.identity_token(identity))
        with context.signer(token) as signer:
            bundle = signer.sign_dsse(dsse.Statement(statement))
        return bundle.to_json()


def _handler(sigstore: LocalSigstore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the demo prints its own progress

        def _send(self, status: int, doc: Any) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(min(length, 4 * 1024 * 1024)) or b"{}")

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/oidc/.well-known/openid-configuration":
                self._send(
                    200,
                    {
                        "issuer": sigstore.issuer,
                        "authorization_endpoint": f"{sigstore.url}/oidc/auth",
                        "token_endpoint": f"{sigstore.url}/oidc/token",
                    },
                )
            else:
                self._send(404, {"message": "not found"})

        def do_POST(self) -> None:
            path = self.path.rstrip("/")
            try:
                if path == "/api/v2/signingCert":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    request = self._json()
                    csr = base64.b64decode(request["certificateSigningRequest"])
                    chain = sigstore.issue(csr, token)
                    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain]
                    self._send(
                        200, {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}
                    )
                elif path == "/api/v1/log/entries":
                    self._send(201, sigstore.log_entry(self._json()))
                else:
                    self._send(404, {"message": "not found"})
            except PermissionError as e:
                self._send(401, {"message": str(e)})
            except Exception as e:  # a malformed request: say so, as the real services do
                self._send(400, {"message": f"{type(e).__name__}: {e}"})

    return Handler
