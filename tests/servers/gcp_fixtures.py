"""pytest fixtures for the GCP sources: fake-gcs-server behind the shape server, seeded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.demo import gcp_estate
from scanner.demo.gcp_shapes import FakeGcs, GcpShapeServer, fake_gcs_server


@dataclass
class GcpServers:
    emulator: FakeGcs
    shapes: GcpShapeServer
    env: dict[str, str]

    def reseed(self) -> None:
        """The shape server's answers back to the seeded estate (the emulator is untouched)."""
        self.shapes.reset()
        gcp_estate.seed_shapes(self.shapes)
        gcp_estate.seed_vertex(self.shapes)


@pytest.fixture(scope="module")
def gcp_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcpServers]:
    """One fake-gcs-server and one shape server per test module, seeded once; the process
    environment points google-cloud-storage and every GCP REST client at them."""
    tmp: Path = tmp_path_factory.mktemp("gcp")
    with fake_gcs_server() as emulator, GcpShapeServer(emulator.url) as shapes:
        gcp_estate.seed_storage(emulator)
        with gcp_estate.gcp_env(shapes, tmp) as env:
            servers = GcpServers(emulator, shapes, env)
            servers.reseed()
            yield servers


@pytest.fixture
def gcp(gcp_servers: GcpServers) -> GcpServers:
    """The module's servers, with the shape server's answers reset for this test."""
    gcp_servers.reseed()
    return gcp_servers
