"""The moto server for tests: the same launcher `modelward demo` uses."""

from scanner.demo.servers import FAKE_CREDENTIALS, MotoServer, free_port, moto_server

__all__ = ["FAKE_CREDENTIALS", "MotoServer", "free_port", "moto_server"]
