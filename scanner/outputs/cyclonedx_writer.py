"""`bom.cdx.json`: the inventory as a CycloneDX 1.6 ML-BOM (see docs/ai-bom.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.bom import cyclonedx
from scanner.bom.estate import read_estate


class CycloneDxWriter:
    format = "cyclonedx"
    filename = "bom.cdx.json"

    def __init__(self, with_findings: bool = False) -> None:
        # Failing findings about the models as CycloneDX `vulnerabilities` (opt-in: a BOM is
        # often shared further than a compliance report).
        self.with_findings = with_findings

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        estate = read_estate(document)
        return {self.filename: cyclonedx.render(estate, with_findings=self.with_findings)}
