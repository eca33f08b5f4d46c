"""The run the Google Cloud sources share (`sources.gcp.source.GcpSource`), with a source that
reads nothing but what the test hands it: calls counted, problems kept or refused, a failure
of the source as a whole made a SourceError naming the spec, reads fanned out in order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from scanner.inventory import Resource
from scanner.sources.gcp.calls import Calls, GcpSourceFailure, HttpStatusError
from scanner.sources.gcp.source import FanOut, GcpSource
from scanner.sources.interface import Progress, SourceError, SourceSpec


@dataclass(frozen=True)
class Options:
    workers: int = 3
    max_attempts: int = 1
    fail: bool = False


class Toy(GcpSource[Options]):
    thread_name = "toy"

    def where(self) -> str:
        return "toy:p"

    def keep_problem(self, line: str) -> bool:
        return "hidden.get" not in line

    def read(
        self, progress: Progress, calls: Calls, pool: ThreadPoolExecutor, fan_out: FanOut
    ) -> tuple[list[Resource], list[str]]:
        if self.options.fail:
            raise GcpSourceFailure("toy:p: no Google Cloud credentials found")
        threads: set[str] = set()

        def denied(permission: str) -> object:
            def call() -> object:
                threads.add(threading.current_thread().name)
                raise HttpStatusError(403, "no")

            return calls.run(call, permission=permission, what=permission)

        fan_out(denied, ["toy.items.list", "toy.items.list", "hidden.get"])
        progress("read")
        self.threads = threads
        names = fan_out(str.upper, ["b", "a"])
        resources = [Resource(id=f"toy:{n}", type="toy", name=n, source="t") for n in names]
        return resources, ["toy:p: own line", "toy:p: own line"]


def spec() -> SourceSpec:
    return SourceSpec(kind="toy", target="project=p", name="toy")


def test_a_run_counts_calls_sorts_resources_and_keeps_problems_once() -> None:
    said: list[str] = []
    source = Toy(spec(), Options())
    out = source.collect(said.append)
    assert said == ["read"]
    assert [r.id for r in out.resources] == ["toy:A", "toy:B"]
    assert out.problems == ("toy:p: own line", "toy:p: denied: toy.items.list (2 calls)")
    assert source.calls == {"toy.items.list": 2, "hidden.get": 1}
    assert all(name.startswith("toy") or name == "MainThread" for name in source.threads)


def test_a_failure_of_the_whole_source_names_the_spec() -> None:
    source = Toy(spec(), Options(fail=True))
    with pytest.raises(SourceError, match=r"^source 'toy:project=p': toy:p: no Google Cloud"):
        source.collect(lambda _: None)
    assert source.calls == {}
