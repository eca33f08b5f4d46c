"""The aggregation run in Athena over a CloudTrail table, for trails too large for one machine.

The table is the one AWS documents for CloudTrail logs (`CREATE EXTERNAL TABLE cloudtrail_logs
(eventversion STRING, useridentity STRUCT<type, principalid, arn, accountid, invokedby, ...,
sessioncontext: STRUCT<..., sessionissuer: STRUCT<type, principalid, arn, accountid,
username>>>, eventtime STRING, eventsource STRING, eventname STRING, ..., sourceipaddress
STRING, errorcode STRING, requestparameters STRING, additionaleventdata STRING, ...,
vpcendpointid STRING ...)`, or the one the CloudTrail console creates, which has the same
columns). `events` is a common table expression over it that gives the shared aggregation
(`query.py`) the columns the DuckDB reader gives it; the aggregation text itself is the same.

Calls, all through boto3 on the AWS credential chain: StartQueryExecution (a SELECT; Athena
writes its result file to the workgroup's result location, as every Athena query does: the
one write this mode causes), GetQueryExecution until the query ends, GetQueryResults page by
page, and StopQueryExecution only for our own query when it outruns `timeout_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from scanner.sources.access_logs.options import AccessLogOptions, AthenaTarget
from scanner.sources.access_logs.query import Window, aggregation
from scanner.sources.aws.options import AwsOptions
from scanner.sources.aws.session import base_session
from scanner.sources.interface import Progress, SourceError

COPY_SOURCE = "regexp_replace(url_decode(json_extract_scalar(requestparameters, "
COPY_SOURCE += "'$[\"x-amz-copy-source\"]')), '^/', '')"

EVENTS = f"""events AS (
    SELECT
        to_unixtime(try(from_iso8601_timestamp(eventtime))) AS ts,
        CASE WHEN eventname = 'CopyObject'
             THEN nullif(split_part({COPY_SOURCE}, '/', 1), '')
             ELSE json_extract_scalar(requestparameters, '$.bucketName') END AS bucket,
        CASE WHEN eventname = 'CopyObject'
             THEN nullif(regexp_replace(regexp_replace({COPY_SOURCE}, '^[^/]*/', ''),
                                        '[?]versionId=.*$', ''), '')
             ELSE json_extract_scalar(requestparameters, '$.key') END AS object_key,
        CASE WHEN eventsource = 's3.amazonaws.com' THEN eventname
             ELSE coalesce(eventsource, '') || ':' || coalesce(eventname, '') END AS operation,
        errorcode IS NULL AS ok,
        useridentity.type AS identity_type,
        useridentity.arn AS identity_arn,
        useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
        useridentity.accountid AS account_id,
        useridentity.invokedby AS invoked_by,
        sourceipaddress AS source_ip,
        vpcendpointid AS vpce,
        CAST(try_cast(json_extract_scalar(additionaleventdata, '$.bytesTransferredOut')
                      AS DOUBLE) AS BIGINT) AS bytes,
        CAST(NULL AS BIGINT) AS object_size
    FROM {{table}}
)"""


def athena_query(target: AthenaTarget, window: Window) -> str:
    parts = target.table.split(".")
    if target.catalog and len(parts) == 2:
        parts = [target.catalog, *parts]
    table = ".".join(f'"{p}"' for p in parts)
    return "WITH " + EVENTS.format(table=table) + ",\n" + aggregation("events", window)


def _client(options: AccessLogOptions) -> Any:
    from botocore.config import Config

    session = base_session(options.label, AwsOptions(profile=options.profile))
    region = options.region or session.region_name or "us-east-1"
    return session.client(
        "athena", region_name=region, config=Config(retries={"max_attempts": 5, "mode": "adaptive"})
    )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return str(error.get("Code") or type(exc).__name__)


_CONVERT = {
    "tinyint": int,
    "smallint": int,
    "integer": int,
    "int": int,
    "bigint": int,
    "double": float,
    "float": float,
    "real": float,
    "boolean": lambda v: v == "true",
}


def run(options: AccessLogOptions, window: Window, progress: Progress) -> Iterator[tuple[Any, ...]]:
    """The aggregation's rows, typed as the result metadata says."""
    from botocore.exceptions import BotoCoreError, ClientError

    assert options.athena is not None
    target = options.athena
    client = _client(options)
    request: dict[str, Any] = {
        "QueryString": athena_query(target, window),
        "WorkGroup": target.workgroup,
    }
    context = {
        k: v
        for k, v in (("Database", target.database), ("Catalog", target.catalog))
        if v is not None
    }
    if context:
        request["QueryExecutionContext"] = context
    if target.output_location:
        request["ResultConfiguration"] = {"OutputLocation": target.output_location}
    label = options.label
    try:
        qid = client.start_query_execution(**request)["QueryExecutionId"]
    except ClientError as exc:
        raise SourceError(
            f"{label}: cannot start the query ({_code(exc)}: "
            f"{exc.response.get('Error', {}).get('Message', '')})"
        ) from None
    except BotoCoreError as exc:
        raise SourceError(f"{label}: cannot reach Athena: {exc}") from None
    progress(f"Athena query {qid} started in workgroup {target.workgroup}")
    deadline = time.monotonic() + options.timeout_seconds
    try:
        while True:
            status = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
            state = status.get("State")
            if state == "SUCCEEDED":
                break
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or "no reason given"
                raise SourceError(f"{label}: the Athena query {qid} {state.lower()}: {reason}")
            if time.monotonic() > deadline:
                client.stop_query_execution(QueryExecutionId=qid)
                raise SourceError(
                    f"{label}: the Athena query {qid} ran longer than timeout_seconds "
                    f"{options.timeout_seconds:g}; stopped"
                )
            time.sleep(options.poll_seconds)
        yield from _results(client, qid)
    except ClientError as exc:
        raise SourceError(f"{label}: Athena query {qid}: {_code(exc)}") from None
    except BotoCoreError as exc:
        raise SourceError(f"{label}: cannot reach Athena: {exc}") from None


def _results(client: Any, qid: str) -> Iterator[tuple[Any, ...]]:
    token: str | None = None
    first = True
    types: list[Any] = []
    while True:
        kwargs: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": 1000}
        if token:
            kwargs["NextToken"] = token
        page = client.get_query_results(**kwargs)
        result = page.get("ResultSet", {})
        if first:
            columns = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            types = [_CONVERT.get(str(c.get("Type", "varchar")).lower(), str) for c in columns]
        rows = result.get("Rows", [])
        # The first row of the first page is the header (the column names).
        for row in rows[1:] if first else rows:
            data = row.get("Data", [])
            yield tuple(
                None if "VarCharValue" not in cell else convert(cell["VarCharValue"])
                for convert, cell in zip(types, data, strict=True)
            )
        first = False
        token = page.get("NextToken")
        if not token:
            return
