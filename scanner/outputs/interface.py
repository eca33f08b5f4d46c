"""What a writer is, and the one way outputs reach the disk: all rendered, then renamed in.

A writer turns the results document into named files in memory. Nothing touches the output
directory until every format has rendered, and each file is written to a temporary name and
renamed, so a failed run never leaves a partial or stale-mixed results.json behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from scanner.errors import EXIT_USAGE, ModelwardError


class OutputError(ModelwardError):
    """An output cannot be produced or written (exit 2: the run's inputs or settings are wrong)."""

    exit_code = EXIT_USAGE


class Writer(Protocol):
    format: str

    def render(self, document: Mapping[str, Any]) -> Mapping[str, bytes | Iterable[bytes]]:
        """File name → content, whole or as pieces to write in turn (a large results.json).
        Pure: no I/O."""
        ...


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the directory and prove it is writable before any scanning starts."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".modelward-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"cannot write output directory '{out}': {reason}") from None
    return out


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_atomically(out_dir: Path, files: Mapping[str, bytes | Iterable[bytes]]) -> list[Path]:
    """Write every file under a temporary name first, then rename them all into place."""
    staged: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()  # mkstemp makes 0600; outputs get the mode any new file would
    try:
        for name, content in files.items():
            fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                if isinstance(content, bytes):
                    fh.write(content)
                else:
                    for piece in content:
                        fh.write(piece)
                fh.flush()
                os.fsync(fh.fileno())
            staged.append((name, Path(tmp_name)))
        written = []
        for name, tmp in staged:
            target = out_dir / name
            os.replace(tmp, target)
            written.append(target)
        return written
    except OSError as exc:
        for _, tmp in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise OutputError(f"cannot write to '{out_dir}': {exc.strerror or exc}") from None
