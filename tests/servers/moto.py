"""A `moto_server` process on a free loopback port, usable from pytest and from the demo.

The AWS source is tested against the emulator over HTTP (boto3 with `AWS_ENDPOINT_URL`),
never with in-process `mock_aws`, so the collectors' real request path is what runs.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class MotoServer:
    url: str

    def env(self) -> dict[str, str]:
        """Environment for a process that should talk to this emulator through boto3."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def reset(self) -> None:
        urllib.request.urlopen(
            urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10
        ).read()

    def state(self) -> dict:
        """The emulator's whole state (the first dump initialises every backend)."""
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=60) as r:
            return json.loads(r.read())

    def client(self, service: str, region: str = "us-east-1", account: str | None = None):
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
            # moto selects the account by this header (see reference/live-sources.md).
            client.meta.events.register(
                "before-sign.*.*",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
            )
        return client


def _binary() -> list[str]:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    return [exe] if exe else [sys.executable, "-m", "moto.server"]


@contextlib.contextmanager
def moto_server(extra_env: dict[str, str] | None = None) -> Iterator[MotoServer]:
    port = free_port()
    proc = subprocess.Popen(
        [*_binary(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAKE_CREDENTIALS, **(extra_env or {})},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on port {port}") from None
                time.sleep(0.1)
        yield MotoServer(url)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
