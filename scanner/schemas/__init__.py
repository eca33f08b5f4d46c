"""JSON Schemas shipped in the package, and validation that reports `FILE:LINE:COL: message`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from scanner.errors import InputFileError
from scanner.yamlpos import LoadedYaml

MAX_ERRORS_SHOWN = 20


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema by file name in this folder (``results.schema.json``), or by a path relative to
    the ``scanner`` package when it has a slash (``policy/schema/policy.schema.json``)."""
    base = resources.files("scanner") if "/" in name else resources.files(__package__)
    text = base.joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def describe(error: jsonschema.ValidationError) -> str:
    """A human sentence for one schema violation, naming the offending key where there is one."""
    where = "/".join(str(p) for p in error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties":
        given = error.instance if isinstance(error.instance, Mapping) else {}
        extra = sorted(set(given) - set(schema.get("properties", {})))
        allowed = ", ".join(sorted(schema.get("properties", {})))
        return f"unknown key {', '.join(repr(e) for e in extra)} (allowed: {allowed})"
    if error.validator == "required":
        return f"{error.message}" + (f" (in {where})" if where else "")
    prefix = f"{where}: " if where else ""
    if error.validator == "pattern" and error.validator_value == "\\S":
        return f"{prefix}must not be blank"
    if error.validator == "minProperties" and error.validator_value == 1:
        keys = ", ".join(sorted(schema.get("properties", {})))
        return f"{prefix}must not be empty" + (f" (give one of: {keys})" if keys else "")
    if error.validator == "enum":
        choices = error.validator_value if isinstance(error.validator_value, list) else []
        allowed = ", ".join(map(repr, choices))
        return f"{prefix}{error.instance!r} is not one of {allowed}"
    return f"{prefix}{error.message}"


def violations(loaded: LoadedYaml, schema_name: str) -> list[tuple[tuple[str | int, ...], str]]:
    """Every violation as (JSON path, `FILE:LINE:COL: message`), in file order."""
    found = []
    for err in validator(schema_name).iter_errors(loaded.data):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            if extra:
                path = [*path, extra[0]]
        pos = loaded.where(path)
        # Unknown keys first: a typo'd key usually explains the "required" error next to it.
        rank = (err.validator != "additionalProperties", pos.line, pos.column)
        found.append((rank, tuple(path), loaded.error_line(path, describe(err))))
    return [(path, line) for _, path, line in sorted(found, key=lambda f: f[0])]


def error_lines(loaded: LoadedYaml, schema_name: str) -> list[str]:
    """Every violation of the schema in a loaded YAML document, one `FILE:LINE:COL:` line each."""
    return [line for _, line in violations(loaded, schema_name)]


def check(loaded: LoadedYaml, schema_name: str, what: str) -> None:
    """Raise `InputFileError` listing every violation (first one in the summary line)."""
    lines = error_lines(loaded, schema_name)
    if lines:
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        raise InputFileError(
            f"{lines[0]}{more}",
            details=lines[:MAX_ERRORS_SHOWN],
        )
