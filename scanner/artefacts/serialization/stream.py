"""Every pickle in a stream, as successive `pickle.load` calls on one open file would read them.

`pickle.load(f)` reads one pickle and leaves the file just after it; a second call reads the
next one, and PyTorch's legacy format is five pickles in a row. A scan that stops at the first
STOP misses a payload placed second, so the walk continues to the end of the data: every
pickle is walked, and bytes after the last one that are not a pickle are an error entry.

Where a FRAME runs past its pickle's STOP, file readers disagree on where the next pickle
starts: an unbuffered or large-frame read resumes at the frame's end, a buffered one right
after STOP. The main walk follows the frame's end; when the data is in memory the other
continuation is walked too, for its globals (the frame itself is already flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.artefacts.serialization.pickle_walk import WalkResult, walk
from scanner.artefacts.serialization.readers import MemoryReader, Reader

MAX_PICKLES = 1000  # per stream; more is not a model file


@dataclass(frozen=True)
class Walked:
    start: int  # byte offset of the pickle in the stream
    result: WalkResult


def walk_stream(reader: Reader, count: int | None = None, branch: bool = True) -> list[Walked]:
    """The pickles from the reader's position to its end (or the first `count` of them).

    Stops at the first walk that breaks (its error says why): what follows a malformed pickle
    cannot be located.
    """
    out: list[Walked] = []
    while count is None or len(out) < count:
        start = reader.tell()
        if reader.at_eof():
            break
        if len(out) >= MAX_PICKLES:
            out.append(Walked(start, WalkResult(error=f"over {MAX_PICKLES} pickles: not scanned")))
            break
        result = walk(reader)
        out.append(Walked(start, result))
        if result.error is not None:
            break
        if result.resume_at is not None:
            if branch and isinstance(reader, MemoryReader):
                out.extend(_other_continuation(reader, result))
            here = reader.tell()
            if reader.skip(result.resume_at - here) != result.resume_at - here:
                break  # the frame ran past the end; the frame flag already says so
    return out


def _other_continuation(reader: MemoryReader, result: WalkResult) -> list[Walked]:
    """The pickles a buffered file reader would load after STOP, for their globals only."""
    assert result.end is not None
    here = reader.tell()
    reader.seek(result.end)
    side = walk_stream(reader, branch=False)
    reader.seek(here)
    return [Walked(w.start, WalkResult(flags=w.result.flags)) for w in side]
