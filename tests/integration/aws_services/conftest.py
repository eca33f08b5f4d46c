"""One emulator and one seeded estate for every test in this folder (seeding costs seconds:
moto builds each service's backend on its first request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scanner.sources.aws.context import AwsContext
from tests.integration.aws_services.estate import Estate, aws_context, boto_session, seed
from tests.servers.moto import MotoServer, moto_server

# Without the default AMI catalogue moto's EC2 backend starts in a fraction of the time.
FAST_EC2 = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with moto_server(FAST_EC2) as server:
        yield server


@pytest.fixture(scope="session")
def estate(moto: MotoServer) -> Estate:
    return seed(moto)


@pytest.fixture(scope="session")
def session() -> Any:
    return boto_session()


@pytest.fixture
def ctx(moto: MotoServer, estate: Estate, session: Any) -> AwsContext:
    """A fresh context per test: the shared endpoint memo lives as long as its context."""
    return aws_context(moto, session)


@pytest.fixture(scope="module")
def module_ctx(moto: MotoServer, estate: Estate, session: Any) -> AwsContext:
    """For a module that reads one collection many times."""
    return aws_context(moto, session)
