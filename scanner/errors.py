"""One error type per layer, each carrying the exit code the CLI turns it into.

The CLI never decides an exit code from a message: the layer that knows what went wrong
(usage, configuration, policy, source, output) says so through the type it raises.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_SOURCE = 3


def one_line(text: str) -> str:
    """Error lines quote user text (keys, ids, file names); a newline in it must not forge a
    second `FILE:LINE:COL:` line, and a terminal escape must not reach the terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


class ModelwardError(Exception):
    """Base of every error the CLI reports as one line and an exit code."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message
        # Further lines (e.g. every schema violation in a file); the first line stays the summary.
        self.details = [one_line(d) for d in details or []]


class UsageError(ModelwardError):
    """Bad command-line arguments."""


class NotImplementedYetError(ModelwardError):
    """A capability the design names but this version does not have yet: say so, never pretend."""


class InputFileError(ModelwardError):
    """A YAML/JSON file the user gave us is malformed or schema-invalid (lines in `details`)."""
