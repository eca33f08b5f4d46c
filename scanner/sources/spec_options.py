"""`KEY=VALUE` options of a source spec (`gcs:project=ID,buckets=a+b`), merged with config.

Every cloud source takes its options the same two ways: in the spec, and under the source's
`options:` in config. A key given in both places is a usage error rather than a silent
precedence rule; lists use `+` in the spec (a comma separates options) and YAML lists in
config. The config's `integrity.trust` reaches the object-store sources as an option users
never write (`take_trust`). Each error names the spec as the user wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec


def key_values(
    spec: SourceSpec,
    target: str,
    example: str,
    form: str = "KEY=VALUE options separated by commas",
) -> dict[str, str]:
    """`target`'s comma-separated `KEY=VALUE` pairs (`form` and `example` show the expected
    shape in the error). A blank part, as a trailing comma leaves, says nothing and is passed
    over; a key given twice is refused rather than one value silently winning."""
    pairs: dict[str, str] = {}
    for part in target.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"source {spec.text!r}: expected {form} (e.g. {example}), got {part.strip()!r}"
            )
        if key in pairs:
            raise UsageError(f"source {spec.text!r}: option {key!r} is given twice")
        pairs[key] = value.strip()
    return pairs


def merged_options(spec: SourceSpec, allowed: frozenset[str], example: str) -> dict[str, Any]:
    """The spec's `KEY=VALUE` pairs and the config's options as one mapping, checked against
    `allowed` (`example` shows a well-formed spec in the error)."""
    return with_config(spec, key_values(spec, spec.target, example), allowed)


def with_config(
    spec: SourceSpec, from_target: Mapping[str, str], allowed: frozenset[str]
) -> dict[str, Any]:
    """Options the spec's target gave, merged with the config's and checked against `allowed`:
    a key in both places is a usage error rather than a silent precedence rule."""
    config: Mapping[str, Any] = spec.options
    both = sorted(set(from_target) & set(config))
    if both:
        raise UsageError(
            f"source {spec.text!r}: option {both[0]!r} is given both in the spec and in config"
        )
    merged: dict[str, Any] = {**config, **from_target}
    refuse_unknown(spec, merged, allowed)
    return merged


def refuse_unknown(spec: SourceSpec, given: Iterable[str], allowed: frozenset[str]) -> None:
    """A misspelt option is an error naming every option the source takes, never ignored."""
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise UsageError(
            f"source {spec.text!r}: unknown option {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def take_trust(spec: SourceSpec) -> tuple[SourceSpec, TrustPolicy]:
    """The spec without its `trust` option, and the trust the config loader handed over (a
    user-written `trust` option is refused: trust is configured once, under integrity)."""
    trust = spec.options.get("trust", TrustPolicy())
    if not isinstance(trust, TrustPolicy):
        raise UsageError(f"source {spec.text!r}: trust must come from the config's integrity.trust")
    return replace(spec, options={k: v for k, v in spec.options.items() if k != "trust"}), trust


def text(spec: SourceSpec, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"source {spec.text!r}: {key} must be a non-empty string")
    return value.strip()


def text_list(
    spec: SourceSpec, key: str, value: Any, *, allow_empty: bool = False
) -> tuple[str, ...]:
    """`a+b` in a spec or a YAML list in config; blanks dropped, repeats kept once. An empty
    list is refused unless `allow_empty` (where empty means "none", as `exclude: []`)."""
    items = value.split("+") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"source {spec.text!r}: {key} must be a list of strings, got {value!r}")
    cleaned = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
    if not cleaned and not allow_empty:
        raise UsageError(f"source {spec.text!r}: {key} is empty")
    return cleaned


def positive(spec: SourceSpec, key: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"source {spec.text!r}: {key} must be a positive integer, got {value!r}")
    return value


def flag(spec: SourceSpec, key: str, value: Any) -> bool:
    """A YAML boolean, or `true`/`false` as a spec writes it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UsageError(f"source {spec.text!r}: {key} must be true or false, got {value!r}")


def seconds(spec: SourceSpec, key: str, value: Any, most: float = 3600) -> float:
    """A timeout: more than 0 and at most `most` seconds (`2.5` or `"2.5"`)."""
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number <= most:  # NaN fails this too
        raise UsageError(
            f"source {spec.text!r}: {key} must be a number of seconds from 0 to {most:g}, "
            f"got {value!r}"
        )
    return number
