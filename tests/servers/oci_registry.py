"""A real OCI registry on loopback: Debian's `docker-registry` (CNCF Distribution 2.8).

Started per test session with a temporary config and storage directory, never as the system
service. With `token_auth`, a small token server (the distribution token spec: a JWT signed
with ES256, its certificate in the `x5c` header and in the registry's `rootcertbundle`) runs
beside it: anonymous requests get pull access to `PUBLIC_REPOSITORIES` only, and the user
`ci` / `secret` gets push and pull everywhere. A scope it refuses gets a token with no access,
as Docker Hub's token service does, and the registry then answers 401.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from scanner.demo.servers import stop_group
from tests.servers.moto import free_port

REGISTRY_BINARY = "/usr/bin/docker-registry"
USER, PASSWORD = "ci", "secret"
SERVICE, ISSUER = "modelward-test-registry", "modelward-test-tokens"
PUBLIC_REPOSITORIES = frozenset({"public/bert"})


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    base: str  # http://127.0.0.1:PORT
    auth: tuple[str, str] | None  # push credentials (token registries)
    root: Path


def available() -> bool:
    return os.access(REGISTRY_BINARY, os.X_OK)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Tokens:
    def __init__(self, directory: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelward test tokens")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = directory / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, scopes: list[str], user: str | None) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if user == USER:
                granted = actions.split(",")
            elif kind == "repository" and name in PUBLIC_REPOSITORIES:
                granted = [a for a in actions.split(",") if a == "pull"]
            else:
                granted = []
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        header = {
            "alg": "ES256",
            "typ": "JWT",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _token_server(tokens: _Tokens) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            user = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                name, _, secret = base64.b64decode(header[6:]).decode().partition(":")
                if (name, secret) != (USER, PASSWORD):
                    self.send_response(401)
                    self.end_headers()
                    return
                user = name
            body = json.dumps({"token": tokens.issue(query.get("scope", []), user)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def registry(directory: Path, *, token_auth: bool = False) -> Iterator[Registry]:
    port = free_port()
    storage = directory / "storage"
    storage.mkdir(parents=True)
    config = [
        "version: 0.1",
        "log: {level: error, accesslog: {disabled: true}}",
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: false}}}}",
        f"http: {{addr: '127.0.0.1:{port}'}}",
    ]
    token_server = None
    if token_auth:
        tokens = _Tokens(directory)
        token_server = _token_server(tokens)
        realm = f"http://127.0.0.1:{token_server.server_address[1]}/token"
        config.append(
            f"auth: {{token: {{realm: '{realm}', service: {SERVICE}, issuer: {ISSUER}, "
            f"rootcertbundle: {tokens.bundle}}}}}"
        )
    (directory / "config.yml").write_text("\n".join(config) + "\n")
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(directory / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{base}/v2/", timeout=1).status_code in (200, 401):
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"docker-registry did not start: {(directory / 'registry.log').read_text()}"
                )
            time.sleep(0.1)
        yield Registry(
            f"127.0.0.1:{port}", base, (USER, PASSWORD) if token_auth else None, directory
        )
    finally:
        stop_group(process, timeout=10)
        log.close()
        if token_server is not None:
            token_server.shutdown()
            token_server.server_close()
        shutil.rmtree(storage, ignore_errors=True)
