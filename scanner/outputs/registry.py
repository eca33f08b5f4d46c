"""Output format names → writers, and the format list a user gives, checked against them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.errors import UsageError
from scanner.outputs.csv_writer import CsvWriter
from scanner.outputs.cyclonedx_writer import CycloneDxWriter
from scanner.outputs.html_writer import HtmlWriter
from scanner.outputs.interface import Writer
from scanner.outputs.json_writer import JsonWriter
from scanner.outputs.junit_writer import JunitWriter
from scanner.outputs.md_writer import MarkdownWriter
from scanner.outputs.sarif_writer import SarifWriter
from scanner.outputs.spdx_writer import SpdxWriter

WRITERS: dict[str, type] = {
    "json": JsonWriter,
    "html": HtmlWriter,
    "md": MarkdownWriter,
    "csv": CsvWriter,
    "sarif": SarifWriter,
    "junit": JunitWriter,
    "cyclonedx": CycloneDxWriter,
    "spdx": SpdxWriter,
}


def parse_formats(text: str | Iterable[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = list(dict.fromkeys(i.strip().lower() for i in items if i.strip()))
    if not formats:
        raise UsageError("no output format given (available: " + ", ".join(WRITERS) + ")")
    for fmt in formats:
        if fmt not in WRITERS:
            raise UsageError(f"unknown output format '{fmt}' (available: {', '.join(WRITERS)})")
    return formats


def writers_for(
    formats: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Writer]:
    """Writers for the formats; `options` holds keyword arguments for the writers that take
    some (`{"cyclonedx": {"with_findings": True}}`); the others are built without any."""
    options = options or {}
    return [WRITERS[f](**options.get(f, {})) for f in formats]
