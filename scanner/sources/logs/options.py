"""The options of the `logs:` source, checked before anything is read.

Every option has a default that the evaluation harness (`benchmarks/extraction/`) measured, so
`logs:./inference.jsonl` alone does something sensible; a value of the wrong type is a usage
error (exit 2) naming the source and the option, never a silent fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec

FORMATS = ("auto", "jsonl", "csv", "parquet", "sagemaker-capture", "apigateway")
# What a record can tell; `input` may also be a list of fields (one per feature).
ROLES = (
    "client",
    "timestamp",
    "endpoint",
    "input",
    "input_hash",
    "output",
    "org",
    "ip",
    "asn",
    "key_owner",
    "tier",
)
DETECTORS = ("volume", "org_volume", "ood", "near_duplicate", "boundary", "sybil")
# Defaults chosen with the evaluation harness (docs/sources/logs.md, "Evaluation").
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "volume": 2.0,  # x the population p99 (daily or 10-minute)
    "org_volume": 2.0,
    "ood": 0.3,  # lower confidence bound of the share of flagged queries
    "near_duplicate": 0.3,
    "boundary": 0.3,
}
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_FIELD = re.compile(r"^[^\x00-\x1f\"]+$")

OPTION_NAMES = frozenset(
    {
        "format",
        "fields",
        "endpoint",
        "endpoints",
        "endpoint_arn_prefix",
        "memory_limit",
        "threads",
        "max_malformed",
        "reference_days",
        "min_days",
        "limit_factor",
        "attack_queries",
        "thresholds",
        "confidence",
        "sybil",
        "max_queries_per_client",
    }
)


@dataclass(frozen=True)
class SybilOptions:
    new_after_days: float = 1.0  # an account first seen this long after the window start is new
    min_group: int = 3
    max_group: int = 50  # larger clusters are an ISP or a campus, not a Sybil group
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48


@dataclass(frozen=True)
class LogOptions:
    format: str = "auto"
    fields: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    endpoint: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)
    endpoint_arn_prefix: str | None = None
    memory_limit: str | None = None
    threads: int | None = None
    max_malformed: float = 0.01
    reference_days: float = 7.0
    min_days: int = 28
    limit_factor: float = 2.0
    attack_queries: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    confidence: float = 0.999
    sybil: SybilOptions = field(default_factory=SybilOptions)
    max_queries_per_client: int = 100_000


def parse_options(spec: SourceSpec) -> LogOptions:
    raw = dict(spec.options)
    where = f"source {spec.text!r}"
    unknown = sorted(set(raw) - OPTION_NAMES)
    if unknown:
        raise UsageError(
            f"{where}: unknown option {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(sorted(OPTION_NAMES))})"
        )

    def fail(name: str, expected: str) -> UsageError:
        return UsageError(f"{where}: option {name} must be {expected}, got {raw[name]!r}")

    out: dict[str, Any] = {}
    if "format" in raw:
        if raw["format"] not in FORMATS:
            raise fail("format", f"one of {', '.join(FORMATS)}")
        out["format"] = raw["format"]
    if "fields" in raw:
        out["fields"] = _fields(raw["fields"], fail)
    for name in ("endpoint", "endpoint_arn_prefix"):
        if name in raw:
            if not isinstance(raw[name], str) or not raw[name].strip():
                raise fail(name, "a non-empty string")
            out[name] = raw[name].strip()
    if "endpoints" in raw:
        value = raw["endpoints"]
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
        ):
            raise fail("endpoints", "a mapping of endpoint name to endpoint id (ARN)")
        out["endpoints"] = dict(value)
    if "memory_limit" in raw:
        if not isinstance(raw["memory_limit"], str) or not _SIZE.match(raw["memory_limit"]):
            raise fail("memory_limit", "a size such as '512MB' or '2GB'")
        out["memory_limit"] = raw["memory_limit"].replace(" ", "")
    for name, low in (("threads", 1), ("min_days", 1), ("max_queries_per_client", 100)):
        if name in raw:
            if not _is_int(raw[name]) or raw[name] < low:
                raise fail(name, f"an integer ≥ {low}")
            out[name] = raw[name]
    for name, low_f, high in (
        ("max_malformed", 0.0, 1.0),
        ("confidence", 0.5, 0.999999),
        ("reference_days", 0.01, 10_000.0),
        ("limit_factor", 1.0, 1000.0),
    ):
        if name in raw:
            if not _is_number(raw[name]) or not low_f <= raw[name] <= high:
                raise fail(name, f"a number between {low_f} and {high}")
            out[name] = float(raw[name])
    if "attack_queries" in raw:
        value = raw["attack_queries"]
        if not isinstance(value, list) or not value or not all(_is_int(v) and v > 0 for v in value):
            raise fail("attack_queries", "a list of positive integers")
        out["attack_queries"] = tuple(value)
    if "thresholds" in raw:
        value = raw["thresholds"]
        if not isinstance(value, Mapping) or not all(
            k in DEFAULT_THRESHOLDS and _is_number(v) and v > 0 for k, v in value.items()
        ):
            raise fail(
                "thresholds",
                f"a mapping of {', '.join(DEFAULT_THRESHOLDS)} to positive numbers",
            )
        out["thresholds"] = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in value.items()}}
    if "sybil" in raw:
        out["sybil"] = _sybil(raw["sybil"], fail)
    return LogOptions(**out)


def _fields(value: Any, fail: Any) -> dict[str, str | tuple[str, ...]]:
    expected = f"a mapping of {', '.join(ROLES)} to field names (input may be a list)"
    if not isinstance(value, Mapping):
        raise fail("fields", expected)
    out: dict[str, str | tuple[str, ...]] = {}
    for role, name in value.items():
        if role not in ROLES:
            raise fail("fields", expected)
        if role == "input" and isinstance(name, list) and name:
            if not all(isinstance(n, str) and _FIELD.match(n) for n in name):
                raise fail("fields", expected)
            out[role] = tuple(name)
        elif isinstance(name, str) and _FIELD.match(name):
            out[role] = name
        else:
            raise fail("fields", expected)
    return out


def _sybil(value: Any, fail: Any) -> SybilOptions:
    expected = "a mapping with new_after_days, min_group, max_group, ipv4_prefix, ipv6_prefix"
    if not isinstance(value, Mapping) or not set(value) <= set(SybilOptions.__annotations__):
        raise fail("sybil", expected)
    checks = {
        "new_after_days": lambda v: _is_number(v) and v >= 0,
        "min_group": lambda v: _is_int(v) and v >= 2,
        "max_group": lambda v: _is_int(v) and v >= 2,
        "ipv4_prefix": lambda v: _is_int(v) and 8 <= v <= 32,
        "ipv6_prefix": lambda v: _is_int(v) and 16 <= v <= 128,
    }
    if not all(checks[k](v) for k, v in value.items()):
        raise fail("sybil", expected)
    result = SybilOptions(**dict(value))
    if result.min_group > result.max_group:
        raise fail("sybil", "min_group ≤ max_group")
    return result


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
