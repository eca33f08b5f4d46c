"""access-logs: against real parts on loopback: log objects in the moto server (`s3://`),
genuine S3 server access logs that moto writes, and the Athena shape server (`athena:`). The
whole scan (aws: + access-logs:s3://, the built-in policies, the report) in a real process is
the demo's (tests/integration/test_demo.py)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from scanner.inventory import Inventory, Unknown
from scanner.linking import link
from scanner.sources.interface import SourceError
from scanner.sources.registry import build_source, parse_spec
from tests.accesslogs import (
    GB,
    Read,
    Who,
    cloudtrail_record,
    daily,
    write_cloudtrail,
)
from tests.aws_estate import ACCOUNT, aws_env, policy, safetensors
from tests.servers.athena import AthenaShapeServer

pytestmark = pytest.mark.slow

END = dt.datetime(2024, 6, 30, tzinfo=dt.UTC)
START = END - dt.timedelta(days=100)
SERVE = Who("role", "fraud-serving", account=ACCOUNT)
LEGACY = Who("role", "legacy-etl", account=ACCOUNT)
MALLORY = Who("user", "mallory", account=ACCOUNT)


def workload(bucket: str = "models") -> list[Read]:
    out = daily(
        SERVE,
        bucket,
        ["fraud/3/model.safetensors"],
        start=START,
        days=100,
        bytes_each=2 * GB,
        vpce="vpce-0abc",
    )
    out += [
        Read(
            END - dt.timedelta(days=3) + dt.timedelta(hours=h),
            bucket,
            f"fraud/{h}/model.safetensors",
            MALLORY,
            ip="203.0.113.77",
            bytes=4 * GB,
        )
        for h in range(3)
    ]
    return out


def collect(spec: str, **options):
    source = build_source(parse_spec(spec, options={"window_end": "2024-06-30", **options}))
    return source.collect(lambda _m: None)


# ------------------------------------------------------------------------------------------
# s3:// through the moto server


def upload(moto, bucket: str, root: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=str(path.relative_to(root)), Body=path.read_bytes())


def test_s3_prefix_reads_as_the_same_files_on_disk(moto, tmp_path: Path) -> None:
    write_cloudtrail(tmp_path, workload(), per_file=20)
    upload(moto, "trail-logs", tmp_path)
    on_disk = collect(f"access-logs:{tmp_path}")
    with aws_env(moto):
        # batch_mb=1: the objects come in several batches, each read and deleted in turn.
        in_s3 = collect("access-logs:s3://trail-logs/AWSLogs/", batch_mb=1)
    assert in_s3.problems == on_disk.problems == ()
    (a,), (b,) = on_disk.resources, in_s3.resources
    assert a.attributes["buckets"] == b.attributes["buckets"]
    assert a.attributes["coverage"]["records"] == b.attributes["coverage"]["records"]
    assert b.id == "access-log:s3://trail-logs/AWSLogs/"
    with aws_env(moto):
        with pytest.raises(SourceError, match="no objects under the prefix"):
            collect("access-logs:s3://trail-logs/nothing-here/")
        with pytest.raises(SourceError, match=r"cannot list the log objects \(NoSuchBucket"):
            collect("access-logs:s3://no-such-bucket/")


def test_genuine_server_access_logs_written_by_moto(moto) -> None:
    """A scan-free workload of reads against a bucket with logging on, then the logs moto wrote
    read back. moto 5.2 writes every request as `REST.<METHOD>.BUCKET` against a bucket named
    `originbucket`, with key `-`, remote IP 0.0.0.0, requester `-` and an unquoted request
    line. The source parses every line (the request line is also accepted unquoted) and, the
    documented fields being what they are, finds no object reads in them: the bucket that was
    read is then Unknown, never "no readers"."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="genuine-models")
    s3.create_bucket(Bucket="genuine-logs")
    s3.put_bucket_policy(
        Bucket="genuine-logs",
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::genuine-logs/*",
            }
        ),
    )
    s3.put_object(Bucket="genuine-models", Key="fraud/3/model.safetensors", Body=safetensors())
    s3.put_bucket_logging(
        Bucket="genuine-models",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "genuine-logs", "TargetPrefix": "access/"}
        },
    )
    for _ in range(4):
        s3.get_object(Bucket="genuine-models", Key="fraud/3/model.safetensors")["Body"].read()
    s3.list_objects_v2(Bucket="genuine-models")
    written = s3.list_objects_v2(Bucket="genuine-logs", Prefix="access/")["KeyCount"]
    assert written == 5
    with aws_env(moto):
        out = build_source(parse_spec("access-logs:s3://genuine-logs/access/")).collect(
            lambda _m: None
        )
    assert out.problems == ()
    (log,) = out.resources
    attrs = log.attributes
    assert attrs["formats"] == {"s3-server-access": 5}
    assert attrs["coverage"]["records"] == 5 and attrs["coverage"]["malformed"] == {}
    assert attrs["buckets"] == []
    storage = {
        "provider": "aws",
        "account": ACCOUNT,
        "holds_models": True,
        "readers": [],
        "access_grants": [],
    }
    from scanner.inventory import Resource

    linked = link(
        Inventory(
            [Resource("s3://genuine-models", "storage", "genuine-models", "aws", storage), log]
        )
    )
    observed = linked.get("s3://genuine-models").attributes["observed_readers"]
    assert isinstance(observed, Unknown)
    assert observed.reason.startswith("no data events for this bucket in the logs")


# ------------------------------------------------------------------------------------------
# athena:


def records(reads: list[Read]) -> list[dict]:
    rng = random.Random(5)
    out = [cloudtrail_record(r, rng) for r in reads]
    # A management event and a denied read: neither is a read.
    out.append(
        {
            "eventTime": "2024-06-01T00:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "ListRoles",
            "userIdentity": SERVE.user_identity(),
        }
    )
    denied = cloudtrail_record(
        Read(
            END - dt.timedelta(days=1), "models", "fraud/9/model.pt", LEGACY, error="AccessDenied"
        ),
        rng,
    )
    return [*out, denied]


@pytest.fixture
def athena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def start(**kw) -> AthenaShapeServer:
        server = AthenaShapeServer(
            {"security.cloudtrail_logs": records(workload())}, workdir=tmp_path, **kw
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", server.url)
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            monkeypatch.setenv(key, value)
        return server

    return start


def test_athena_runs_the_same_aggregation_as_duckdb(athena, tmp_path: Path) -> None:
    reads = workload()
    write_cloudtrail(tmp_path / "files", reads)
    (tmp_path / "files" / "extra.json").write_text(json.dumps({"Records": records([])}))
    local = collect(f"access-logs:{tmp_path / 'files'}")
    server = athena(page_max=7, queued_polls=2, running_polls=2)
    with server.running():
        remote = collect(
            "access-logs:athena:workgroup=primary,table=security.cloudtrail_logs,"
            "catalog=AwsDataCatalog",
            poll_seconds=0.01,
        )
    assert remote.problems == ()
    (a,), (b,) = local.resources, remote.resources
    assert b.id == (
        "access-log:athena:workgroup=primary,table=security.cloudtrail_logs,catalog=AwsDataCatalog"
    )
    assert b.attributes["buckets"] == a.attributes["buckets"]
    assert b.attributes["coverage"]["first_record"] == a.attributes["coverage"]["first_record"]
    assert b.attributes["coverage"]["whole_window"] is True
    # Paged 7 rows at a time, polled through QUEUED and RUNNING; nothing but these calls.
    ops = [op for op, _ in server.requests]
    assert ops[0] == "StartQueryExecution" and ops.count("GetQueryExecution") == 5
    assert ops.count("GetQueryResults") >= 3
    assert set(ops) == {"StartQueryExecution", "GetQueryExecution", "GetQueryResults"}
    bulk = {(x["kind"], x["principal"]) for x in b.attributes["buckets"][0]["bulk_reads"]}
    assert ("daily_volume", MALLORY.arn) in bulk


def test_athena_failures_are_source_errors(athena) -> None:
    server = athena(queued_polls=10_000)
    with server.running():
        with pytest.raises(SourceError, match=r"WorkGroup nope is not found"):
            collect("access-logs:athena:workgroup=nope,table=security.cloudtrail_logs")
        with pytest.raises(SourceError, match=r"ran longer than timeout_seconds 1; stopped"):
            collect(
                "access-logs:athena:workgroup=primary,table=security.cloudtrail_logs",
                poll_seconds=0.05,
                timeout_seconds=1,
            )
        assert server.requests[-1][0] == "StopQueryExecution"
    server = athena()
    with (
        server.running(),
        pytest.raises(SourceError, match=r"the Athena query .* failed: FAILED: .*missing_table"),
    ):
        collect(
            "access-logs:athena:workgroup=primary,table=security.missing_table",
            poll_seconds=0.01,
        )
