"""Athena on loopback: a shape server for StartQueryExecution, GetQueryExecution,
GetQueryResults and StopQueryExecution, answering as the Athena API reference documents.

moto's Athena does not run SQL (it returns results queued in advance through its own API), so
it cannot show that the aggregation works as SQL. This server runs the submitted query in
DuckDB over a table with the columns of AWS's documented CloudTrail table (`useridentity`
struct with `sessioncontext.sessionissuer`, `requestparameters` and `additionaleventdata` as
JSON text, `vpcendpointid`, ...), after defining the four Trino functions the query uses that
DuckDB names differently (`json_extract_scalar`, `from_iso8601_timestamp`, `to_unixtime`,
`regexp_like`).
The Trino dialect itself is therefore exercised only as far as DuckDB shares it; the API shape
is exercised exactly, including what boto3 parses:

- routes as the current service model binds them (`POST /query-executions`, `GET
  /query-executions/{id}`, `GET /query-executions/{id}/results?MaxResults=&NextToken=`, `POST
  /query-executions/{id}/stop`), and the older JSON 1.1 form (`POST /` with `X-Amz-Target:
  AmazonAthena.<Operation>`);
- states QUEUED and RUNNING for `queued_polls` and `running_polls` polls before SUCCEEDED (or
  FAILED with `StateChangeReason` and `AthenaError` when the SQL fails), CANCELLED after a stop;
- results paged at most `page_max` rows (MaxResults at most 1000), the column names as the
  first row of the first page, every value as `VarCharValue` text (doubles as Java prints
  them: `1.7145576E9`), NULL as a Datum without `VarCharValue`, `ResultSetMetadata.ColumnInfo`
  with Athena's type names;
- an unknown workgroup or query id is a 400 `InvalidRequestException`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb

from scanner.demo.servers import free_port

CLOUDTRAIL_COLUMNS = {
    "eventversion": "VARCHAR",
    "useridentity": "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, "
    "invokedby VARCHAR, accesskeyid VARCHAR, username VARCHAR, sessioncontext STRUCT(attributes "
    "STRUCT(mfaauthenticated VARCHAR, creationdate VARCHAR), sessionissuer STRUCT(type VARCHAR, "
    "principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR)))",
    "eventtime": "VARCHAR",
    "eventsource": "VARCHAR",
    "eventname": "VARCHAR",
    "awsregion": "VARCHAR",
    "sourceipaddress": "VARCHAR",
    "useragent": "VARCHAR",
    "errorcode": "VARCHAR",
    "errormessage": "VARCHAR",
    "requestparameters": "VARCHAR",
    "responseelements": "VARCHAR",
    "additionaleventdata": "VARCHAR",
    "requestid": "VARCHAR",
    "eventid": "VARCHAR",
    "resources": "STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[]",
    "eventtype": "VARCHAR",
    "apiversion": "VARCHAR",
    "readonly": "VARCHAR",
    "recipientaccountid": "VARCHAR",
    "serviceeventdetails": "VARCHAR",
    "sharedeventid": "VARCHAR",
    "vpcendpointid": "VARCHAR",
}
TRINO_FUNCTIONS = (
    "CREATE TEMP MACRO json_extract_scalar(j, p) AS "
    "json_extract_string(j, replace(replace(p, '$[\"', '$.\"'), '\"]', '\"'))",
    "CREATE TEMP MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
    "CREATE TEMP MACRO to_unixtime(t) AS epoch(t)",
    "CREATE TEMP MACRO regexp_like(s, p) AS regexp_matches(s, p)",
)
ATHENA_TYPES = {
    "BIGINT": "bigint",
    "HUGEINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double",
    "VARCHAR": "varchar",
    "BOOLEAN": "boolean",
}


def _serde(record: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudTrail record as CloudTrailSerde hands it to Athena: lower-case column names,
    nested request/response/additional data as JSON text."""
    lowered = {k.lower(): v for k, v in record.items()}
    out: dict[str, Any] = {}
    for column in CLOUDTRAIL_COLUMNS:
        value = lowered.get(column)
        if (
            column
            in (
                "requestparameters",
                "responseelements",
                "additionaleventdata",
                "serviceeventdetails",
            )
            and value is not None
        ):
            value = json.dumps(value)
        elif column == "readonly" and value is not None:
            value = str(value).lower()
        elif column == "useridentity" and isinstance(value, Mapping):
            value = _lower(value)
        elif column == "resources" and isinstance(value, list):
            value = [_lower(v) for v in value]
        out[column] = value
    return out


def _lower(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k.lower(): _lower(v) for k, v in value.items()}
    return value


def java_double(value: float) -> str:
    """How Athena (Java's Double.toString) prints a double: plain between 1e-3 and 1e7
    (`1234.5`), else the shortest digits in scientific form (`1.7145576E9`)."""
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))
    exact = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, exact.digits))
    exponent = len(digits) - 1 + int(exact.exponent)
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


@dataclass
class Execution:
    qid: str
    query: str
    workgroup: str
    polls: int = 0
    state: str = "QUEUED"
    reason: str | None = None
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class AthenaShapeServer:
    def __init__(
        self,
        tables: Mapping[str, Iterable[Mapping[str, Any]]],
        *,
        workgroups: Iterable[str] = ("primary",),
        catalog: str = "AwsDataCatalog",
        page_max: int = 1000,
        queued_polls: int = 1,
        running_polls: int = 1,
        workdir: Path,
    ) -> None:
        self.workgroups = set(workgroups)
        self.page_max = page_max
        self.queued_polls = queued_polls
        self.running_polls = running_polls
        self.executions: dict[str, Execution] = {}
        self.requests: list[tuple[str, str]] = []  # (operation, query execution id or "")
        self.lock = threading.Lock()
        self.catalog = catalog
        self.con = duckdb.connect()
        self.con.execute(f"ATTACH ':memory:' AS \"{catalog}\"")
        self.con.execute(f'USE "{catalog}"')
        for statement in TRINO_FUNCTIONS:
            self.con.execute(statement)
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in CLOUDTRAIL_COLUMNS.items()) + "}"
        for name, records in tables.items():
            database, table = name.split(".")
            self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
            staged = workdir / f"{name}.jsonl"
            staged.write_text("".join(json.dumps(_serde(r)) + "\n" for r in records))
            self.con.execute(
                f'CREATE TABLE "{database}"."{table}" AS SELECT * FROM '
                f"read_json('{staged}', columns = {columns}, format = 'newline_delimited')"
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())

    @contextlib.contextmanager
    def running(self) -> Iterator[AthenaShapeServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join(timeout=10)
            self.con.close()

    # -- operations -----------------------------------------------------------------------

    def start(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        workgroup = body.get("WorkGroup", "primary")
        if workgroup not in self.workgroups:
            return 400, _error("InvalidRequestException", f"WorkGroup {workgroup} is not found.")
        qid = str(uuid.uuid4())
        execution = Execution(qid, str(body.get("QueryString", "")), workgroup)
        context = body.get("QueryExecutionContext") or {}
        try:
            with self.lock:
                try:
                    if context.get("Database"):
                        self.con.execute(f'USE "{self.catalog}"."{context["Database"]}"')
                    result = self.con.execute(execution.query)
                    execution.columns = [
                        (d[0], ATHENA_TYPES.get(str(d[1]).split("(")[0], "varchar"))
                        for d in result.description or ()
                    ]
                    execution.rows = result.fetchall()
                finally:
                    self.con.execute(f'USE "{self.catalog}"')
        except duckdb.Error as exc:
            execution.reason = f"FAILED: {str(exc).splitlines()[0]}"
        self.executions[qid] = execution
        self.requests.append(("StartQueryExecution", qid))
        return 200, {"QueryExecutionId": qid}

    def get(self, qid: str) -> tuple[int, dict[str, Any]]:
        execution = self.executions.get(qid)
        self.requests.append(("GetQueryExecution", qid))
        if execution is None:
            return 400, _error("InvalidRequestException", f"QueryExecution {qid} was not found")
        if execution.state not in ("CANCELLED", "FAILED", "SUCCEEDED"):
            execution.polls += 1
            if execution.polls > self.queued_polls + self.running_polls:
                execution.state = "FAILED" if execution.reason else "SUCCEEDED"
            elif execution.polls > self.queued_polls:
                execution.state = "RUNNING"
        status: dict[str, Any] = {"State": execution.state, "SubmissionDateTime": 1.7e9}
        if execution.state == "FAILED":
            status["StateChangeReason"] = execution.reason
            status["AthenaError"] = {
                "ErrorCategory": 2,
                "ErrorType": 1006,
                "Retryable": False,
                "ErrorMessage": execution.reason,
            }
        if execution.state == "CANCELLED":
            status["StateChangeReason"] = "Query cancelled by user"
        return 200, {
            "QueryExecution": {
                "QueryExecutionId": qid,
                "Query": execution.query,
                "StatementType": "DML",
                "WorkGroup": execution.workgroup,
                "Status": status,
            }
        }

    def results(self, qid: str, token: str | None, max_results: int | None) -> tuple[int, dict]:
        execution = self.executions.get(qid)
        self.requests.append(("GetQueryResults", qid))
        if execution is None:
            return 400, _error("InvalidRequestException", f"QueryExecution {qid} was not found")
        if execution.state != "SUCCEEDED":
            return 400, _error(
                "InvalidRequestException",
                f"Query has not yet finished. Current state: {execution.state}",
            )
        size = min(max_results or 1000, self.page_max, 1000)
        start = int(token) if token else 0
        header = [] if start else [{"Data": [{"VarCharValue": n} for n, _ in execution.columns]}]
        taken = size - len(header)
        rows = [
            {"Data": [_datum(v, t) for v, (_n, t) in zip(row, execution.columns, strict=True)]}
            for row in execution.rows[start : start + taken]
        ]
        out: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": header + rows,
                "ResultSetMetadata": {
                    "ColumnInfo": [
                        {
                            "CatalogName": "hive",
                            "SchemaName": "",
                            "TableName": "",
                            "Name": n,
                            "Label": n,
                            "Type": t,
                            "Precision": 0,
                            "Scale": 0,
                            "Nullable": "UNKNOWN",
                            "CaseSensitive": t == "varchar",
                        }
                        for n, t in execution.columns
                    ]
                },
            },
        }
        if start + taken < len(execution.rows):
            out["NextToken"] = str(start + taken)
        return 200, out

    def stop(self, qid: str) -> tuple[int, dict[str, Any]]:
        execution = self.executions.get(qid)
        self.requests.append(("StopQueryExecution", qid))
        if execution is None:
            return 400, _error("InvalidRequestException", f"QueryExecution {qid} was not found")
        if execution.state in ("QUEUED", "RUNNING"):
            execution.state = "CANCELLED"
        return 200, {}

    # -- HTTP -----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                if status >= 400:
                    self.send_header("x-amzn-ErrorType", str(body.get("__type")))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                return json.loads(raw or b"{}")

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                body = self._body()
                target = self.headers.get("X-Amz-Target", "")
                if target.startswith("AmazonAthena."):
                    op = target.split(".", 1)[1]
                    qid = str(body.get("QueryExecutionId", ""))
                    answers = {
                        "StartQueryExecution": lambda: server.start(body),
                        "GetQueryExecution": lambda: server.get(qid),
                        "GetQueryResults": lambda: server.results(
                            qid, body.get("NextToken"), body.get("MaxResults")
                        ),
                        "StopQueryExecution": lambda: server.stop(qid),
                    }
                    if op in answers:
                        self._send(*answers[op]())
                        return
                elif path == "/query-executions":
                    self._send(*server.start(body))
                    return
                elif path.startswith("/query-executions/") and path.endswith("/stop"):
                    self._send(*server.stop(path.split("/")[2]))
                    return
                self._send(400, _error("UnknownOperationException", f"no such operation: {path}"))

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                query = parse_qs(parts.query)
                if len(segments) == 2 and segments[0] == "query-executions":
                    self._send(*server.get(segments[1]))
                elif len(segments) == 3 and segments[2] == "results":
                    max_results = query.get("MaxResults", [None])[0]
                    self._send(
                        *server.results(
                            segments[1],
                            query.get("NextToken", [None])[0],
                            int(max_results) if max_results else None,
                        )
                    )
                else:
                    self._send(400, _error("UnknownOperationException", parts.path))

        return Handler


def _datum(value: Any, athena_type: str) -> dict[str, str]:
    if value is None:
        return {}
    if athena_type == "double":
        return {"VarCharValue": java_double(float(value))}
    if athena_type == "boolean":
        return {"VarCharValue": "true" if value else "false"}
    return {"VarCharValue": str(value)}


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"__type": kind, "Message": message}
