"""Shared fixtures: run the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli import main
from tests.helpers import CliResult


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `modelward ARGS` in-process; returns exit code, stdout and stderr."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse --help / --version / usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def moto_session():
    """One moto_server for the whole test session (started on first use, ~0.5 s)."""
    from tests.servers.moto import moto_server

    with moto_server() as server:
        yield server


@pytest.fixture(scope="module")
def moto(moto_session):
    """The session's moto server, emptied for this test module."""
    moto_session.reset()
    yield moto_session


# The MLflow server fixture lives with the server helpers, reused by the demo and benchmarks.
from tests.servers.gcp_fixtures import gcp, gcp_servers  # noqa: E402, F401
from tests.servers.mlflow_fixtures import mlflow_registry  # noqa: E402, F401
