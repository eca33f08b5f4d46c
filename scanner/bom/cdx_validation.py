"""Validating a CycloneDX 1.6 document with the schema cyclonedx-python-lib bundles.

The library's `JsonStrictValidator` is exactly right and, on a large estate, far too slow; the
validator here is the same schema with the same offline registry, with two keyword checks
replaced by equivalent fast ones (see `check`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from jsonschema import ValidationError, validators

from scanner.bom.values import format_checker


@cache
def check() -> Callable[[dict[str, Any]], str | None]:
    """The library's bundled strict 1.6 schema with its offline registry, exactly as
    `JsonStrictValidator` builds it, with two keyword implementations swapped for equivalent
    fast ones: the IRI formats (`scanner.bom.iri` says why) and `uniqueItems`, which jsonschema
    checks by comparing every pair of objects (minutes for the component list of a large
    estate). Should the library's internals move, its own validator is used as it is."""
    strict = JsonStrictValidator(SchemaVersion.V1_6)
    inner = getattr(strict, "_validator", None)
    registry = getattr(inner, "_registry", None)
    if inner is None or registry is None:  # pragma: no cover - a future library version

        def slow(document: dict[str, Any]) -> str | None:
            error = strict.validate_str(json.dumps(document))
            return None if error is None else str(error)

        return slow
    # types-jsonschema leaves `extend` unannotated
    fast_class = validators.extend(type(inner), {"uniqueItems": unique_items})  # type: ignore[no-untyped-call]
    fast = fast_class(inner.schema, registry=registry, format_checker=format_checker())

    def check(document: dict[str, Any]) -> str | None:
        error = next(iter(fast.iter_errors(document)), None)
        if error is None:
            return None
        return f"{'/'.join(map(str, error.absolute_path))}: {error.message}"

    return check


def unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterable[Any]:
    """`uniqueItems` by hashing a canonical form of each item: JSON Schema equality (1 equals
    1.0, true does not equal 1, key order does not matter) in linear time."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        key = json.dumps(_canonical(item), sort_keys=True)
        if key in seen:
            yield ValidationError(f"non-unique elements: {key[:200]}")
            return
        seen.add(key)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value
