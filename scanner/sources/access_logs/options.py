"""The `access-logs:` target and options, checked before anything is read.

Three kinds of target:
- `access-logs:PATH`: a log file, a directory of log files (searched recursively) or a glob;
- `access-logs:s3://BUCKET/PREFIX`: the objects under a prefix, read with the AWS credential
  chain (`profile` option), read-only;
- `access-logs:athena:workgroup=W,table=DB.TABLE`: the aggregation runs as SQL in Athena over
  a CloudTrail table; the KEY=VALUE pairs after `athena:` are options like any other.

This module imports no client library (DuckDB, boto3): checking a config loads none of them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import key_values, with_config

FORMATS = ("auto", "cloudtrail", "s3-server-access")
DEFAULT_WINDOW_DAYS = 90
GIB = 1024**3
# Documented in docs/sources/access-logs.md ("Bulk reads"), like the extraction detectors'.
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    # A principal's model-file bytes in one day, against the median of its other active days.
    "own_factor": 10.0,
    # ... and against the p99 of every other principal's active days in the same logs.
    "population_factor": 2.0,
    # Below this a day is never bulk, whatever the baselines (1 GiB).
    "min_daily_bytes": float(GIB),
    # One read of at least this many bytes of a model file from a public IP is flagged alone.
    "public_read_bytes": float(GIB),
    # Fewer other active days than this: no own baseline (the population decides).
    "min_history_days": 3.0,
}
ATHENA_EXAMPLE = "athena:workgroup=primary,table=security.cloudtrail_logs"
ATHENA_KEYS = frozenset(
    {"workgroup", "table", "database", "catalog", "output_location", "region", "profile"}
)
OPTION_NAMES = frozenset(
    {
        "format",
        "window_days",
        "window_end",
        "memory_limit",
        "threads",
        "max_malformed",
        "max_files",
        "batch_mb",
        "max_json_mb",
        "thresholds",
        "poll_seconds",
        "timeout_seconds",
    }
    | ATHENA_KEYS
)
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
_TABLE = re.compile(r"^[A-Za-z0-9_-]{1,255}(\.[A-Za-z0-9_-]{1,255})?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")


@dataclass(frozen=True)
class AthenaTarget:
    workgroup: str
    table: str  # TABLE or DATABASE.TABLE
    database: str | None = None
    catalog: str | None = None
    output_location: str | None = None


@dataclass(frozen=True)
class AccessLogOptions:
    kind: str  # path | s3 | athena
    target: str  # the path, the s3:// URI, or athena:...
    label: str  # how problems and ids name the logs
    athena: AthenaTarget | None = None
    format: str = "auto"
    window_days: int = DEFAULT_WINDOW_DAYS
    window_end: dt.datetime | None = None  # None: the time of the scan
    memory_limit: str | None = None
    threads: int | None = None
    max_malformed: float = 0.01
    max_files: int = 1_000_000
    batch_mb: int = 256  # s3://: bytes downloaded per batch before DuckDB reads them
    # One CloudTrail file's JSON (uncompressed); DuckDB's reader holds such a file whole, so
    # this is what memory_limit must leave room for. A larger file is counted unreadable.
    max_json_mb: int = 32
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    profile: str | None = None
    region: str | None = None
    poll_seconds: float = 1.0
    timeout_seconds: float = 1800.0


def parse_options(spec: SourceSpec) -> AccessLogOptions:
    target = spec.target.strip()
    where = f"source {spec.text!r}"
    kind = "path"
    pairs: dict[str, str] = {}
    if target.startswith("athena:"):
        kind = "athena"
        pairs = key_values(spec, target[len("athena:") :], ATHENA_EXAMPLE, "athena:KEY=VALUE,...")
    elif target.startswith("s3://"):
        kind = "s3"
        if not target[len("s3://") :].split("/", 1)[0]:
            raise UsageError(f"{where}: expected s3://BUCKET/PREFIX")
    raw = with_config(spec, pairs, OPTION_NAMES)
    if kind != "athena":
        misplaced = sorted(set(raw) & (ATHENA_KEYS - {"profile", "region"}))
        if misplaced:
            raise UsageError(f"{where}: option {misplaced[0]!r} is only for athena: targets")

    def fail(name: str, expected: str) -> UsageError:
        return UsageError(f"{where}: option {name} must be {expected}, got {raw[name]!r}")

    out: dict[str, Any] = {"kind": kind, "target": target, "label": f"access-logs:{target}"}
    if kind == "athena":
        out["athena"] = _athena(raw, fail, where)
    if "format" in raw:
        if raw["format"] not in FORMATS:
            raise fail("format", f"one of {', '.join(FORMATS)}")
        if kind == "athena" and raw["format"] == "s3-server-access":
            raise fail("format", "cloudtrail for an athena: target (a CloudTrail table)")
        out["format"] = raw["format"]
    for name, low, high in (
        ("window_days", 1, 3660),
        ("threads", 1, 256),
        ("max_files", 1, 10_000_000),
        ("batch_mb", 1, 100_000),
        ("max_json_mb", 1, 1024),
    ):
        if name in raw:
            value = _as_int(raw[name])
            if value is None or not low <= value <= high:
                raise fail(name, f"an integer between {low} and {high}")
            out[name] = value
    for name, low_f, high_f in (
        ("max_malformed", 0.0, 1.0),
        ("poll_seconds", 0.01, 60.0),
        ("timeout_seconds", 1.0, 86_400.0),
    ):
        if name in raw:
            value_f = _as_float(raw[name])
            if value_f is None or not low_f <= value_f <= high_f:
                raise fail(name, f"a number between {low_f} and {high_f}")
            out[name] = value_f
    if "window_end" in raw:
        out["window_end"] = _moment(raw["window_end"], fail)
    if "memory_limit" in raw:
        if not isinstance(raw["memory_limit"], str) or not _SIZE.match(raw["memory_limit"]):
            raise fail("memory_limit", "a size such as '512MB' or '2GB'")
        out["memory_limit"] = raw["memory_limit"].replace(" ", "")
    if "thresholds" in raw:
        value = raw["thresholds"]
        if not isinstance(value, Mapping) or not all(
            k in DEFAULT_THRESHOLDS and _as_float(v) is not None and _as_float(v) > 0  # type: ignore[operator]
            for k, v in value.items()
        ):
            raise fail(
                "thresholds",
                f"a mapping of {', '.join(DEFAULT_THRESHOLDS)} to positive numbers",
            )
        out["thresholds"] = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in value.items()}}
    for name in ("profile",):
        if name in raw:
            if not isinstance(raw[name], str) or not _NAME.match(raw[name]):
                raise fail(name, "an AWS profile name")
            out[name] = raw[name]
    if "region" in raw:
        if not isinstance(raw["region"], str) or not _REGION.match(raw["region"]):
            raise fail("region", "an AWS region name such as eu-west-1")
        out["region"] = raw["region"]
    return AccessLogOptions(**out)


def _athena(raw: Mapping[str, Any], fail: Any, where: str) -> AthenaTarget:
    missing = [k for k in ("workgroup", "table") if k not in raw]
    if missing:
        raise UsageError(
            f"{where}: an athena: target needs {' and '.join(missing)} "
            f"(athena:workgroup=W,table=DATABASE.TABLE)"
        )
    for name in ("workgroup", "database", "catalog"):
        if name in raw and (not isinstance(raw[name], str) or not _NAME.match(raw[name])):
            raise fail(name, "a name of letters, digits, '_', '.', '@' or '-'")
    if not isinstance(raw["table"], str) or not _TABLE.match(raw["table"]):
        raise fail("table", "TABLE or DATABASE.TABLE (letters, digits, '_' or '-')")
    output = raw.get("output_location")
    if output is not None and (not isinstance(output, str) or not output.startswith("s3://")):
        raise fail("output_location", "an s3:// URI")
    return AthenaTarget(
        workgroup=raw["workgroup"],
        table=raw["table"],
        database=raw.get("database"),
        catalog=raw.get("catalog"),
        output_location=output,
    )


def _moment(value: Any, fail: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise fail("window_end", "an ISO 8601 date or date-time") from None
    else:
        raise fail("window_end", "an ISO 8601 date or date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _as_int(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
