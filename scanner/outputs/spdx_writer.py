"""`bom.spdx.json`: the inventory as SPDX 3.0.1 JSON-LD with the AI and Dataset profiles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.bom import spdx
from scanner.bom.estate import read_estate


class SpdxWriter:
    format = "spdx"
    filename = "bom.spdx.json"

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        return {self.filename: spdx.render(read_estate(document))}
