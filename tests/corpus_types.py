"""What a corpus sample is, shared by the generated corpora (tests/corpus.py, corpus_public.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    name: str  # file name (a relative path), its extension the technique's real-world one
    malicious: bool
    technique: str
    build: Callable[[Path], None]
    # benign, but the scan must fail closed on it (an encrypted archive, an unparsable file):
    # it gets an entry that names no global, never a pass
    fail_closed: bool = False


class Reduce:
    """Pickles as `func(*args)`: the shape of every pickle payload."""

    def __init__(self, func: Callable[..., object], *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


def write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)
