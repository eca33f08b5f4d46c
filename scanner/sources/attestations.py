"""The `attestations:FILE` source: evidence a person vouches for, as `attestation` resources.

Some controls (a reviewed threat model, a red-team exercise, an external audit) cannot be read
from any API; a person attests to them in a YAML file and the MW-GOV-* policies judge the
attestations like any other resource. Because an attestation can turn a control green, the file
is all-or-nothing: any syntax, schema or semantic problem rejects the whole file with
``FILE:LINE:COL`` (exit 2) rather than using the entries that happened to be valid.
See docs/sources/attestations.md for the format.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from scanner.errors import InputFileError
from scanner.inventory import Resource
from scanner.redact import redact_uri
from scanner.schemas import check
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec
from scanner.yamlpos import (
    JsonPath,
    LoadedYaml,
    dates_to_text,
    display_path,
    load_yaml_text,
    read_text,
)

WHAT = "attestations file"
SCHEMA = "attestations.schema.json"

# Query parameters that carry credentials in pre-signed / SAS / token links to evidence documents.

When = dt.date | dt.datetime


class AttestationsSource:
    """Reads one attestations file; `spec.target` is its path."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec

    def collect(self, progress: Progress) -> Collection:
        progress(f"attestations: reading {self.spec.target}")
        loaded = _load(Path(self.spec.target).expanduser())
        if loaded.data is None:
            # An empty (or comments-only) file attests to nothing. That is safe to accept: every
            # MW-GOV policy then fails for missing evidence, so nothing passes by omission.
            progress(f"attestations: {loaded.path} is empty, no attestations")
            return Collection(resources=())
        check(loaded, SCHEMA, WHAT)
        data = loaded.data
        prefix: JsonPath = () if isinstance(data, list) else ("attestations",)
        entries = data if isinstance(data, list) else data["attestations"]
        first_line: dict[str, int] = {}
        resources = []
        for index, entry in enumerate(entries):
            resource = self._resource(loaded, entry, (*prefix, index))
            line = resource.attributes["line"]
            if resource.id in first_line:
                where = (*prefix, index, "id") if "id" in entry else (*prefix, index)
                raise InputFileError(
                    loaded.error_line(
                        where,
                        f"duplicate attestation {resource.id!r} (first at line "
                        f"{first_line[resource.id]}); give each entry a distinct 'id'",
                    )
                )
            first_line[resource.id] = line
            resources.append(resource)
        progress(f"attestations: {len(resources)} from {loaded.path}")
        return Collection(resources=tuple(sorted(resources, key=lambda r: r.id)))

    def _resource(self, loaded: LoadedYaml, entry: dict[str, Any], where: JsonPath) -> Resource:
        kind: str = entry["kind"]
        date = _when(loaded, entry, where, "date")
        expires = _when(loaded, entry, where, "expires") if "expires" in entry else None
        if expires is not None and _before(expires, date):
            raise InputFileError(
                loaded.error_line(
                    (*where, "expires"),
                    f"expires {_iso(expires)} is before date {_iso(date)}",
                )
            )
        day = _iso(date)[:10]
        attributes: dict[str, Any] = {
            "kind": kind,
            "statement": entry["statement"],
            "evidence_uri": redact_uri(entry["evidence_uri"]),
            "owner": entry["owner"],
            "date": _iso(date),
            "covers": list(entry.get("covers", [])),
            "controls": list(entry.get("controls", [])),
        }
        if expires is not None:
            attributes["expires"] = _iso(expires)
        for optional in ("approved_by", "notes"):
            if optional in entry:
                attributes[optional] = entry[optional]
        # Absolute, so that the same scan run from another directory gives the same results.
        attributes["file"] = str(Path(self.spec.target).expanduser().resolve())
        attributes["line"] = loaded.where(where).line
        raw = {k: list(v) if isinstance(v, list) else v for k, v in entry.items()}
        raw["evidence_uri"] = attributes["evidence_uri"]
        return Resource(
            id=f"attestation:{kind}:{entry.get('id', day)}",
            type="attestation",
            name=entry.get("id", f"{kind} {day}"),
            source=self.spec.name,
            attributes=attributes,
            raw=raw,
        )


def _load(path: Path) -> LoadedYaml:
    """Parse the file; dates become ISO strings so the schema sees only JSON types.

    Not being able to reach the file at all is a source failure (exit 3), like an unreachable
    registry; anything wrong with what is inside is an input error (exit 2).
    """
    shown = display_path(path)
    if not path.exists():
        raise SourceError(f"{shown}: {WHAT} not found")
    if path.is_dir():
        raise SourceError(f"{shown}: {WHAT} is a directory, expected a YAML file")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{shown}: {WHAT} is not readable (permission denied)")
    text = read_text(path, what=WHAT)
    loaded = load_yaml_text(text, shown)
    return LoadedYaml(path=loaded.path, data=dates_to_text(loaded.data), positions=loaded.positions)


def _when(loaded: LoadedYaml, entry: dict[str, Any], where: JsonPath, key: str) -> When:
    """Parse a date / date-time the schema already shaped; the calendar check happens here."""
    text: str = entry[key]
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        value = dt.datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise InputFileError(
            loaded.error_line((*where, key), f"{key}: {text!r} is not a valid date ({exc})")
        ) from None
    # A time without an offset is taken as UTC, as everywhere else in results.
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _before(a: When, b: When) -> bool:
    """Is `a` strictly before `b`? With a bare date on either side, compare calendar days."""
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a < b
    day_a = a.date() if isinstance(a, dt.datetime) else a
    day_b = b.date() if isinstance(b, dt.datetime) else b
    return day_a < day_b


def _iso(value: When) -> str:
    return value.isoformat().replace("+00:00", "Z")
