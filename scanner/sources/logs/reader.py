"""Logs into one DuckDB table of requests, one row per request, with what each field means.

DuckDB reads JSONL, CSV and Parquet in a streaming, columnar way and spills to disk past its
memory limit, so a log larger than memory is read without ever becoming Python lists. Every
record goes through one JSON representation (CSV rows and Parquet rows are turned into JSON
objects), so field paths mean the same thing in every format. The table lives in a database
file in a private temporary directory, removed on close.

Malformed records are counted by reason and kept out of the analysis: a line that is not a
JSON object (or a CSV row with the wrong number of columns), a record without a client or
with a timestamp that cannot be read. A record whose input cannot be read as a vector of the
endpoint's usual length keeps its place in the volume counts but not in the vector detectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from scanner.sources.interface import SourceError
from scanner.sources.logs.duck import DuckWorkspace, sql_literal
from scanner.sources.logs.formats import CANDIDATES, LogFiles
from scanner.sources.logs.options import LogOptions

# The earliest and latest timestamps taken as real (2000-01-01, 2200-01-01): anything else is a
# unit mix-up or garbage, and would stretch the window to centuries.
TS_MIN, TS_MAX = 946_684_800.0, 7_258_118_400.0
MAX_RECORD_BYTES = 1024 * 1024  # a larger line is malformed (and bounds DuckDB's buffers)
REASONS = {
    "not_a_record": "not a JSON object with any mapped field (or a CSV row with the wrong "
    "number of columns)",
    "no_client": "no client id",
    "bad_timestamp": "missing or unreadable timestamp",
    "bad_input": "input present but not a numeric vector of the endpoint's usual length",
}


@dataclass(frozen=True)
class Loaded:
    con: duckdb.DuckDBPyConnection
    records: int  # every record read, malformed ones included
    malformed: Mapping[str, int]  # reason -> count
    first_bad_file: Mapping[str, str]  # reason -> the first file with such a record
    roles: frozenset[str]  # which roles the mapping could fill at all
    dims: Mapping[str, int]  # endpoint name -> input vector length


class LogReader:
    """Owns the DuckDB workspace (`duck.py`); use as a context manager."""

    def __init__(self, target: str, options: LogOptions) -> None:
        self.target = target
        self.options = options
        self.workspace = DuckWorkspace("modelward-logs-", options.memory_limit, options.threads)
        self.con = self.workspace.con

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.workspace.close()

    def load(self, files: LogFiles) -> Loaded:
        fields = dict(files.fields)
        if not files.sniffed:
            # Nothing readable at the start (an empty or garbled log): the conventional names
            # let the read go on, so the records are counted rather than refused unseen.
            for role in ("client", "timestamp"):
                fields.setdefault(role, CANDIDATES[role][0])
        with self.workspace.errors(f"logs:{self.target}"):
            self._load(files, fields)
            return self._summarise(files, fields)

    def _records_sql(self, files: LogFiles, fields: Mapping[str, Any]) -> str:
        """One row per record: `j`, a JSON object of only the top-level fields the mapping
        uses (so a payload column is never parsed or carried), and `is_record`.

        JSON is read with typed columns rather than as whole objects: DuckDB's whole-object
        reader held its buffers while fields were extracted and ran out of memory under a cap
        on logs larger than the cap; the typed reader streams (measured)."""
        listing = "[" + ", ".join(_lit(f) for f in files.files) + "]"
        paths = [p for v in fields.values() for p in (v if isinstance(v, tuple) else (v,))]
        tops = sorted({p.split(".")[0] for p in paths})
        if files.format == "jsonl":
            columns = "{" + ", ".join(f"{_lit(t)}: 'JSON'" for t in tops) + "}"
            present = " OR ".join(f"{_ident(t)} IS NOT NULL" for t in tops)
            return (
                f"SELECT filename AS file, {_pack(tops)} AS j, ({present}) AS is_record "
                f"FROM read_json({listing}, format = 'newline_delimited', columns = {columns}, "
                f"ignore_errors = true, filename = true, maximum_object_size = {MAX_RECORD_BYTES})"
            )
        reader = (
            f"read_csv({listing}, all_varchar = true, header = true, ignore_errors = true, "
            f"store_rejects = true, filename = true)"
            if files.format == "csv"
            else f"read_parquet({listing}, union_by_name = true, filename = true)"
        )
        have = {r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
        return (
            f"SELECT filename AS file, {_pack([t for t in tops if t in have])} AS j, "
            f"true AS is_record FROM {reader}"
        )

    def _load(self, files: LogFiles, fields: Mapping[str, Any]) -> None:
        def text(role: str) -> str:
            name = fields.get(role)
            if not isinstance(name, str):
                return "NULL::VARCHAR"
            return f"nullif(trim(json_extract_string(j, {_path(name)})), '')"

        if "client" not in fields or "timestamp" not in fields:
            missing = "client" if "client" not in fields else "timestamp"
            raise SourceError(
                f"logs:{self.target}: no {missing} field found in the first record; name it "
                f"in the fields option (fields: {{{missing}: FIELD}})"
            )
        endpoint = text("endpoint")
        if files.endpoint_from_path:
            # SageMaker's capture layout: .../ENDPOINT/VARIANT/YYYY/MM/DD/HH/FILE
            endpoint = (
                "nullif(regexp_extract(file, '([^/]+)/[^/]+/[0-9]{4}/[0-9]{2}/[0-9]{2}/"
                "[0-9]{2}/[^/]+$', 1), '')"
            )
        if self.options.endpoint:
            endpoint = f"coalesce({endpoint}, {_lit(self.options.endpoint)})"
        # Staged: reading and parsing in one statement ran out of memory under a cap that each
        # step alone stays within (measured on a log twice the cap).
        self.con.execute(f"CREATE TABLE rec AS {self._records_sql(files, fields)}")
        self.con.execute(
            f"""
            CREATE TABLE raw AS
            WITH typed AS (SELECT * FROM rec),
            fields AS (
                SELECT file, is_record,
                    {endpoint} AS endpoint,
                    {text("client")} AS client,
                    {text("timestamp")} AS ts_text,
                    {text("org")} AS org, {text("ip")} AS ip, {text("asn")} AS asn,
                    {text("key_owner")} AS key_owner, {text("tier")} AS tier,
                    {text("input_hash")} AS input_hash,
                    {_vector(fields.get("input"))} AS features,
                    {_present(fields.get("input"))} AS input_present,
                    {_vector(fields.get("output"), scores=True)} AS scores
                FROM typed
            )
            SELECT *, CASE
                WHEN try_cast(ts_text AS DOUBLE) IS NOT NULL THEN (
                    CASE WHEN try_cast(ts_text AS DOUBLE) > 1e14
                              THEN try_cast(ts_text AS DOUBLE) / 1e6
                         WHEN try_cast(ts_text AS DOUBLE) > 1e11
                              THEN try_cast(ts_text AS DOUBLE) / 1e3
                         ELSE try_cast(ts_text AS DOUBLE) END)
                ELSE coalesce(
                    epoch(try_cast(ts_text AS TIMESTAMPTZ)),
                    epoch(try_strptime(ts_text, '%d/%b/%Y:%H:%M:%S %z')))
                END AS ts
            FROM fields
            """
        )
        self.con.execute("DROP TABLE rec")
        # The usual input length per endpoint: a vector of another length is a bad input.
        self.con.execute(
            f"""
            CREATE TABLE q AS
            WITH ok AS (
                SELECT * FROM raw
                WHERE is_record AND client IS NOT NULL AND ts BETWEEN {TS_MIN} AND {TS_MAX}
            ),
            dims AS (
                SELECT endpoint, arg_max(d, n) AS dim FROM (
                    SELECT endpoint, len(features) AS d, count(*) AS n FROM ok
                    WHERE features IS NOT NULL GROUP BY ALL
                ) GROUP BY endpoint
            )
            SELECT coalesce(ok.endpoint, '') AS endpoint, client, ts, org, ip, asn, key_owner,
                tier, input_hash,
                CASE WHEN len(features) = dims.dim THEN features END AS features,
                input_present AND (features IS NULL OR len(features) <> dims.dim) AS bad_input,
                scores
            FROM ok LEFT JOIN dims ON coalesce(ok.endpoint, '') = coalesce(dims.endpoint, '')
            """
        )

    def _summarise(self, files: LogFiles, fields: Mapping[str, Any]) -> Loaded:
        con = self.con
        counts = con.execute(
            f"""
            SELECT
                count(*),
                count(*) FILTER (WHERE NOT is_record),
                count(*) FILTER (WHERE is_record AND client IS NULL),
                count(*) FILTER (WHERE is_record AND client IS NOT NULL
                                 AND (ts IS NULL OR ts NOT BETWEEN {TS_MIN} AND {TS_MAX})),
                min(file) FILTER (WHERE NOT is_record),
                min(file) FILTER (WHERE is_record AND client IS NULL),
                min(file) FILTER (WHERE is_record AND client IS NOT NULL
                                  AND (ts IS NULL OR ts NOT BETWEEN {TS_MIN} AND {TS_MAX}))
            FROM raw
            """
        ).fetchone()
        assert counts is not None
        records, not_record, no_client, bad_ts, f1, f2, f3 = counts
        rejected, rejected_file = 0, None
        if files.format == "csv":
            row = con.execute(
                # One row per error, and a row can have several: count rows (file, line).
                "SELECT count(DISTINCT (e.scan_id, e.file_id, e.line)), min(s.file_path) "
                "FROM reject_errors e "
                "JOIN reject_scans s USING (scan_id, file_id)"
            ).fetchone()
            rejected, rejected_file = (row[0], row[1]) if row else (0, None)
        bad_input = con.execute("SELECT count(*) FILTER (WHERE bad_input) FROM q").fetchone()[0]  # type: ignore[index]
        malformed = {
            "not_a_record": not_record + rejected,
            "no_client": no_client,
            "bad_timestamp": bad_ts,
            "bad_input": bad_input,
        }
        first = {"not_a_record": f1 or rejected_file, "no_client": f2, "bad_timestamp": f3}
        if bad_input:
            first["bad_input"] = con.execute(
                "SELECT min(endpoint) FROM q WHERE bad_input"
            ).fetchone()[0]  # type: ignore[index]
        dims = dict(
            con.execute(
                "SELECT endpoint, max(len(features)) FROM q WHERE features IS NOT NULL "
                "GROUP BY endpoint"
            ).fetchall()
        )
        roles = frozenset(fields) | ({"endpoint"} if files.endpoint_from_path else set())
        return Loaded(
            con=con,
            records=records + rejected,
            malformed={k: v for k, v in malformed.items() if v},
            first_bad_file={k: v for k, v in first.items() if v},
            roles=roles,
            dims=dims,
        )


_lit = sql_literal


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pack(columns: list[str]) -> str:
    if not columns:
        return "'{}'::JSON"
    return "to_json(struct_pack(" + ", ".join(f"{_ident(c)} := {_ident(c)}" for c in columns) + "))"


def _path(field: str) -> str:
    parts = field.split(".")
    return _lit("$." + ".".join('"' + part + '"' for part in parts))


def _present(field: Any) -> str:
    if field is None:
        return "false"
    if isinstance(field, tuple):
        return " OR ".join(f"json_type(j, {_path(f)}) IS NOT NULL" for f in field)
    return f"coalesce(json_type(j, {_path(field)}) NOT IN ('NULL'), false)"


def _vector(field: Any, *, scores: bool = False) -> str:
    """A numeric vector from an array, a JSON-array string or a comma-separated string (as
    SageMaker captures CSV input); NULL when any element is not a finite number."""
    kind = "DOUBLE" if scores else "FLOAT"
    if field is None:
        return f"NULL::{kind}[]"
    if isinstance(field, tuple):
        elements = ", ".join(
            f"try_cast(json_extract_string(j, {_path(f)}) AS {kind})" for f in field
        )
        vec = f"[{elements}]"
    else:
        p = _path(field)
        s = f"trim(json_extract_string(j, {p}))"
        vec = f"""(CASE
            WHEN json_type(j, {p}) = 'ARRAY' THEN try_cast(json_extract(j, {p}) AS {kind}[])
            WHEN json_type(j, {p}) IN ('DOUBLE', 'UBIGINT', 'BIGINT')
                 THEN {
            "[try_cast(json_extract_string(j, " + p + ") AS DOUBLE)]" if scores else "NULL"
        }
            WHEN json_type(j, {p}) = 'VARCHAR' AND {s} LIKE '[%'
                 THEN try_cast(try_cast({s} AS JSON) AS {kind}[])
            WHEN json_type(j, {p}) = 'VARCHAR' AND {s} NOT LIKE '%' || chr(10) || '%'
                 THEN try_cast(string_split({s}, ',') AS {kind}[])
            END)"""
    finite = f"list_bool_and(list_transform({vec}, lambda x: x IS NOT NULL AND isfinite(x)))"
    return f"(CASE WHEN len({vec}) > 0 AND {finite} THEN {vec} END)"
