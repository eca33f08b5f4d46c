"""Which files a `logs:` target names, what they are, and which field means what.

Formats are told by extension (`.jsonl`/`.ndjson`/`.json`, `.csv`, `.parquet`, the text ones
optionally `.gz`); the flavour of a JSON log is told by its first record: SageMaker
data-capture records carry `captureData` and `eventMetadata`, API Gateway access logs carry
`requestId` with `requestTime` or `requestTimeEpoch`. The field mapping starts from the
flavour's defaults (or, for plain logs, the first conventional name present in the first
record), and the user's `fields` option overrides any role. Sniffing reads at most 64 KiB.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.sources import local_files
from scanner.sources.interface import SourceError

EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
SNIFF_BYTES = 64 * 1024
MAX_FILES = 100_000

# Conventional names, in order of preference, for plain JSONL/CSV/Parquet logs.
CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "client": (
        "client",
        "client_id",
        "clientId",
        "account",
        "account_id",
        "accountId",
        "user",
        "user_id",
        "userId",
        "api_key_id",
        "apiKeyId",
        "caller",
    ),
    "timestamp": (
        "timestamp",
        "ts",
        "time",
        "event_time",
        "eventTime",
        "@timestamp",
        "requestTimeEpoch",
        "requestTime",
    ),
    "endpoint": ("endpoint", "endpoint_name", "endpointName", "endpoint_arn", "model"),
    "input": ("features", "input", "inputs", "embedding", "x"),
    "input_hash": ("input_hash", "inputHash", "query_hash"),
    "output": ("scores", "probabilities", "output", "outputs", "prediction", "label"),
    "org": ("org", "org_id", "organization", "organisation", "tenant", "tenant_id"),
    "ip": ("ip", "source_ip", "sourceIp", "client_ip", "remote_addr"),
    "asn": ("asn", "source_asn"),
    "key_owner": ("key_owner", "api_key_owner", "apiKeyOwner"),
    "tier": ("tier", "plan", "usage_plan", "usagePlan"),
}
FLAVOURS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    # SageMaker data capture records no caller identity: callers pass it as InferenceId.
    "sagemaker-capture": {
        "client": ("eventMetadata.inferenceId",),
        "timestamp": ("eventMetadata.inferenceTime",),
        "input": ("captureData.endpointInput.data",),
        "output": ("captureData.endpointOutput.data",),
    },
    # Access logs have whatever $context variables the stage's format names; these are the
    # ones AWS's examples use. The source IP is the client of last resort.
    "apigateway": {
        "client": ("apiKeyId", "identity.apiKeyId", "caller", "user", "ip", "sourceIp"),
        "timestamp": ("requestTimeEpoch", "requestTime"),
        "endpoint": ("endpoint", "apiId"),
        "ip": ("ip", "sourceIp"),
        "org": ("accountId",),
        "key_owner": ("apiKeyOwner",),
        "tier": ("usagePlan", "usagePlanId"),
    },
}


@dataclass(frozen=True)
class LogFiles:
    format: str  # jsonl | csv | parquet
    flavour: str  # plain | sagemaker-capture | apigateway
    files: tuple[str, ...]
    fields: Mapping[str, str | tuple[str, ...]]  # role -> dotted field path(s)
    # SageMaker capture keeps the endpoint name in the S3 key: ENDPOINT/VARIANT/YYYY/MM/DD/HH/
    endpoint_from_path: bool = False
    sniffed: bool = True  # a first record was found to match field names against


def discover(target: str) -> list[str]:
    """The files a target names: a file, every log file below a directory, or a glob."""
    return local_files.discover(
        f"logs:{target}",
        target,
        counts=lambda relative: _kind(relative.name) is not None,
        none_in_directory=(
            "no log files (.jsonl, .ndjson, .json, .csv, .parquet, optionally .gz) in the directory"
        ),
        max_files=MAX_FILES,
        limit=str(MAX_FILES),
    )


def _kind(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(".gz"):
        lowered = lowered[:-3]
        if lowered.endswith(".parquet"):
            return None
    return EXTENSIONS.get(os.path.splitext(lowered)[1])


def classify(target: str, files: list[str], requested: str, fields: Mapping[str, Any]) -> LogFiles:
    """Tell the format and flavour, and settle the field mapping."""
    kinds = {f: _kind(os.path.basename(f)) for f in files}
    if requested in ("jsonl", "csv", "parquet"):
        base, flavour = requested, "plain"
    elif requested in FLAVOURS:
        base, flavour = "jsonl", requested
    else:
        found = sorted({k or "unknown" for k in kinds.values()})
        if len(found) != 1 or found[0] == "unknown":
            raise SourceError(
                f"logs:{target}: cannot tell one format from the file names ({', '.join(found)}); "
                f"set the format option"
            )
        base, flavour = found[0], "plain"
    first = _first_record(files[0], base)
    if requested == "auto" and base == "jsonl" and first is not None:
        if "captureData" in first and "eventMetadata" in first:
            flavour = "sagemaker-capture"
        elif "requestId" in first and ("requestTime" in first or "requestTimeEpoch" in first):
            flavour = "apigateway"
    mapping: dict[str, str | tuple[str, ...]] = {}
    defaults = FLAVOURS.get(flavour, CANDIDATES)
    for role, names in defaults.items():
        chosen = _first_present(first or {}, names) if first is not None else None
        if chosen is None and flavour != "plain" and first is None:
            chosen = names[0]
        if chosen is not None:
            mapping[role] = chosen
    mapping.update(fields)
    return LogFiles(
        format=base,
        flavour=flavour,
        files=tuple(files),
        fields=mapping,
        endpoint_from_path=flavour == "sagemaker-capture" and "endpoint" not in mapping,
        sniffed=first is not None,
    )


def _first_present(record: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value: Any = record
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            return name
    return None


def _first_record(file: str, base: str) -> dict[str, Any] | None:
    """The first readable record, for sniffing; None when none is found in the first 64 KiB."""
    if base == "parquet":
        return _first_parquet_row(file)
    opener = gzip.open if file.lower().endswith(".gz") else open
    try:
        with opener(file, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{file}: cannot read: {exc}") from None
    lines = head.decode("utf-8", "replace").splitlines()
    if base == "csv":
        if len(lines) < 1:
            return None
        import csv

        rows = list(csv.reader(lines[:2]))
        if not rows:
            return None
        header = rows[0]
        values = rows[1] if len(rows) > 1 else [""] * len(header)
        # A header names a column even when the first row leaves it empty.
        return {h: v for h, v in zip(header, [*values, *[""] * len(header)], strict=False)}
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return None


def _first_parquet_row(file: str) -> dict[str, Any] | None:
    import duckdb

    try:
        row = (
            duckdb.connect()
            .execute("SELECT to_json(r) FROM read_parquet(?) r LIMIT 1", [file])
            .fetchone()
        )
    except duckdb.Error as exc:
        raise SourceError(f"{file}: not a readable Parquet file: {_first_line(exc)}") from None
    return json.loads(row[0]) if row else None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
