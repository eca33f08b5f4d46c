"""Fan-out on a source's one bounded thread pool, from tasks that already run on it.

A cloud source bounds its concurrent calls with one thread pool (the `workers` option), and
its collectors run as tasks on that pool. A collector that fans out (describe every endpoint,
list every group's tags) must use the same pool, or the bound is no bound: with a private pool
per fan-out, sixteen collectors of sixteen threads each make 256 concurrent calls.

Submitting to the pool a task is running on, and waiting, can deadlock: when every worker is a
task waiting for subtasks, the subtasks never start. `shared_map` cannot: the calling thread
works through the items too, helpers submitted to the pool only take items nobody has taken
yet, and a helper that has not started when the items run out is cancelled rather than waited
for. So a map always finishes on the caller's thread alone, and goes faster when the pool has
free workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def shared_map(
    pool: Executor | None, size: int, fn: Callable[[T], R], items: Sequence[T]
) -> list[R]:
    """`[fn(item) for item in items]`, run on `pool` (at most `size` threads of it) and on the
    caller's thread; in order. The first exception, in item order, is raised once every item
    that was started has finished. Without a pool, or for one item, it runs inline."""
    count = len(items)
    if pool is None or count <= 1 or size <= 1:
        return [fn(item) for item in items]
    results: list[tuple[bool, R | BaseException] | None] = [None] * count
    taken = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal taken
        while True:
            with lock:
                if taken == count:
                    return
                index = taken
                taken += 1
            try:
                results[index] = (True, fn(items[index]))
            except BaseException as exc:  # re-raised on the caller's thread, in item order
                results[index] = (False, exc)

    helpers = [pool.submit(work) for _ in range(min(size, count) - 1)]
    work()
    for helper in helpers:
        if not helper.cancel():  # running or done: it finishes the item it took
            helper.result()
    out: list[R] = []
    for result in results:
        assert result is not None  # every index was taken, and every taker has finished
        ok, value = result
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        out.append(value)  # type: ignore[arg-type]
    return out
