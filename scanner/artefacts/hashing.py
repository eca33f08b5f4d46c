"""Content hashes of model files, streamed, many files at a time.

Model weights run to many gigabytes, so a file is never read into memory whole: hashlib digests it
in fixed-size chunks (and releases the GIL while doing so, which is why a small thread pool gives
real parallelism on fast disks and hides latency on network file systems).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# O_NONBLOCK: if a regular file is swapped for a FIFO between the directory walk and the open,
# opening it must not hang the scan waiting for a writer. It has no effect on regular files.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class NotRegularFileError(OSError):
    """The path is (now) a FIFO, socket, device or directory: it is never read."""


def default_workers() -> int:
    """Small on purpose: hashing is disk-bound, and a scan should not saturate a shared host."""
    return min(4, os.cpu_count() or 1)


def open_regular(path: str | os.PathLike[str]) -> io.BufferedReader:
    """Open for reading only if, once open, the descriptor is a regular file.

    Checking after the open (fstat on the descriptor) closes the window in which a checked path
    could be replaced by something else; the walk's own stat is only a first filter.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(0, "not a regular file", os.fspath(path))
        return io.open(fd, "rb")  # noqa: UP020 - os.fdopen is typed too loosely for file_digest
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content, read in chunks."""
    with open_regular(path) as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def bounded_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    *,
    cost: Callable[[T], int] | None = None,
    batch_cost: int = 1,
) -> Iterator[tuple[T, R | Exception]]:
    """Yield `(item, fn(item) or the exception it raised)` as calls finish, in completion order.

    Items go to the pool in batches whose `cost` (default 1 per item) adds up to `batch_cost`:
    handing every small file to a thread on its own costs more in cross-thread wake-ups than
    reading it, while a large file is worth a task of its own. At most `2 * workers` batches are
    queued, so a tree of a million files does not become a million pending futures. Results
    come back on the caller's thread, which can report progress without locking. Callers that
    need a stable order sort the results.
    """
    workers = max(1, workers)
    batches = _batches(items, cost or (lambda _item: 1), batch_cost)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modelward-io") as pool:
        pending: set[Future[list[tuple[T, R | Exception]]]] = set()

        def fill() -> None:
            for batch in batches:
                pending.add(pool.submit(_run_batch, fn, batch))
                if len(pending) >= 2 * workers:
                    return

        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                yield from future.result()
            fill()


def _batches(items: Iterable[T], cost: Callable[[T], int], batch_cost: int) -> Iterator[list[T]]:
    batch: list[T] = []
    total = 0
    for item in items:
        batch.append(item)
        total += cost(item)
        if total >= batch_cost:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _run_batch(fn: Callable[[T], R], batch: list[T]) -> list[tuple[T, R | Exception]]:
    out: list[tuple[T, R | Exception]] = []
    for item in batch:
        try:
            out.append((item, fn(item)))
        except Exception as e:  # handed back to the caller, which decides what is fatal
            out.append((item, e))
    return out


def hash_files(paths: Iterable[str], workers: int | None = None) -> dict[str, str | OSError]:
    """sha256 of many files concurrently; a file that cannot be read maps to its OSError.

    Anything other than an OSError is a bug, not a property of the file, and propagates.
    """
    out: dict[str, str | OSError] = {}
    for path, result in bounded_map(sha256_file, paths, workers or default_workers()):
        if isinstance(result, Exception) and not isinstance(result, OSError):
            raise result
        out[path] = result
    return out
