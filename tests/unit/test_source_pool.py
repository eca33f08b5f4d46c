"""One bounded pool per source: fan-out from tasks already on it finishes, in order, on it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from scanner.sources.pool import shared_map


def _on_thread(fn, timeout: float = 10.0):
    """Run `fn` on a thread and fail (instead of hanging the suite) if it deadlocks."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "shared_map deadlocked"
    return out[0]


def test_results_come_back_in_item_order():
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert shared_map(pool, 4, lambda x: x * x, list(range(50))) == [x * x for x in range(50)]


def test_nested_maps_finish_when_every_worker_is_busy_waiting():
    # Two workers, each running a task that fans out twice more on the same pool: with a
    # map that only waits for its subtasks, all workers would wait on subtasks never started.
    with ThreadPoolExecutor(max_workers=2) as pool:

        def inner(x: int) -> int:
            time.sleep(0.001)
            return x + 1

        def middle(x: int) -> int:
            return sum(shared_map(pool, 2, inner, list(range(x, x + 5))))

        def outer(x: int) -> int:
            return sum(shared_map(pool, 2, middle, list(range(x, x + 4))))

        def run() -> list[int]:
            tasks = [pool.submit(outer, x) for x in range(6)]
            return [t.result() for t in tasks]

        expected = [sum(sum(range(m + 1, m + 6)) for m in range(x, x + 4)) for x in range(6)]
        assert _on_thread(run) == expected


def test_work_runs_on_the_pools_threads_and_the_callers_only():
    names: set[str] = set()

    def record(x: int) -> int:
        names.add(threading.current_thread().name)
        time.sleep(0.005)
        return x

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="src") as pool:
        assert pool.submit(shared_map, pool, 3, record, list(range(30))).result() == list(range(30))
    assert names and all(n.startswith("src_") for n in names)
    assert len(names) > 1  # the idle workers helped


def test_the_first_failure_in_item_order_is_raised_after_the_started_items_finish():
    finished: list[int] = []

    def fn(x: int) -> int:
        if x in (3, 7):
            raise ValueError(f"item {x}")
        time.sleep(0.001)
        finished.append(x)
        return x

    with ThreadPoolExecutor(max_workers=3) as pool, pytest.raises(ValueError, match="item 3"):
        shared_map(pool, 3, fn, list(range(10)))
    assert sorted(finished) == [0, 1, 2, 4, 5, 6, 8, 9]


def test_without_a_pool_it_runs_inline():
    caller = threading.current_thread().name
    seen: set[str] = set()
    assert shared_map(
        None, 8, lambda x: seen.add(threading.current_thread().name) or x, [1, 2]
    ) == [
        1,
        2,
    ]
    assert seen == {caller}
