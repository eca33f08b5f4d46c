"""A floor for API-reading sources: the calls the source made, recorded, then replayed bare.

What does a source cost beyond the requests it must send? The floor sends exactly the same
requests (recorded from a run of the source: the same operations with the same parameters,
the same listing pages, the same ranged reads), on plain clients with the same number of
threads and no processing at all. Replaying them all on one pool gives the floor more
parallelism than the source can have (the source must list buckets before it reads them), so
the ratio errs against the source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    service: str
    region: str | None
    operation: str
    params: dict[str, Any]


@contextmanager
def recording_boto() -> Iterator[list[Call]]:
    """Every botocore API call made inside the block, in the order made."""
    from botocore.client import BaseClient

    calls: list[Call] = []
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def record(self: Any, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            calls.append(
                Call(self.meta.service_model.service_name, self.meta.region_name, operation,
                     dict(params))
            )  # fmt: skip
        return original(self, operation, params)

    BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def boto_replayer(endpoint: str, workers: int, prepare: Callable[[Any], None] | None = None):
    """A function replaying recorded calls on plain clients made once, outside the timing."""
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=workers, retries={"mode": "adaptive", "max_attempts": 8})
    clients: dict[tuple[str, str | None], Any] = {}
    lock = threading.Lock()

    def client(call: Call) -> Any:
        key = (call.service, call.region)
        with lock:
            if key not in clients:
                made = boto3.client(
                    call.service,
                    endpoint_url=endpoint,
                    region_name=call.region or "us-east-1",
                    config=config,
                )
                if prepare is not None:
                    prepare(made)
                clients[key] = made
            return clients[key]

    def one(call: Call) -> None:
        c = client(call)
        try:
            answer = c._make_api_call(call.operation, call.params)
        except Exception:
            return  # a denied or absent setting answers with an error: the request was made
        body = answer.get("Body") if isinstance(answer, dict) else None
        if body is not None:
            body.read()

    def replay(calls: list[Call]) -> None:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, calls))

    return replay, client
