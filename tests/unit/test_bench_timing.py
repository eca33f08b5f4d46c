"""`benchmarks.timing.best`: the fastest of the runs, by the clock it is given."""

from __future__ import annotations

import itertools

import pytest

from benchmarks.timing import best


def test_the_fastest_run_and_the_last_result() -> None:
    # Each run reads the clock twice: runs take 5, 2 and 7 ticks.
    ticks = iter([0.0, 5.0, 10.0, 12.0, 20.0, 27.0])
    counter = itertools.count(1)
    seconds, out = best(lambda: next(counter), 3, clock=lambda: next(ticks))
    assert (seconds, out) == (2.0, 3)


def test_at_least_one_run() -> None:
    with pytest.raises(ValueError, match="repeat must be at least 1, got 0"):
        best(lambda: None, 0)
    seconds, out = best(lambda: "x", 1)
    assert out == "x" and seconds >= 0
