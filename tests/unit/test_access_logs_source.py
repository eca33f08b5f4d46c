"""The access-logs: source on generated CloudTrail and S3 server access logs: what each format
says, the shapes real logs have, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from scanner.errors import UsageError
from scanner.inventory import Ref
from scanner.sources.interface import SourceError
from scanner.sources.registry import build_source, parse_spec
from tests.accesslogs import (
    GB,
    Read,
    Who,
    daily,
    server_access_line,
    write_cloudtrail,
    write_server_access,
)

END = dt.datetime(2024, 6, 30, tzinfo=dt.UTC)
START = END - dt.timedelta(days=100)
SERVE = Who("role", "fraud-serving", path="/service-role/", session="i-0abc123")
BOB = Who("user", "bob")
MALLORY = Who("user", "mallory")


def collect(target: Path | str, **options):
    source = build_source(
        parse_spec(f"access-logs:{target}", options={"window_end": "2024-06-30", **options})
    )
    return source.collect(lambda _m: None)


def bucket(collection, name: str = "models") -> dict:
    (resource,) = collection.resources
    return next(b for b in resource.attributes["buckets"] if b["bucket"] == name)


def reader(entry: dict, principal: str) -> dict:
    return next(r for r in entry["readers"] if r["principal"] == principal)


def reads() -> list[Read]:
    out = daily(
        SERVE,
        "models",
        ["fraud/3/model.safetensors"],
        start=START,
        days=100,
        bytes_each=2 * GB,
        vpce="vpce-0abc",
        ip="10.0.1.20",
    )
    out += daily(
        BOB,
        "models",
        ["fraud/3/model.safetensors", "fraud/3/config.json"],
        start=START,
        days=100,
        bytes_each=GB,
        every=7,
        ip="10.2.3.4",
    )
    out += [
        Read(
            END - dt.timedelta(days=3) + dt.timedelta(hours=v),
            "models",
            f"fraud/{v}/model.safetensors",
            MALLORY,
            ip="203.0.113.77",
            bytes=4 * GB,
            object_size=4 * GB,
        )
        for v in (1, 2, 3)
    ]
    return out


@pytest.mark.parametrize("fmt", ["cloudtrail", "s3-server-access"])
def test_both_formats_say_the_same_about_who_read(tmp_path: Path, fmt: str) -> None:
    if fmt == "cloudtrail":
        write_cloudtrail(tmp_path, reads())
    else:
        write_server_access(tmp_path, reads(), per_file=40)
    out = collect(tmp_path)
    assert out.problems == ()
    (resource,) = out.resources
    assert resource.type == "access_log"
    assert resource.attributes["formats"] == {
        fmt: len(list(tmp_path.rglob("*.*" if fmt == "cloudtrail" else "2024-*")))
    }
    window = resource.attributes["window"]
    assert window == {"start": "2024-04-01T00:00:00Z", "end": "2024-06-30T00:00:00Z", "days": 90}
    coverage = resource.attributes["coverage"]
    assert coverage["whole_window"] is True and coverage["covered_days"] == 89
    entry = bucket(out)
    assert entry["storage"] == Ref("s3://models")
    # 90 daily serving reads in the window, 13 weeks of bob's two keys, mallory's three.
    serve_id = (
        "arn:aws:iam::111122223333:role/service-role/fraud-serving"
        if fmt == "cloudtrail"  # the session issuer's ARN, path and all
        else "arn:aws:iam::111122223333:role/fraud-serving"  # the session ARN has no path
    )
    serve = reader(entry, serve_id)
    assert serve["reads"] == 90 and serve["bytes"] == 90 * 2 * GB
    assert serve["networks"] == ({"vpc_endpoint": 90} if fmt == "cloudtrail" else {"in_vpc": 90})
    bob = reader(entry, "arn:aws:iam::111122223333:user/bob")
    assert bob["reads"] == 26 and bob["model_reads"] == 13
    mallory = reader(entry, "arn:aws:iam::111122223333:user/mallory")
    assert mallory["networks"] == {"public": 3}
    assert mallory["source_ips"] == {"public": ["203.0.113.77"]}
    assert mallory["first_read"] == "2024-06-27T01:00:00Z"
    assert entry["read_events"] == 90 + 26 + 3


@pytest.mark.parametrize("fmt", ["cloudtrail", "s3-server-access"])
def test_a_public_bulk_read_of_a_model_is_flagged_in_words(tmp_path: Path, fmt: str) -> None:
    (write_cloudtrail if fmt == "cloudtrail" else write_server_access)(tmp_path, reads())
    entry = bucket(collect(tmp_path))
    kinds = {(b["kind"], b["principal"].rsplit("/", 1)[-1]) for b in entry["bulk_reads"]}
    assert kinds == {("daily_volume", "mallory"), ("public_whole_model", "mallory")}
    day = next(b for b in entry["bulk_reads"] if b["kind"] == "daily_volume")
    assert day["bytes"] == 12 * GB and day["day"] == "2024-06-27"
    assert "public IP 203.0.113.77" in day["reason"]
    assert "6.0x the other principals' p99 day (2.0 GB)" in day["reason"]
    singles = [b for b in entry["bulk_reads"] if b["kind"] == "public_whole_model"]
    assert {b["key"] for b in singles} == {f"fraud/{v}/model.safetensors" for v in (1, 2, 3)}
    # Server access logs record the object's size: a whole-file read is known as such.
    expect_whole = True if fmt == "s3-server-access" else None
    assert {b["whole_file"] for b in singles} == {expect_whole}


def test_steady_readers_are_not_bulk(tmp_path: Path) -> None:
    """A serving role reloading the same 2 GB model daily stays at its own median."""
    write_cloudtrail(tmp_path, reads()[:-3])
    assert bucket(collect(tmp_path))["bulk_reads"] == []


def test_hidden_shapes_of_real_logs(tmp_path: Path) -> None:
    """Management events mixed in, an uncompressed file, an exported newline-delimited file,
    a CopyObject (the read is of the copy source), a denied read (not a read), `-` fields and a
    quoted request URI with spaces, a key needing URL decoding, a digest file."""
    when = END - dt.timedelta(days=10)
    ct = write_cloudtrail(
        tmp_path / "ct",
        [
            Read(
                when,
                "models",
                "fraud/3/model.safetensors",
                BOB,
                ip="198.51.100.9",
                operation="CopyObject",
                bytes=None,
            ),
            Read(when, "models", "fraud/3/model.safetensors", MALLORY, error="AccessDenied"),
        ],
        gz=False,
        management_every=1,
    )
    assert ct.files[0].suffix == ".json"
    export = tmp_path / "ct" / "export.jsonl"
    import random

    from tests.accesslogs import cloudtrail_record

    rng = random.Random(3)
    export.write_text(
        "\n".join(
            json.dumps(
                cloudtrail_record(
                    Read(when, "models", "fraud/3/MLmodel", SERVE, vpce="vpce-1"), rng
                )
            )
            for _ in range(2)
        )
        + "\n"
    )
    (tmp_path / "ct" / "digest.json.gz").write_bytes(
        gzip.compress(b'{"awsAccountId":"111122223333","digestStartTime":"2024-06-20T00:00:00Z"}')
    )
    sal = tmp_path / "sal" / "2024-06-20-10-00-00-0123456789ABCDEF"
    sal.parent.mkdir()
    line = server_access_line(
        Read(
            when,
            "models",
            "fraud v2/weights.pt",
            Who("anonymous"),
            ip="192.0.2.44",
            bytes=None,
            object_size=None,
        ),
        random.Random(4),
    )
    assert '"GET /models/fraud%20v2/weights.pt HTTP/1.1"' in line and " - - " in line
    sal.write_text(line + "\n")
    out = collect(tmp_path)
    assert out.problems == ()
    (resource,) = out.resources
    assert resource.attributes["formats"] == {"cloudtrail": 2, "s3-server-access": 1}
    entry = bucket(out)
    bob = reader(entry, "arn:aws:iam::111122223333:user/bob")
    assert bob["copies"] == 1 and bob["unsized_reads"] == 1
    assert all(r["principal"] != "arn:aws:iam::111122223333:user/mallory" for r in entry["readers"])
    anyone = reader(entry, "*")
    assert anyone["model_reads"] == 1 and anyone["bytes"] == 0
    dirs = {d["dir"] for d in entry["model_dirs"]}
    assert dirs == {"fraud/3", "fraud v2"}


def test_other_accounts_services_and_anonymous_callers(tmp_path: Path) -> None:
    when = END - dt.timedelta(days=2)
    write_cloudtrail(
        tmp_path,
        [
            Read(when, "models", "m/model.onnx", Who("account", account="444455556666")),
            Read(when, "models", "m/model.onnx", Who("anonymous")),
            Read(
                when,
                "models",
                "m/model.onnx",
                Who("service", "sagemaker.amazonaws.com"),
                ip="sagemaker.amazonaws.com",
            ),
        ],
    )
    entry = bucket(collect(tmp_path))
    found = {r["principal"]: r["networks"] for r in entry["readers"]}
    assert found == {
        "arn:aws:iam::444455556666:root": {"in_vpc": 1},
        "*": {"in_vpc": 1},
        "service:sagemaker.amazonaws.com": {"aws": 1},
    }


def test_reads_outside_the_window_are_not_reads_but_do_cover(tmp_path: Path) -> None:
    write_cloudtrail(tmp_path, [Read(END - dt.timedelta(days=200), "models", "m/x.pt", BOB)])
    out = collect(tmp_path)
    (resource,) = out.resources
    assert resource.attributes["buckets"] == []
    assert resource.attributes["coverage"]["first_record"].startswith("2023-12-13")
    # ... but the logs end 200 days before the window's end: not the whole window.
    assert resource.attributes["coverage"]["whole_window"] is False


def test_logs_that_start_late_do_not_cover_the_window(tmp_path: Path) -> None:
    write_cloudtrail(
        tmp_path,
        daily(BOB, "models", ["m/x.pt"], start=END - dt.timedelta(days=30), days=30, bytes_each=10),
    )
    coverage = collect(tmp_path).resources[0].attributes["coverage"]
    assert coverage["whole_window"] is False
    assert coverage["covered_days"] == 29


def test_malformed_lines_are_counted_and_reported(tmp_path: Path) -> None:
    write_server_access(tmp_path, reads(), per_file=1000)
    log = next(tmp_path.iterdir())
    lines = log.read_text().splitlines()
    lines.insert(5, "this is not a server access log line")
    lines.insert(9, lines[8].replace("[", "[99/Xyz/2024:", 1))
    log.write_text("\n".join(lines) + "\n")
    out = collect(tmp_path, max_malformed=0.05)
    assert len(out.resources) == 1
    assert sorted(out.problems) == [
        f"access-logs:{tmp_path}: 1 of {len(lines)} records malformed: missing or unreadable "
        f"time (first in {log})",
        f"access-logs:{tmp_path}: 1 of {len(lines)} records malformed: not a CloudTrail record "
        f"or server access log line (first in {log})",
    ]
    with pytest.raises(
        SourceError, match=r"2 of \d+ records malformed \(1\.\d%\), more than max_malformed 1\.0%"
    ):
        collect(tmp_path)


def test_a_broken_file_is_counted_not_fatal_for_the_others(tmp_path: Path) -> None:
    write_cloudtrail(tmp_path, reads(), per_file=1000)
    broken = tmp_path / "AWSLogs" / "broken.json.gz"
    broken.write_bytes(gzip.compress(b'{"Records": [{"eventTime": "2024-06-01T00:00:00Z", ')[:-5])
    out = collect(tmp_path, max_malformed=0.5)
    assert len(out.problems) == 1
    assert (
        "records malformed: a file that is not valid JSON, not a complete gzip stream, or over "
        "max_json_mb" in out.problems[0]
    )
    assert str(broken) in out.problems[0]
    assert bucket(out)["read_events"] == 119


def test_a_cloudtrail_file_over_max_json_mb_is_unreadable_not_the_others(tmp_path: Path) -> None:
    write_cloudtrail(tmp_path, reads(), per_file=1000)
    # One file whose JSON object is over 1 MiB once decompressed (a few kB of gzip).
    padding = [{"eventName": "GetObject", "padding": "x" * 1024} for _ in range(1100)]
    big = tmp_path / "AWSLogs" / "big.json.gz"
    big.write_bytes(gzip.compress(json.dumps({"Records": padding}).encode()))
    out = collect(tmp_path, max_json_mb=1, max_malformed=0.5)
    assert len(out.problems) == 1
    assert (
        "a file that is not valid JSON, not a complete gzip stream, or over max_json_mb"
        in out.problems[0]
    )
    assert f"{big} (its JSON is 1 MB, more than max_json_mb 1)" in out.problems[0]
    assert bucket(out)["read_events"] == 119
    assert out.resources[0].attributes["coverage"]["malformed"] == {"unreadable_file": 1}


def test_unrecognised_files_are_reported(tmp_path: Path) -> None:
    write_cloudtrail(tmp_path, reads()[:5])
    (tmp_path / "README.txt").write_text("notes about the logs\n")
    out = collect(tmp_path)
    assert out.problems == (
        f"access-logs:{tmp_path}: 1 file(s) are neither CloudTrail nor S3 server access logs "
        f"(first {tmp_path / 'README.txt'})",
    )


def test_a_target_with_no_logs_fails(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or directory"):
        collect(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="the directory holds no files"):
        collect(empty)
    (empty / "notes.txt").write_text("hello\n")
    with pytest.raises(
        SourceError, match=r"no CloudTrail or S3 server access log files \(1 other file\(s\)"
    ):
        collect(empty)


def test_logs_without_records_are_a_problem(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text('{"Records": []}')
    out = collect(tmp_path)
    assert out.problems == (f"access-logs:{tmp_path}: the logs hold no records",)
    assert out.resources[0].attributes["buckets"] == []


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("access-logs:./x", {"window_days": 0}, "window_days must be an integer between 1"),
        ("access-logs:./x", {"format": "csv"}, "format must be one of auto, cloudtrail"),
        ("access-logs:./x", {"workgroup": "w"}, "'workgroup' is only for athena: targets"),
        ("access-logs:./x", {"thresholds": {"own_factor": -1}}, "thresholds must be a mapping"),
        ("access-logs:./x", {"window_end": "soon"}, "window_end must be an ISO 8601"),
        ("access-logs:athena:workgroup=primary", {}, "needs table"),
        ("access-logs:athena:workgroup=primary,table=a;drop", {}, "table must be TABLE"),
        ("access-logs:athena:workgroup", {}, "expected athena:KEY=VALUE"),
        ("access-logs:s3://", {}, "expected s3://BUCKET/PREFIX"),
        ("access-logs:./x", {"colour": 1}, "unknown option 'colour'"),
        ("access-logs:./x", {"max_json_mb": 0}, "max_json_mb must be an integer between 1"),
    ],
)
def test_bad_options_are_usage_errors(spec: str, options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_source(parse_spec(spec, options=options))
