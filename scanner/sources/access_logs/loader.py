"""Log files into one DuckDB table, `records`, one row per record with the reason when it is
malformed; the `good_events` view over it is what the shared aggregation (`query.py`) reads.

Each format has its own reading SQL, because the two formats share nothing but meaning:
- CloudTrail: JSON objects (a file is `{"Records": [...]}`; newline-delimited records, as
  exports write them, are read too), each record's fields taken by JSON path in one pass
  (`json_extract_string` with a list of paths parses a record once). A typed struct reader
  was not used: one record of an unexpected shape (a `userIdentity` that is a string) failed
  the whole file, where paths give that record NULLs and it is counted malformed.
- S3 server access logs: lines read whole (`read_csv` with a separator that never occurs),
  split into the documented fields by position (see SERVER_FIELDS), so quoted fields with
  spaces (`"GET /b/fraud%20v2/model.pt HTTP/1.1"`, user agents) and `-` for missing values
  parse as the format defines them, and trailing fields AWS adds later are ignored.

Files are read in batches (bounded by bytes), each batch in one statement per format. A file
whose JSON or compression is broken fails the statement; the batch is then read file by file,
so one bad file is counted (`unreadable_file`) instead of losing the batch. Malformed records
are counted by reason with the first file that had one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from scanner.sources.access_logs.files import CLOUDTRAIL, LogFile
from scanner.sources.logs.duck import DuckWorkspace, first_line, sql_literal

MAX_LINE_BYTES = 64 * 1024  # a longer server access log line is malformed
REASONS = {
    "unreadable_file": (
        "a file that is not valid JSON, not a complete gzip stream, or over max_json_mb"
    ),
    "not_a_record": "not a CloudTrail record or server access log line",
    "bad_timestamp": "missing or unreadable time",
    "no_object": "a read of an object without a bucket or key",
}
# Timestamps outside 2000-01-01 .. 2200-01-01 are garbage, not history.
TS_MIN, TS_MAX = 946_684_800.0, 7_258_118_400.0

# Every record, malformed ones with the reason: written once (a staging table cost twice the
# whole read, measured), counted at the end, and read by the aggregation through `good_events`.
EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS records (
    file VARCHAR, ts DOUBLE, bucket VARCHAR, object_key VARCHAR, operation VARCHAR, ok BOOLEAN,
    identity_type VARCHAR, identity_arn VARCHAR, issuer_arn VARCHAR, account_id VARCHAR,
    invoked_by VARCHAR, source_ip VARCHAR, vpce VARCHAR, bytes BIGINT, object_size BIGINT,
    problem VARCHAR
)"""
GOOD_EVENTS = """
CREATE VIEW IF NOT EXISTS good_events AS
SELECT ts, bucket, object_key, operation, ok, identity_type, identity_arn, issuer_arn,
    account_id, invoked_by, source_ip, vpce, bytes, object_size
FROM records WHERE problem IS NULL"""

# Read operations as each format names them (query.py READ_OPERATIONS is the common set).
_CT_PATHS = (
    "$.eventTime",
    "$.eventSource",
    "$.eventName",
    "$.errorCode",
    "$.userIdentity.type",
    "$.userIdentity.arn",
    "$.userIdentity.accountId",
    "$.userIdentity.invokedBy",
    "$.userIdentity.sessionContext.sessionIssuer.arn",
    "$.sourceIPAddress",
    "$.vpcEndpointId",
    "$.requestParameters.bucketName",
    "$.requestParameters.key",
    '$.requestParameters."x-amz-copy-source"',
    "$.additionalEventData.bytesTransferredOut",
)

# The documented record: owner bucket [time] remote-ip requester request-id operation key
# "request-uri" status error bytes-sent object-size total-time turn-around "referer"
# "user-agent" version-id host-id ... (fields AWS adds later come at the end and are ignored).
# Split with string functions rather than one regular expression: a 13-group RE2 match cost
# three times the whole read (measured on 400,000 lines). Everything before the first ` "`
# (the quoted request URI) has no spaces but the time's; the URI is quoted by AWS, and an
# unquoted `METHOD URI PROTOCOL` (as moto writes it) or `-` is taken too.
SERVER_FIELDS = ("owner", "bucket", "time", "ip", "requester", "request_id", "operation", "key")


@dataclass
class Counts:
    """What was read, for the coverage statement and the malformed-record threshold."""

    files: int = 0
    records: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    first_bad: dict[str, str] = field(default_factory=dict)
    formats: Counter[str] = field(default_factory=Counter)

    def bad(self, reason: str, count: int, file: str | None) -> None:
        if count:
            self.malformed[reason] += count
            if file is not None:
                self.first_bad.setdefault(reason, file)


class Loader:
    """Reads batches of log files into the `records` table of a DuckDB workspace; the shared
    aggregation reads the well-formed ones through the `good_events` view."""

    def __init__(self, workspace: DuckWorkspace, label: str, max_object_bytes: int) -> None:
        self.ws = workspace
        self.con = workspace.con
        self.label = label
        self.max_object_bytes = max_object_bytes
        self.counts = Counts()
        self.names: dict[str, str] = {}  # local path -> how problems name the file
        self.con.execute(EVENTS_TABLE)
        self.con.execute(GOOD_EVENTS)

    def load(self, batch: Iterable[LogFile]) -> None:
        groups: dict[tuple[str, bool], list[LogFile]] = {}
        for f in batch:
            if f.object_bytes is not None and f.object_bytes > self.max_object_bytes:
                # DuckDB's JSON reader holds such a file whole, whatever maximum_object_size
                # says (DuckDB 2.0, measured): it is left out before it can take the memory.
                limit = self.max_object_bytes // (1024 * 1024)
                self.counts.bad(
                    "unreadable_file",
                    1,
                    f"{f.name} (its JSON is {f.object_bytes / 1e6:.0f} MB, more than "
                    f"max_json_mb {limit})",
                )
                self.counts.records += 1
                self.counts.files += 1
                self.counts.formats[f.format] += 1
                continue
            groups.setdefault((f.format, f.gzipped), []).append(f)
        for (fmt, gz), files in sorted(groups.items()):
            self.names.update({f.path: f.name for f in files})
            with self.ws.errors(self.label):
                try:
                    self._load_group(fmt, gz, files)
                except duckdb.OutOfMemoryException:
                    raise
                except duckdb.Error:
                    # One broken file fails the statement (which inserts nothing): read them
                    # one by one to find it.
                    for f in files:
                        try:
                            self._load_group(fmt, gz, [f])
                        except duckdb.OutOfMemoryException:
                            raise
                        except duckdb.Error as exc:
                            self.counts.bad("unreadable_file", 1, f"{f.name} ({first_line(exc)})")
                            self.counts.records += 1
                            self._drop_rejects()
            self.counts.files += len(files)
            self.counts.formats[fmt] += len(files)

    def _drop_rejects(self) -> None:
        self.con.execute("DROP TABLE IF EXISTS reject_errors")
        self.con.execute("DROP TABLE IF EXISTS reject_scans")

    def _load_group(self, fmt: str, gz: bool, files: list[LogFile]) -> None:
        listing = "[" + ", ".join(sql_literal(f.path) for f in files) + "]"
        compression = sql_literal("gzip" if gz else "none")
        self._drop_rejects()
        read = self._cloudtrail if fmt == CLOUDTRAIL else self._server
        self.con.execute(f"INSERT INTO records {read(listing, compression)}")
        if fmt != CLOUDTRAIL:
            count, file = self._rejected()
            if count:
                self.counts.records += count
                self.counts.bad("not_a_record", count, self.names.get(file or "", file))
        self._drop_rejects()

    def finish(self) -> Counts:
        """Every record counted, malformed ones by reason with the first file."""
        rows = self.con.execute(
            "SELECT problem, count(*), min(file) FROM records GROUP BY problem"
        ).fetchall()
        for problem, count, file in rows:
            self.counts.records += count
            if problem is not None:
                self.counts.bad(problem, count, self.names.get(file, file))
        return self.counts

    def _rejected(self) -> tuple[int, str | None]:
        """Lines DuckDB's CSV reader refused (invalid UTF-8, the separator inside a line)."""
        row = self.con.execute(
            "SELECT count(DISTINCT (e.scan_id, e.file_id, e.line)), min(s.file_path) "
            "FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id)"
        ).fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    def _cloudtrail(self, listing: str, compression: str) -> str:
        paths = "[" + ", ".join(sql_literal(p) for p in _CT_PATHS) + "]"
        return f"""
        WITH objects AS (
            SELECT filename AS file, json FROM read_json_objects({listing},
                format = 'auto', filename = true, compression = {compression},
                maximum_object_size = {self.max_object_bytes})
        ),
        records AS (
            SELECT file, unnest(CASE WHEN json_type(json, '$.Records') = 'ARRAY'
                                     THEN json_extract(json, '$.Records[*]')
                                     ELSE [json] END) AS r
            FROM objects
        ),
        f AS (
            SELECT file, json_type(r) = 'OBJECT' AS is_object,
                json_extract_string(r, {paths}) AS v FROM records
        ),
        g AS (
            SELECT file, is_object,
                epoch(try_cast(v[1] AS TIMESTAMPTZ)) AS ts,
                CASE WHEN v[2] = 's3.amazonaws.com' THEN v[3]
                     ELSE coalesce(v[2], '') || ':' || coalesce(v[3], '') END AS operation,
                v[3] AS event_name, v[4] IS NULL AS ok,
                v[5] AS identity_type, v[6] AS identity_arn, v[7] AS account_id,
                v[8] AS invoked_by, v[9] AS issuer_arn, v[10] AS source_ip, v[11] AS vpce,
                v[12] AS rp_bucket, v[13] AS rp_key,
                -- CopyObject reads the object `x-amz-copy-source` names: [/]BUCKET/KEY[?versionId=]
                regexp_replace(url_decode(v[14]), '^/', '') AS copy_source,
                try_cast(try_cast(v[15] AS DOUBLE) AS BIGINT) AS bytes
            FROM f
        ),
        h AS (
            SELECT *,
                CASE WHEN operation = 'CopyObject'
                     THEN nullif(split_part(copy_source, '/', 1), '') ELSE rp_bucket END AS bucket,
                CASE WHEN operation = 'CopyObject'
                     THEN nullif(regexp_replace(regexp_replace(copy_source, '^[^/]*/', ''),
                                                '[?]versionId=.*$', ''), '')
                     ELSE rp_key END AS object_key
            FROM g
        )
        SELECT file, ts, bucket, object_key, operation, ok, identity_type, identity_arn,
            issuer_arn, account_id, invoked_by, source_ip, vpce, bytes,
            NULL::BIGINT AS object_size,
            CASE WHEN NOT coalesce(is_object, false) OR event_name IS NULL THEN 'not_a_record'
                 WHEN ts IS NULL OR ts NOT BETWEEN {TS_MIN} AND {TS_MAX} THEN 'bad_timestamp'
                 WHEN operation IN ('GetObject', 'GetObjectVersion', 'SelectObjectContent',
                                    'CopyObject')
                      AND (bucket IS NULL OR object_key IS NULL) THEN 'no_object'
            END AS problem
        FROM h
        """

    def _server(self, listing: str, compression: str) -> str:
        return f"""
        WITH lines AS (
            SELECT filename AS file, line FROM read_csv({listing}, columns = {{'line': 'VARCHAR'}},
                delim = '\x1f', quote = '', escape = '', header = false, auto_detect = false,
                filename = true, compression = {compression}, ignore_errors = true,
                store_rejects = true, max_line_size = {MAX_LINE_BYTES})
            WHERE line IS NOT NULL AND trim(line) <> ''
        ),
        a AS (SELECT file, line, strpos(line, ' "') AS q FROM lines),
        b AS (
            SELECT file, line, q,
                string_split(CASE WHEN q > 0 THEN substr(line, 1, q - 1) ELSE line END, ' ') AS h
            FROM a
        ),
        b2 AS (
            -- the quoted URI ends at the next quote: e is its length, 0 when never closed
            SELECT *, CASE WHEN q > 0 THEN strpos(substr(line, q + 2), '"') ELSE 0 END AS e
            FROM b
        ),
        c AS (
            SELECT file, h,
                CASE WHEN len(h) = 9 AND e > 0 THEN substr(line, q + 2, e - 1)
                     WHEN len(h) >= 16 AND h[12] LIKE 'HTTP/%'
                         THEN h[10] || ' ' || h[11] || ' ' || h[12]
                     WHEN len(h) >= 14 AND h[10] = '-' THEN '-'
                END AS uri,
                CASE WHEN len(h) = 9 AND e > 0
                         THEN string_split(ltrim(substr(line, q + 2 + e)), ' ')
                     WHEN len(h) >= 16 AND h[12] LIKE 'HTTP/%' THEN h[13:]
                     WHEN len(h) >= 14 AND h[10] = '-' THEN h[11:]
                END AS t
            FROM b2
        ),
        g AS (
            SELECT file,
                (uri IS NOT NULL AND len(t) >= 4 AND h[3] LIKE '[%' AND h[4] LIKE '%]'
                 AND regexp_full_match(t[1], '[0-9]{{3}}')) AS matched,
                epoch(try_strptime(substr(h[3], 2) || ' ' || rtrim(h[4], ']'),
                                   '%d/%b/%Y:%H:%M:%S %z')) AS ts,
                nullif(h[2], '-') AS bucket,
                nullif(url_decode(nullif(h[9], '-')), '') AS object_key,
                CASE
                    WHEN h[8] IN ('REST.GET.OBJECT', 'WEBSITE.GET.OBJECT')
                        THEN CASE WHEN uri LIKE '%versionId=%' THEN 'GetObjectVersion'
                                  ELSE 'GetObject' END
                    WHEN h[8] = 'REST.POST.SELECT' THEN 'SelectObjectContent'
                    WHEN h[8] IN ('REST.COPY.OBJECT_GET', 'REST.COPY.PART_GET') THEN 'CopyObject'
                    ELSE h[8]
                END AS operation,
                t[1] LIKE '2__' AND t[2] = '-' AS ok,
                CASE
                    WHEN h[6] IN ('-', 'Anonymous') THEN 'Anonymous'
                    WHEN h[6] LIKE 'arn:%:sts::%:assumed-role/%' THEN 'AssumedRole'
                    WHEN h[6] LIKE 'arn:%:sts::%:federated-user/%' THEN 'FederatedUser'
                    WHEN h[6] LIKE 'arn:%:iam::%:user/%' THEN 'IAMUser'
                    WHEN h[6] LIKE 'arn:%:iam::%:root' THEN 'Root'
                    WHEN regexp_full_match(h[6], '[0-9a-f]{{64}}') THEN 'CanonicalUser'
                    ELSE 'Unknown'
                END AS identity_type,
                nullif(h[6], '-') AS identity_arn,
                NULL::VARCHAR AS issuer_arn,
                CASE WHEN h[6] LIKE 'arn:%' THEN split_part(h[6], ':', 5) END AS account_id,
                NULL::VARCHAR AS invoked_by,
                nullif(h[5], '-') AS source_ip, NULL::VARCHAR AS vpce,
                CASE WHEN t[3] = '-' THEN 0 ELSE try_cast(t[3] AS BIGINT) END AS bytes,
                try_cast(t[4] AS BIGINT) AS object_size
            FROM c
        )
        SELECT file, ts, bucket, object_key, operation, ok, identity_type, identity_arn,
            issuer_arn, account_id, invoked_by, source_ip, vpce, bytes, object_size,
            CASE WHEN NOT coalesce(matched, false) THEN 'not_a_record'
                 WHEN ts IS NULL OR ts NOT BETWEEN {TS_MIN} AND {TS_MAX} THEN 'bad_timestamp'
                 WHEN operation IN ('GetObject', 'GetObjectVersion', 'SelectObjectContent',
                                    'CopyObject')
                      AND (bucket IS NULL OR object_key IS NULL) THEN 'no_object'
            END AS problem
        FROM g
        """
