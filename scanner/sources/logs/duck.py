"""A DuckDB database for reading logs in bounded memory: what every log reader shares.

Both log sources (`logs:` for inference logs, `access-logs:` for storage access logs) read
months of logs that do not fit in memory. DuckDB reads JSON, CSV and text in a streaming,
columnar way and spills to disk past its memory limit, so the database lives in a file in a
private temporary directory (with its spill directory beside it), removed on close. A memory
limit the user sets (`memory_limit`) caps it; running out under the cap becomes a one-line
source error naming the cap, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from scanner.sources.interface import SourceError


class DuckWorkspace:
    """Owns a DuckDB connection and its temporary directory; use as a context manager."""

    def __init__(self, prefix: str, memory_limit: str | None, threads: int | None) -> None:
        self.memory_limit = memory_limit
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.con = duckdb.connect(os.path.join(self.tmp, "logs.duckdb"))
        settings = {"TimeZone": "UTC", "temp_directory": os.path.join(self.tmp, "spill")}
        if memory_limit:
            settings["memory_limit"] = memory_limit
        if threads:
            settings["threads"] = str(threads)
        for key, value in settings.items():
            self.con.execute(f"SET {key} = {sql_literal(value)}")
        # Every query that returns rows orders them itself; not preserving insertion order is
        # what lets DuckDB stream a large table under a memory cap instead of buffering it.
        self.con.execute("SET preserve_insertion_order = false")

    def __enter__(self) -> DuckWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @contextmanager
    def errors(self, label: str) -> Iterator[None]:
        """DuckDB failures as one-line source errors: `LABEL: out of memory ...; raise
        memory_limit` or `LABEL: cannot read the logs: ...`."""
        try:
            yield
        except duckdb.OutOfMemoryException as exc:
            raise SourceError(
                f"{label}: out of memory reading the logs "
                f"(memory_limit {self.memory_limit or 'default'}): {first_line(exc)}; "
                f"raise memory_limit"
            ) from None
        except duckdb.Error as exc:
            raise SourceError(f"{label}: cannot read the logs: {first_line(exc)}") from None


def sql_literal(text: str) -> str:
    """A SQL string literal. Paths, names and field paths come from users and from the logs
    themselves: they are quoted, never interpolated."""
    return "'" + text.replace("'", "''") + "'"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
