"""A results document on its way out: checked against its contract, rendered in every format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner import results
from scanner.outputs.interface import output_digests, write_atomically
from scanner.outputs.json_writer import JsonWriter
from scanner.outputs.registry import writers_for


def check_contract(document: dict[str, Any]) -> None:
    """Never write results that break the published contract: that is a bug, caught here."""
    problems = results.problems(document)
    if problems:
        raise RuntimeError(f"results do not match the schema: {problems[0]}")


def render(
    formats: Sequence[str],
    document: dict[str, Any],
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, bytes | Iterable[bytes]]:
    """Every format rendered: file name → bytes, or pieces to write in turn (results.json of a
    large scan is never held whole; `write_atomically` streams them). results.json, when it is
    among them, is rendered last with the digests of the others (`scan.outputs`): it is the
    index that tells a consistent output set from a mixed one, so `write_all` renames it last."""
    others: dict[str, bytes | Iterable[bytes]] = {}
    index: JsonWriter | None = None
    for writer in writers_for(formats, options):
        if isinstance(writer, JsonWriter):
            index = writer
            continue
        others.update(writer.render(document))
    # Only results.json is written in pieces: the others are digested (and held) whole.
    held = whole(others)
    files: dict[str, bytes | Iterable[bytes]] = dict(held)
    if index is not None:
        digests = output_digests(held)
        indexed = {**document, "scan": {**document["scan"], "outputs": digests}}
        files.update(index.render(indexed))
    return files


def write_all(out_dir: Path, files: Mapping[str, bytes | Iterable[bytes]]) -> list[Path]:
    """An output set written atomically, its index (results.json) renamed into place last."""
    return write_atomically(out_dir, files, last=JsonWriter.filename)


def whole(files: Mapping[str, bytes | Iterable[bytes]]) -> dict[str, bytes]:
    """Every file's content joined into bytes: for what must hash or archive the same bytes it
    writes (an evidence pack), at the cost of holding them."""
    return {
        name: content if isinstance(content, bytes) else b"".join(content)
        for name, content in files.items()
    }


def render_all(
    out_dir: Path,
    formats: Sequence[str],
    document: dict[str, Any],
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Path]:
    """Every format rendered in memory first, then written atomically (`render`, `write_all`)."""
    return write_all(out_dir, render(formats, document, options))


def render_one(
    fmt: str, document: dict[str, Any], options: Mapping[str, Mapping[str, Any]] | None = None
) -> Iterable[bytes]:
    """One format's single file, for standard output (every writer writes one file), in the
    pieces to write in turn (results.json is streamed, as to a file)."""
    (writer,) = writers_for([fmt], options)
    (content,) = writer.render(document).values()
    return (content,) if isinstance(content, bytes) else content


def bom_options(with_findings: bool) -> dict[str, dict[str, Any]]:
    """Writer options for `render_all`: whether the CycloneDX BOM lists failing findings."""
    return {"cyclonedx": {"with_findings": with_findings}}
