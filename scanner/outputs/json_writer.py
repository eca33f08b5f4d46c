"""`results.json`: the contract itself, byte-identical whether written by scan or by report
with the same formats (it lists the digests of the files written beside it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from scanner import results


class JsonWriter:
    format = "json"
    filename = "results.json"

    def render(self, document: Mapping[str, Any]) -> dict[str, Iterable[bytes]]:
        """The file as pieces written one after the other (`write_atomically` streams them):
        the largest output of a large scan is never held whole."""
        return {self.filename: _encoded(results.chunks(document))}


def _encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    for piece in pieces:
        yield piece.encode("utf-8")
