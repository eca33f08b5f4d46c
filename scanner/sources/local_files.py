"""The files a local source target names: one file, the files below a directory, or a glob.

The log sources (`logs:`, `access-logs:`) take their target the same way and refuse the same
things before anything is read, each in one line naming the target: nothing there, a pattern
or directory with no file in it, more files than the source will read, a file the scanner may
not read. Only which files of a directory count, and how many may be read, differ.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

from scanner.sources.interface import SourceError


def discover(
    label: str,
    target: str,
    *,
    counts: Callable[[Path], bool],
    none_in_directory: str,
    max_files: int,
    limit: str,
) -> list[str]:
    """The readable regular files `target` names, sorted. `label` starts every error;
    `counts` says which files below a directory are the source's, by their path relative to
    it (`none_in_directory` is the error when none is); more than `max_files` is refused,
    `limit` naming that bound."""
    expanded = os.path.expanduser(target)
    if any(c in expanded for c in "*?["):
        found = sorted(p for p in glob.glob(expanded, recursive=True) if os.path.isfile(p))
        if not found:
            raise SourceError(f"{label}: the pattern matches no file")
    else:
        path = Path(expanded)
        if not path.exists():
            raise SourceError(f"{label}: no such file or directory")
        if path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.is_file() and counts(p.relative_to(path))
            )
            if not found:
                raise SourceError(f"{label}: {none_in_directory}")
        elif path.is_file():
            found = [str(path)]
        else:
            raise SourceError(f"{label}: not a regular file or directory")
    if len(found) > max_files:
        raise SourceError(f"{label}: {len(found)} files, more than {limit}")
    for file in found:
        if not os.access(file, os.R_OK):
            raise SourceError(f"{label}: {file}: not readable (permission denied)")
    return found
