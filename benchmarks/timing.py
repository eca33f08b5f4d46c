"""The best of a few runs: what every benchmark measures a step with.

The minimum, not the mean: the machines these run on are shared, and other work only ever
adds time, so the fastest run is the closest to what the step itself costs. `clock` is
`time.perf_counter` (wall time) unless a benchmark wants CPU time (`time.process_time`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best(
    fn: Callable[[], T], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, T]:
    """The fastest of `repeat` runs of `fn` (seconds by `clock`), and the last run's result."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    fastest = float("inf")
    for _ in range(repeat):
        started = clock()
        out = fn()
        fastest = min(fastest, clock() - started)
    return fastest, out
