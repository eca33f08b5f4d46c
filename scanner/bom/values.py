"""Reading values out of results.json: markers, known strings, URIs fit for a BOM.

Attributes in results are plain JSON with two markers: `{"$ref": id}` for a reference and
`{"$unknown": reason}` for a value a source could not read. A BOM states only what is known,
so every reader here answers `None` for a marker, a missing value or a value of the wrong
type, and never substitutes a default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

from scanner.bom.iri import is_iri

# A dataset `source` may be a JSON object as MLflow records it ({"uri": ...}); anything longer
# than this is not parsed (it is still kept as text).
MAX_SOURCE_JSON = 64 * 1024
_HEX = re.compile(r"[0-9a-f]+")


def is_unknown(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"$unknown"}


def ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and set(value) == {"$ref"} and isinstance(value["$ref"], str):
        return value["$ref"]
    return None


def text(value: Any) -> str | None:
    """A non-empty string, or None (absent, unknown, empty, or not a string)."""
    return value if isinstance(value, str) and value.strip() else None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) and not is_unknown(value) else {}


def items(value: Any) -> list[Any] | None:
    """A list that was read (possibly empty), or None when absent or unknown."""
    return value if isinstance(value, list) else None


def hexdigest(value: Any, length: int) -> str | None:
    """A lower-case hex digest of the given length (a sha256 is 64), else None."""
    if isinstance(value, str) and len(value) == length:
        lowered = value.lower()
        if _HEX.fullmatch(lowered):
            return lowered
    return None


@cache
def format_checker() -> FormatChecker:
    """The format checker of the JSON Schema draft CycloneDX uses (draft 7), with the IRI
    formats checked by `scanner.bom.iri` (same verdicts, a thousand times faster)."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft7Validator.FORMAT_CHECKER.checkers)
    checker.checkers["iri"] = (is_iri, ())
    checker.checkers["iri-reference"] = (lambda v: is_iri(v, reference=True), ())
    return checker


def as_iri(value: Any) -> str | None:
    """An absolute IRI (RFC 3987), else None: a value a validator would refuse as a URL stays
    out of URL fields and is carried as text (a property) instead."""
    if not isinstance(value, str) or not value or len(value) > 8192:
        return None
    return value if is_iri(value) else None


def is_email(value: str) -> bool:
    return "@" in value and format_checker().conforms(value, "idn-email")


def source_location(source: str | None) -> str | None:
    """The URL inside a dataset source: the source itself when it is one, or the `uri`/`url`/
    `path` of a JSON source description (MLflow records `{"uri": "s3://..."}`)."""
    if source is None:
        return None
    direct = as_iri(source.strip())
    if direct is not None:
        return direct
    stripped = source.strip()
    if not stripped.startswith("{") or len(stripped) > MAX_SOURCE_JSON:
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(parsed, Mapping):
        for key in ("uri", "url", "path"):
            found = as_iri(parsed.get(key))
            if found is not None:
                return found
    return None


class UniqueRefs:
    """Identifiers derived from resource ids (`ID#file:PATH`, `dataset:NAME@DIGEST`) must not
    collide with one another or with an id a hostile source chose: the first claim of a name
    wins and later claims get a counter. Claims happen in a stable order, so the result is
    deterministic."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = set(taken)

    def claim(self, ref: str) -> str:
        candidate, n = ref, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{ref}#{n}"
        self._taken.add(candidate)
        return candidate
