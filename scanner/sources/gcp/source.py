"""The run every Google Cloud source shares: one `Calls`, one bounded pool, one failure rule.

A `gcs:` or `vertex:` source differs only in what it reads. Both count their calls in one
`Calls` (what `calls` holds after a run, per permission), fan their reads out on one pool of
`workers` threads (`sources.pool.shared_map`, so nested fan-outs never exceed it), and turn a
`GcpSourceFailure` (no credentials, an unreachable API, an unlistable project) into the
`SourceError` that makes the scan exit 3 naming the source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

from scanner.inventory import Resource
from scanner.sources.gcp.calls import Calls, GcpSourceFailure
from scanner.sources.gcp.credentials import authorized_session, default_credentials
from scanner.sources.gcp.rest import Rest
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec
from scanner.sources.pool import shared_map

T = TypeVar("T")
R = TypeVar("R")


class PoolOptions(Protocol):
    @property
    def workers(self) -> int: ...

    @property
    def max_attempts(self) -> int: ...


OptionsT = TypeVar("OptionsT", bound=PoolOptions)


class FanOut(Protocol):
    """`[fn(item) for item in items]` on the source's pool, in order."""

    def __call__(self, fn: Callable[[T], R], items: Sequence[T], /) -> list[R]: ...


class GcpSource(Generic[OptionsT]):
    """Read-only. A subclass says where it reads (`where`) and what (`read`)."""

    thread_name = "gcp"

    def __init__(self, spec: SourceSpec, options: OptionsT) -> None:
        self.spec = spec
        self.options = options  # parsed in the constructor: usage errors before any source runs
        self.calls: dict[str, int] = {}

    def where(self) -> str:
        """How problem lines and failures name what was read (`gcs:PROJECT`)."""
        raise NotImplementedError

    def read(
        self,
        progress: Progress,
        calls: Calls,
        pool: ThreadPoolExecutor,
        fan_out: FanOut,
    ) -> tuple[list[Resource], list[str]]:
        """The resources, and problem lines besides `calls.problems()` (which the caller
        adds unless `keep_problem` refuses them)."""
        raise NotImplementedError

    def keep_problem(self, line: str) -> bool:
        """Whether a line of `calls.problems()` is reported (all are, unless overridden)."""
        return True

    def rest(self, calls: Calls) -> Rest:
        """The REST reader for the APIs without a client library, on ADC."""
        return Rest(authorized_session(default_credentials(calls.where)), calls)

    def collect(self, progress: Progress) -> Collection:
        opts = self.options
        calls = Calls(self.where(), max_attempts=opts.max_attempts)
        try:
            with ThreadPoolExecutor(
                max_workers=opts.workers, thread_name_prefix=self.thread_name
            ) as pool:

                def fan_out(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
                    return shared_map(pool, opts.workers, fn, items)

                resources, problems = self.read(progress, calls, pool, fan_out)
        except GcpSourceFailure as exc:
            raise SourceError(f"source {self.spec.text!r}: {exc}") from exc
        problems.extend(line for line in calls.problems() if self.keep_problem(line))
        self.calls = dict(calls.calls)
        return Collection(
            resources=tuple(sorted(resources, key=lambda r: (r.type, r.id))),
            problems=tuple(dict.fromkeys(problems)),
        )
