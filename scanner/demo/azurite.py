"""Azurite (the Azure Storage emulator) over HTTPS on a free loopback port, with OAuth.

Used by `modelward demo` and by the `azure:` source's tests. Azurite is a Node.js program
(npm `azurite`): `make install` and `make demo` install it into requirements/npm with
`npm ci`; elsewhere an `azurite-blob` on PATH is used. `missing()` says in words why it
cannot run, so the demo can skip Azure and say so instead of failing.

The Azure SDKs send a bearer token only over TLS, and Azurite accepts one only over HTTPS
(`--oauth basic`: issuer, audience and lifetime are checked, the signature is not), so the
emulator runs with a certificate made here for 127.0.0.1, trusted by the test process and
its children through `REQUESTS_CA_BUNDLE`. That lets a subscription scan read the data plane
the way it reads Azure: with a token, never with an account key. Accounts other than the
emulator's own are declared through `AZURITE_ACCOUNTS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from scanner.demo.servers import ServerError, free_port, stop_group

# Where `npm ci --prefix requirements/npm` puts it in a checkout (the package sits beside it).
CHECKOUT_AZURITE = (
    Path(__file__).resolve().parents[2] / "requirements" / "npm" / "node_modules" / ".bin"
) / "azurite-blob"
INSTALL_HINT = "make install (or make demo) installs it with npm ci in requirements/npm"


def executable() -> Path | None:
    """The `azurite-blob` to run: the checkout's, else one on PATH."""
    if CHECKOUT_AZURITE.exists():
        return CHECKOUT_AZURITE
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def missing() -> str | None:
    """Why Azurite cannot run here, in words; None when it can."""
    if executable() is None:
        return f"Azurite (npm azurite) is not installed: {INSTALL_HINT}"
    if shutil.which("node") is None:
        return "Azurite needs Node.js, and no `node` is on PATH"
    return None


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


def make_tls(directory: Path) -> Tls:
    """A self-signed certificate for 127.0.0.1 (and localhost), valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(directory / "cert.pem", directory / "key.pem")
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return tls


@dataclass(frozen=True)
class Azurite:
    port: int
    keys: Mapping[str, str]  # account -> key (base64)
    location: Path

    def url(self, account: str) -> str:
        return f"https://127.0.0.1:{self.port}/{account}"

    def connection_string(self, account: str) -> str:
        return (
            f"DefaultEndpointsProtocol=https;AccountName={account};"
            f"AccountKey={self.keys[account]};BlobEndpoint={self.url(account)};"
        )


@contextlib.contextmanager
def azurite(location: Path, tls: Tls, keys: Mapping[str, str]) -> Iterator[Azurite]:
    reason = missing()
    exe = executable()
    if reason is not None or exe is None:
        raise ServerError(reason or "Azurite is not installed")
    port = free_port()
    env = {
        **os.environ,
        "AZURITE_ACCOUNTS": ";".join(f"{a}:{k}" for a, k in keys.items()),
    }
    location.mkdir(parents=True, exist_ok=True)
    log = (location / "azurite.log").open("wb")
    command = [str(exe), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    command += ["--location", str(location), "--skipApiVersionCheck", "--disableTelemetry"]
    command += ["--loose", "--cert", str(tls.cert), "--key", str(tls.key), "--oauth", "basic"]
    proc = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_listening(port, proc)
        yield Azurite(port, dict(keys), location)
    finally:
        stop_group(proc, timeout=10)
        log.close()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"Azurite exited with code {proc.returncode} before it was ready")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ServerError(f"Azurite was not listening on 127.0.0.1:{port} after {timeout:.0f} s")
