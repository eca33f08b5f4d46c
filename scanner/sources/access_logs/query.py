"""The one aggregation both readers run: DuckDB over the loaded records (the `good_events` view),
and Athena over a CloudTrail table (`athena.py` supplies `events` as a common table expression).

It is written in the SQL both engines share (DuckDB and Trino, which Athena runs): CASE,
LIKE, `split_part`, `regexp_replace` with no back-references, `max_by`, GROUPING SETS with
`grouping()`, and Trino's `regexp_like` (DuckDB gets it as a macro, DUCKDB_FUNCTIONS). What
differs between the engines (reading JSON, parsing times) stays in the readers, which hand
this query the same columns:

    ts DOUBLE (epoch seconds), bucket, object_key, operation, ok BOOLEAN, identity_type,
    identity_arn, issuer_arn, account_id, invoked_by, source_ip, vpce, bytes, object_size

One row per (bucket, principal, day, network, model directory) of the successful object reads
in the window, and one coverage row over every record (window or not, read or not), so the
coverage of the logs costs no second scan in Athena. Principals are normalised here, once:
an assumed-role session is its role (`sessionIssuer.arn`, or the role named in the session
ARN when the issuer is not recorded, as in server access logs), an anonymous request is `*`,
a whole foreign account is its root, an AWS service is `service:NAME`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.artefacts.formats import MODEL_EXTENSIONS, SAVEDMODEL_NAMES
from scanner.sources.model_dirs import MARKER_FILES

READ_OPERATIONS = ("GetObject", "GetObjectVersion", "SelectObjectContent", "CopyObject")

# SageMaker's packaging of a model (what its ModelDataUrl names): not a model extension, but
# reading it is reading the model.
SAGEMAKER_ARCHIVE = "model.tar.gz"
NETWORKS = ("vpc_endpoint", "in_vpc", "aws", "public", "unknown")
COLUMNS = (
    "level",
    "bucket",
    "principal",
    "identity_type",
    "day",
    "network",
    "model_dir",
    "records",
    "reads",
    "bytes",
    "sized_reads",
    "copies",
    "first_ts",
    "last_ts",
    "largest_bytes",
    "largest_key",
    "largest_size",
    "ip_low",
    "ip_high",
    "ip_count",
    "vpce_low",
    "vpce_high",
)


@dataclass(frozen=True)
class Window:
    start: float  # epoch seconds, inclusive
    end: float  # exclusive


def _model_key(column: str) -> str:
    """The key names a model file or marker (by name, as the object-store listing narrows), or
    SageMaker's model archive. One regular expression: a chain of LIKEs cost more than the
    rest of the aggregation (measured)."""
    extensions = "|".join(sorted(re.escape(e.lstrip(".").lower()) for e in MODEL_EXTENSIONS))
    names = "|".join(
        sorted(re.escape(n.lower()) for n in {*SAVEDMODEL_NAMES, *MARKER_FILES, SAGEMAKER_ARCHIVE})
    )
    return f"regexp_like(lower({column}), '(\\.({extensions})|(^|/)({names}))$')"


def _private_ip(column: str) -> str:
    return (
        f"regexp_like({column}, "
        "'^(10\\.|192\\.168\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|[fF][cdCD][0-9a-fA-F]{0,2}:)')"
    )


PRINCIPAL = """CASE
    WHEN identity_type = 'AssumedRole' AND issuer_arn IS NOT NULL AND issuer_arn <> ''
        THEN issuer_arn
    WHEN identity_type = 'AssumedRole' AND identity_arn LIKE 'arn:%:sts::%:assumed-role/%'
        THEN split_part(identity_arn, ':', 1) || ':' || split_part(identity_arn, ':', 2)
             || ':iam::' || split_part(identity_arn, ':', 5) || ':role/'
             || split_part(split_part(identity_arn, ':', 6), '/', 2)
    WHEN identity_type = 'Anonymous' THEN '*'
    WHEN identity_type = 'AWSAccount' AND account_id = 'ANONYMOUS_PRINCIPAL' THEN '*'
    WHEN identity_type = 'AWSAccount' AND account_id IS NOT NULL AND account_id <> ''
        THEN 'arn:aws:iam::' || account_id || ':root'
    WHEN identity_type = 'AWSService' THEN 'service:' || coalesce(invoked_by, 'unknown')
    WHEN identity_type = 'CanonicalUser' THEN 'canonical-user:' || identity_arn
    WHEN identity_arn IS NOT NULL AND identity_arn <> '' THEN identity_arn
    WHEN account_id IS NOT NULL AND account_id <> ''
        THEN 'arn:aws:iam::' || account_id || ':root'
    ELSE 'unknown'
END"""


def network_sql() -> str:
    return f"""CASE
    WHEN vpce IS NOT NULL AND vpce <> '' THEN 'vpc_endpoint'
    WHEN source_ip IS NULL OR source_ip IN ('', '-', '0.0.0.0') THEN 'unknown'
    WHEN source_ip = 'AWS Internal' OR source_ip LIKE '%.amazonaws.com' THEN 'aws'
    WHEN {_private_ip("source_ip")} THEN 'in_vpc'
    WHEN source_ip LIKE '%.%.%.%' OR source_ip LIKE '%:%' THEN 'public'
    ELSE 'unknown'
END"""


def aggregation(events: str, window: Window) -> str:
    """The aggregation over `events` (a table name, or a CTE the caller defines first)."""
    ops = ", ".join(f"'{o}'" for o in READ_OPERATIONS)
    is_read = (
        f"(operation IN ({ops}) AND ok AND bucket IS NOT NULL AND object_key IS NOT NULL "
        f"AND ts >= {window.start!r} AND ts < {window.end!r})"
    )
    return f"""
base AS (
    SELECT ts, bytes, object_key, object_size, operation, source_ip, vpce, identity_type,
        identity_arn, issuer_arn, account_id, invoked_by, bucket, {is_read} AS is_read
    FROM {events}
),
classified AS (
    SELECT ts, bytes, object_key, object_size, operation, source_ip, vpce, identity_type,
        is_read,
        CASE WHEN is_read THEN bucket END AS r_bucket,
        CASE WHEN is_read THEN {PRINCIPAL} END AS r_principal,
        CASE WHEN is_read THEN CAST(floor(ts / 86400) AS BIGINT) END AS r_day,
        CASE WHEN is_read THEN {network_sql()} END AS r_network,
        CASE WHEN is_read AND {_model_key("object_key")}
             THEN regexp_replace(object_key, '(^|/)[^/]*$', '') END AS r_model_dir
    FROM base
)
SELECT
    grouping(r_bucket, r_principal, r_day, r_network, r_model_dir) AS level,
    r_bucket AS bucket, r_principal AS principal,
    max(CASE WHEN is_read THEN identity_type END) AS identity_type,
    r_day AS day, r_network AS network, r_model_dir AS model_dir,
    count(*) AS records,
    sum(CASE WHEN is_read THEN 1 ELSE 0 END) AS reads,
    sum(CASE WHEN is_read THEN bytes END) AS bytes,
    sum(CASE WHEN is_read AND bytes IS NOT NULL THEN 1 ELSE 0 END) AS sized_reads,
    sum(CASE WHEN is_read AND operation = 'CopyObject' THEN 1 ELSE 0 END) AS copies,
    min(ts) AS first_ts, max(ts) AS last_ts,
    max(CASE WHEN is_read THEN bytes END) AS largest_bytes,
    max_by(CASE WHEN is_read THEN object_key END, CASE WHEN is_read THEN bytes END)
        AS largest_key,
    max_by(CASE WHEN is_read THEN object_size END, CASE WHEN is_read THEN bytes END)
        AS largest_size,
    min(CASE WHEN is_read THEN source_ip END) AS ip_low,
    max(CASE WHEN is_read THEN source_ip END) AS ip_high,
    count(DISTINCT CASE WHEN is_read THEN source_ip END) AS ip_count,
    min(CASE WHEN is_read THEN vpce END) AS vpce_low,
    max(CASE WHEN is_read THEN vpce END) AS vpce_high
FROM classified
GROUP BY GROUPING SETS ((r_bucket, r_principal, r_day, r_network, r_model_dir), ())
HAVING grouping(r_bucket, r_principal, r_day, r_network, r_model_dir) <> 0
    OR sum(CASE WHEN is_read THEN 1 ELSE 0 END) > 0
"""


# Trino's name for the one function whose DuckDB name differs; the DuckDB reader defines it
# before running the aggregation, so the text stays the same for both engines.
DUCKDB_FUNCTIONS = ("CREATE TEMP MACRO regexp_like(s, p) AS regexp_matches(s, p)",)


def duckdb_query(window: Window) -> str:
    return "WITH " + aggregation("good_events", window)
