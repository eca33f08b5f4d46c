"""pytest wrappers around the MLflow server: one seeded server per test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.servers.mlflow_seed import Estate, seed
from tests.servers.mlflow_server import MlflowServer, mlflow_server


@dataclass(frozen=True)
class SeededServer:
    server: MlflowServer
    estate: Estate

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def mlflow_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    """A real `mlflow server` (sqlite, proxied artifacts) holding the seed estate."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield SeededServer(server, seed(server.url))
