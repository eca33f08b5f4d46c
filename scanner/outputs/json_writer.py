"""`results.json`: the contract itself, byte-identical whether written by scan or by report
with the same formats (it lists the digests of the files written beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner import results


class JsonWriter:
    format = "json"
    filename = "results.json"

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        return {self.filename: results.dumps(document).encode("utf-8")}
