"""`KEY=VALUE` options of the Google Cloud specs (`gcs:project=ID,buckets=a+b`), config merged.

The same keys may come from config (`{spec: "gcs:project=p", options: {...}}`); a key given in
both places is a usage error rather than a silent precedence rule. Lists use `+` in the spec
(a comma separates options) and YAML lists in config. Imports no Google library, so checking
a config loads none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec

# Project ids: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter
# (domain-scoped ids, `example.com:proj`, keep their prefix).
PROJECT_ID = re.compile(r"^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def merged_options(spec: SourceSpec, allowed: frozenset[str], example: str) -> dict[str, Any]:
    """The spec's `KEY=VALUE` pairs and the config's options as one mapping, checked."""
    from_target: dict[str, str] = {}
    target = spec.target.strip()
    for part in target.split(",") if target else ():
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"source {spec.text!r}: expected KEY=VALUE options separated by commas "
                f"(e.g. {example}), got {part.strip()!r}"
            )
        if key in from_target:
            raise UsageError(f"source {spec.text!r}: option {key!r} is given twice")
        from_target[key] = value.strip()
    config: Mapping[str, Any] = spec.options
    both = sorted(set(from_target) & set(config))
    if both:
        raise UsageError(
            f"source {spec.text!r}: option {both[0]!r} is given both in the spec and in config"
        )
    merged: dict[str, Any] = {**config, **from_target}
    unknown = sorted(set(merged) - allowed)
    if unknown:
        raise UsageError(
            f"source {spec.text!r}: unknown option {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    return merged


def project_id(spec: SourceSpec, merged: Mapping[str, Any], example: str) -> str:
    value = merged.get("project")
    if value is None:
        raise UsageError(f"source {spec.text!r}: project=ID is required (e.g. {example})")
    project = text(spec, "project", value)
    if not PROJECT_ID.match(project):
        raise UsageError(
            f"source {spec.text!r}: {project!r} is not a Google Cloud project id "
            "(6-30 lower-case letters, digits and hyphens, starting with a letter)"
        )
    return project


def text(spec: SourceSpec, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"source {spec.text!r}: {key} must be a non-empty string")
    return value.strip()


def text_list(spec: SourceSpec, key: str, value: Any) -> tuple[str, ...]:
    items = value.split("+") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"source {spec.text!r}: {key} must be a list of strings, got {value!r}")
    cleaned = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
    if not cleaned:
        raise UsageError(f"source {spec.text!r}: {key} is empty")
    return cleaned


def positive(spec: SourceSpec, key: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"source {spec.text!r}: {key} must be a positive integer, got {value!r}")
    return value
