"""Local servers on free loopback ports: the moto server (AWS) and an MLflow server.

(Azurite and the ARM shape server are in `azurite.py` and `arm_shapes.py`, fake-gcs-server
and the GCP shape server in `gcp_shapes.py`.)

Used by `modelward demo` and by the integration tests, so both exercise the same start-up
path. Each server runs in its own process group and is stopped with the group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class ServerError(RuntimeError):
    """A local server did not start."""


@contextlib.contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """The process environment with `values` set (None: unset) for the duration, then as it
    was: the scan's sources find the local servers the way their SDKs find a cloud (boto3's
    AWS_ENDPOINT_URL, STORAGE_EMULATOR_HOST, a managed-identity endpoint)."""
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:PORT now. SO_REUSEADDR as the servers set
    it: connections of an earlier run still in TIME_WAIT do not make the port look taken."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _executable(name: str, module: str) -> list[str]:
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    return [exe] if exe else [sys.executable, "-m", module]


def _wait(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise ServerError(f"{what} exited with code {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise ServerError(f"{what} was not ready at {url} after {timeout:.0f} s")
        time.sleep(0.2)


def stop_group(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Stop a server started in its own process group (`start_new_session=True`), workers
    and all: SIGTERM, then SIGKILL for what is still running after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass(frozen=True)
class MotoServer:
    url: str

    def env(self) -> dict[str, str]:
        """Environment for a process that should talk to this emulator through boto3."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def seed(self, value: int) -> None:
        """Seed the emulator's random ids (VPCs, subnets, API ids): the same requests in the
        same order then create the same ids in every run."""
        request = urllib.request.Request(f"{self.url}/moto-api/seed?a={value}", method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def state(self) -> dict[str, Any]:
        """The emulator's whole state (the first dump initialises every backend)."""
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=60) as r:
            state: dict[str, Any] = json.loads(r.read())
        return state

    def client(self, service: str, region: str = "us-east-1", account: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        if account:
            # moto selects the account by this header.
            client.meta.events.register(
                "before-sign.*.*",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
            )
        return client


@contextlib.contextmanager
def moto_server(
    extra_env: Mapping[str, str] | None = None, port: int | None = None
) -> Iterator[MotoServer]:
    port = port or free_port()
    proc = subprocess.Popen(
        [*_executable("moto_server", "moto.server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAKE_CREDENTIALS, **(extra_env or {})},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/moto-api/", proc, "moto_server", timeout=30)
        yield MotoServer(url)
    finally:
        stop_group(proc)


@dataclass(frozen=True)
class MlflowServer:
    url: str


@contextlib.contextmanager
def mlflow_server(
    workdir: Path,
    *,
    artifact_root: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 120,
    port: int | None = None,
) -> Iterator[MlflowServer]:
    """One worker, no job runner: ~10 s and ~500 MB instead of ~28 s and 2.4 GB."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        *_executable("mlflow", "mlflow"),
        "server",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--default-artifact-root",
        artifact_root or str(workdir / "artifacts"),
    ]
    if artifact_root and "://" in artifact_root:
        args.append("--no-serve-artifacts")
    log = (workdir / "mlflow-server.log").open("wb")
    proc = subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(extra_env or {})},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/health", proc, "mlflow server", timeout=timeout)
        yield MlflowServer(url)
    finally:
        stop_group(proc)
        log.close()
