"""What a writer is, and the one way outputs reach the disk: all rendered, then renamed in.

A writer turns the results document into named files in memory. Nothing touches the output
directory until every format has rendered, and each file is written to a temporary name and
renamed, so a failed run never leaves a partial file behind.

Renames are atomic one file at a time, not as a set: a run killed between two renames leaves
some new files beside some old ones. So the set has an index, renamed last: results.json
lists the digest of every other file it was written with (`scan.outputs`, filled by
`commands.documents.render`). Until the index is in place the old results.json still
describes the old set; once it is, a file that does not match its digest is from another run
(`mismatched_outputs`). Temporary files carry the writing process's id, and a later run
removes those whose process is gone (a killed run cannot clean up after itself).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
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


# `.NAME.PID.RANDOM.tmp`, and the `.NAME.RANDOM.tmp` of versions that did not record the pid.
_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{6,}\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temporaries(out_dir: Path, names: Iterable[str]) -> list[Path]:
    """Temporary files an earlier, killed run left for `names` (or, when the file records its
    writer, for any name): removed when the process that wrote them is gone."""
    wanted = set(names)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(out_dir))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = match.group("pid")
        if pid is None and match.group("name") not in wanted:
            continue  # not ours to judge: no writer recorded and not a name we write
        if pid is not None and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def write_atomically(
    out_dir: Path, files: Mapping[str, bytes | Iterable[bytes]], last: str | None = None
) -> list[Path]:
    """Write every file under a temporary name first, then rename them all into place, `last`
    (the set's index) after every other one. A file given as pieces is written piece by piece
    (results.json of a large scan is never held whole)."""
    remove_stale_temporaries(out_dir, files)
    staged: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()  # mkstemp makes 0600; outputs get the mode any new file would
    order = sorted(files, key=lambda name: name == last)  # stable: `last` moves to the end
    try:
        for name in order:
            content = files[name]
            fd, tmp_name = tempfile.mkstemp(
                dir=out_dir, prefix=f".{name}.{os.getpid()}.", suffix=".tmp"
            )
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
        _sync_directory(out_dir)
        return written
    except OSError as exc:
        for _, tmp in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise OutputError(f"cannot write to '{out_dir}': {exc.strerror or exc}") from None


def _sync_directory(path: Path) -> None:
    """The renames themselves reach the disk (a file system may otherwise reorder them)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def output_digests(files: Mapping[str, bytes]) -> list[dict[str, str]]:
    """`scan.outputs`: each file's name and SHA-256, sorted by name."""
    return [
        {"file": name, "sha256": hashlib.sha256(content).hexdigest()}
        for name, content in sorted(files.items())
    ]


def mismatched_outputs(out_dir: Path, index: str = "results.json") -> list[str]:
    """The files the index lists whose content is not what it was written with (missing or
    changed): empty when the directory holds one consistent output set."""
    with open(out_dir / index, "rb") as fh:
        listed = json.load(fh).get("scan", {}).get("outputs", [])
    bad = []
    for entry in listed:
        try:
            with open(out_dir / entry["file"], "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            bad.append(f"{entry['file']}: missing")
            continue
        if digest != entry["sha256"]:
            bad.append(f"{entry['file']}: written by another run")
    return bad
