"""What the user sees while a scan runs: a live display on a terminal, plain lines in CI.

Progress goes to stderr so that stdout stays clean for summaries and piping. Every string that
came from a scanned system is passed through `terminal.safe` before it reaches the terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from scanner.terminal import safe

if TYPE_CHECKING:  # rich loads only on a terminal; the type is for mypy
    from rich.progress import TaskID


class Reporter:
    """Silent reporter; the base of the others (and what `-q` uses)."""

    def source_started(self, name: str) -> None: ...

    def source_progress(self, name: str, message: str) -> None: ...

    def source_done(
        self, name: str, status: str, count: int, seconds: float, error: str | None
    ) -> None: ...

    def policies_started(self, total: int) -> None: ...

    def policy_done(self, policy_id: str) -> None: ...

    def waiting(self, name: str, what: str, seconds: float) -> None:
        """A source has been waiting `seconds` on one request (`what`: operation, subject)."""

    def note(self, message: str) -> None: ...

    def debug(self, message: str) -> None:
        """Detail for `-v` only (a traceback): without it, errors are one line."""

    def close(self) -> None: ...


class PlainReporter(Reporter):
    """One line per event: readable in CI logs, greppable, no control sequences."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.lock = threading.Lock()

    def _print(self, text: str) -> None:
        with self.lock:
            print(f"modelward: {text}", file=self.stream, flush=True)

    def source_started(self, name: str) -> None:
        self._print(f"collecting {safe(name)}")

    def source_progress(self, name: str, message: str) -> None:
        if self.verbose:
            self._print(f"  {safe(name)}: {safe(message)}")

    def source_done(
        self, name: str, status: str, count: int, seconds: float, error: str | None
    ) -> None:
        tail = f" — {safe(error)}" if error else ""
        self._print(f"{safe(name)}: {status}, {count} resource(s) in {seconds:.1f}s{tail}")

    def policies_started(self, total: int) -> None:
        self._print(f"evaluating {total} polic{'y' if total == 1 else 'ies'}")

    def waiting(self, name: str, what: str, seconds: float) -> None:
        self._print(f"{safe(name)}: waiting {seconds:.0f} s on {safe(what)}")

    def note(self, message: str) -> None:
        self._print(safe(message))

    def debug(self, message: str) -> None:
        if self.verbose:
            with self.lock:
                print(message, file=self.stream, flush=True)


class RichReporter(Reporter):
    """A live progress display for interactive terminals (sources, then policies)."""

    def __init__(self, verbose: bool = False) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
            transient=False,
        )
        self.verbose = verbose
        self.tasks: dict[str, TaskID] = {}
        self.policy_task: TaskID | None = None
        self.started = time.monotonic()
        self.progress.start()

    def source_started(self, name: str) -> None:
        self.tasks[name] = self.progress.add_task(f"collecting {safe(name)}", total=None)

    def source_progress(self, name: str, message: str) -> None:
        if name in self.tasks:
            self.progress.update(self.tasks[name], description=f"{safe(name)}: {safe(message)}")

    def source_done(
        self, name: str, status: str, count: int, seconds: float, error: str | None
    ) -> None:
        mark = "✓" if status == "ok" else "✗"
        tail = f" — {safe(error)}" if error else ""
        self.progress.update(
            self.tasks[name],
            total=1,
            completed=1,
            description=f"{mark} {safe(name)}: {count} resources{tail}",
        )

    def policies_started(self, total: int) -> None:
        self.policy_task = self.progress.add_task("evaluating policies", total=total)

    def policy_done(self, policy_id: str) -> None:
        if self.policy_task is not None:
            self.progress.advance(self.policy_task)

    def waiting(self, name: str, what: str, seconds: float) -> None:
        if name in self.tasks:
            self.progress.update(
                self.tasks[name],
                description=f"{safe(name)}: waiting {seconds:.0f} s on {safe(what)}",
            )

    def note(self, message: str) -> None:
        self.progress.console.print(safe(message), markup=False, highlight=False)

    def debug(self, message: str) -> None:
        if self.verbose:
            self.progress.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()


def make_reporter(quiet: bool, verbose: bool, stream: TextIO | None = None) -> Reporter:
    stream = stream or sys.stderr
    if quiet:
        return Reporter()
    if stream.isatty():
        return RichReporter(verbose)
    return PlainReporter(stream, verbose)
