"""The scan's time limit, and what each source is waiting on, for the progress display.

A cloud API can stall: accept a request and never answer. The SDK's read timeout ends one
attempt; the scan's time limit (`--timeout`) ends the whole collection. Both must be visible
while they run, because a scan that sits silent for minutes looks hung and gets killed (and a
killed scan writes nothing). So each source gets a `CallWatch`:

- `watch.call("s3:GetBucketAcl bucket-a")` around every request: the scan's progress names
  the calls that have been in flight longest ("waiting 12 s on s3:GetBucketAcl bucket-a");
- `watch.deadline.passed()` before every request: once the time limit has passed, a source
  makes no new request and records the rest as Unknown (`FaultKind.DEADLINE`), so it returns
  what it read instead of being abandoned with nothing.

The scan hands a source its watch inside the `progress` callback (`SourceProgress`), so the
`Source.collect(progress)` signature stays the same for every provider; `watch_of(progress)`
gives a source its watch, or a watch without a limit when the caller passed a plain function
(tests, benchmarks).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Deadline:
    """A moment on the monotonic clock after which no new request is made; None: no limit."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at = None if seconds is None else clock() + seconds

    def remaining(self) -> float | None:
        return None if self._at is None else max(0.0, self._at - self._clock())

    def passed(self) -> bool:
        return self._at is not None and self._clock() >= self._at


class CallWatch:
    """The requests one source has in flight, and the deadline they must respect."""

    def __init__(self, deadline: Deadline | None = None) -> None:
        self.deadline = deadline or Deadline(None)
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._in_flight: dict[int, tuple[str, float]] = {}

    @contextmanager
    def call(self, what: str) -> Iterator[None]:
        key = next(self._ids)
        with self._lock:
            self._in_flight[key] = (what, time.monotonic())
        try:
            yield
        finally:
            with self._lock:
                del self._in_flight[key]

    def waiting(self, longer_than: float = 0.0) -> list[tuple[str, float]]:
        """(what, seconds) of the calls in flight for more than `longer_than`, longest first."""
        now = time.monotonic()
        with self._lock:
            items = list(self._in_flight.values())
        out = [(what, now - since) for what, since in items if now - since > longer_than]
        return sorted(out, key=lambda item: -item[1])


class SourceProgress:
    """The `progress` callback a scan hands a source: report a message, and carry the watch."""

    def __init__(self, report: Callable[[str], None], watch: CallWatch) -> None:
        self._report = report
        self.watch = watch

    def __call__(self, message: str) -> None:
        self._report(message)


def watch_of(progress: Callable[[str], None]) -> CallWatch:
    """The watch the scan handed in with `progress`, or one without a time limit."""
    return progress.watch if isinstance(progress, SourceProgress) else CallWatch()
