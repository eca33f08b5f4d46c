"""The logs source on synthetic logs: each detector, missing fields, formats, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from scanner.errors import UsageError
from scanner.inventory import Ref, Unknown
from scanner.sources.interface import SourceError, SourceSpec
from scanner.sources.logs.source import LogsSource
from scanner.sources.registry import build_source, parse_spec
from tests.logsynth import Log, boundary_points, bulk_jsonl, chained_perturber

ARN = "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/"


def collect(path: Path, **options):
    options.setdefault("endpoint", "fraud")
    source = LogsSource(SourceSpec("logs", str(path), f"logs:{path}", options))
    return source.collect(lambda _m: None)


def only(collection):
    assert len(collection.resources) == 1
    return collection.resources[0].attributes


def flagged(attrs) -> dict[str, list[str]]:
    return {e["client"]: e["detectors"] for e in attrs["suspicious_clients"]}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory) -> Path:
    """A month of benign traffic plus one attacker per detector."""
    log = Log()
    log.benign(
        asn=lambda c: f"AS{64500 + c % 6}",
        ip=lambda c: f"10.{c % 6}.{c}.9",
        org=lambda c: f"org-{c % 25}",
    )
    log.burst("heavy", day=10, n=300)
    log.random_prober("random-prober", day=12)
    log.perturber(["perturber"], day=14)
    # Spread over several days: each account stays under the volume threshold.
    for i in range(10):
        log.burst("boundary-prober", day=16 + i, n=6, x=boundary_points(log, 6))
    chained_perturber(log, [f"sybil-{i}" for i in range(8)], day=18, asn="AS64999", ip="192.0.2.77")
    for c in range(10):  # one organisation whose members are each unremarkable
        for day in range(3):
            log.burst(f"megacorp-{c}", day=20 + day, n=8, org="megacorp")
    return log.write_jsonl(tmp_path_factory.mktemp("logs") / "month.jsonl")


@pytest.fixture(scope="module")
def month(attacked):
    return only(collect(attacked, endpoint_arn_prefix=ARN))


def test_every_detector_runs_when_every_field_is_there(month):
    assert month["detectors_ran"] == [
        "volume",
        "org_volume",
        "ood",
        "near_duplicate",
        "boundary",
        "sybil",
    ]
    assert month["detectors_skipped"] == []
    assert month["endpoint"] == Ref(ARN + "fraud")


def test_benign_clients_are_not_flagged(month):
    benign = [c for c in flagged(month) if c.startswith("user-")]
    assert benign == []


def test_volume_flags_a_burst_early(month):
    entry = next(e for e in month["suspicious_clients"] if e["client"] == "heavy")
    assert entry["detectors"] == ["volume"]
    alarm = entry["alarms"][0]
    assert alarm["queries_until_alarm"] <= 40
    assert alarm["score"] > alarm["threshold"] == 2.0
    assert "population p99" in alarm["reason"]


def test_ood_flags_random_probing_within_a_few_queries(month):
    entry = next(e for e in month["suspicious_clients"] if e["client"] == "random-prober")
    ood = next(a for a in entry["alarms"] if a["detector"] == "ood")
    assert ood["queries_until_alarm"] <= 10
    assert "far from the reference distribution" in ood["reason"]


def test_near_duplicates_flag_perturbation_chains(month):
    assert "near_duplicate" in flagged(month)["perturber"]


def test_boundary_flags_queries_answered_at_the_boundary(month):
    assert "boundary" in flagged(month)["boundary-prober"]


def test_sybil_group_trips_what_no_member_trips_alone(month):
    found = flagged(month)
    for i in range(8):
        assert found[f"sybil-{i}"] == ["sybil"], found.get(f"sybil-{i}")
    group = next(g for g in month["suspicious_groups"] if g["kind"] != "org")
    assert group["member_count"] == 8
    assert "near_duplicate" in group["detectors"]
    assert "none trips alone" in group["alarms"][0]["reason"]


def test_org_volume_flags_an_organisation_of_quiet_members(month):
    org = [g for g in month["suspicious_groups"] if g["kind"] == "org"]
    assert [g["key"] for g in org] == ["megacorp"]
    assert not any(c.startswith("megacorp") for c in flagged(month))


def test_calibration_from_a_month(month):
    base, limits = month["baseline"], month["recommended_limits"]
    assert month["window"]["days"] >= 28
    assert 0 < base["p50_daily"] <= base["p90_daily"] <= base["p99_daily"]
    assert limits["daily"] >= 2 * base["p99_daily"]
    cost = month["attacker_cost"][0]
    assert cost["queries"] == 10_000
    assert cost["account_days"] * cost["per_account_per_day"] >= 10_000


def test_short_logs_give_no_baseline(tmp_path):
    log = Log()
    log.benign(clients=25, days=5)
    attrs = only(collect(log.write_jsonl(tmp_path / "week.jsonl")))
    assert isinstance(attrs["baseline"], Unknown)
    assert "5 day(s)" in attrs["baseline"].reason
    assert isinstance(attrs["recommended_limits"], Unknown)
    assert "volume" in attrs["detectors_ran"]  # the detector still has a population


def test_tiers_get_their_own_baseline(tmp_path):
    log = Log()
    log.benign(clients=30, per_day=2, tier="free")
    log.rng = __import__("numpy").random.default_rng(9)
    before = len(log.rows)
    log.benign(clients=30, per_day=12, tier="pro")
    for row in log.rows[before:]:
        row["client"] = "pro-" + row["client"]
    path = log.write_jsonl(tmp_path / "tiers.jsonl", drop=("features", "scores"))
    attrs = only(collect(path))
    tiers = attrs["baseline_by_tier"]
    assert set(tiers) == {"free", "pro"}
    assert tiers["free"]["p99_daily"] < tiers["pro"]["p99_daily"]
    assert attrs["recommended_limits_by_tier"]["pro"]["daily"] > 20


def test_missing_fields_disable_detectors_and_say_so(tmp_path):
    log = Log()
    log.benign(clients=25, days=3)
    attrs = only(collect(log.write_jsonl(tmp_path / "plain.jsonl", drop=("features", "scores"))))
    assert attrs["detectors_ran"] == ["volume"]
    skipped = {s["detector"]: s["reason"] for s in attrs["detectors_skipped"]}
    assert skipped["ood"] == skipped["near_duplicate"] == "no input field in the mapping"
    assert skipped["boundary"] == "no output field in the mapping"
    assert "no asn, ip or key_owner" in skipped["sybil"]
    assert skipped["org_volume"] == "no org field in the mapping"


def test_no_client_field_is_a_source_error(tmp_path):
    path = tmp_path / "anon.jsonl"
    path.write_text('{"ts": "2024-03-01T00:00:00Z", "x": 1}\n')
    with pytest.raises(SourceError, match=r"no client field.*fields: \{client: FIELD\}"):
        collect(path)


def test_field_mapping_names_nested_fields(tmp_path):
    path = tmp_path / "nested.jsonl"
    rows = [
        {"who": {"id": f"c{i % 3}"}, "at": 1709251200 + i, "req": {"vec": [i, 1.0]}}
        for i in range(30)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    attrs = only(collect(path, fields={"client": "who.id", "timestamp": "at", "input": "req.vec"}))
    assert attrs["clients"] == 3
    assert attrs["requests"] == 30
    assert attrs["fields"]["input"] == "req.vec"


def test_malformed_lines_are_counted_problems(tmp_path, attacked):
    path = tmp_path / "some-bad.jsonl"
    lines = attacked.read_text().splitlines()
    lines[5] = "{not json"
    lines[9] = "[1, 2, 3]"
    lines[12] = json.dumps({"client": "x", "ts": "yesterday-ish"})
    path.write_text("\n".join(lines) + "\n")
    collection = collect(path)
    assert len(collection.resources) == 1
    problems = "\n".join(collection.problems)
    assert f"2 of {len(lines)} records malformed: not a JSON object with any mapped" in problems
    assert "1 of" in problems and "unreadable timestamp" in problems
    assert str(path) in problems


def test_too_many_malformed_lines_fail_the_source(tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_text('{"client": "a", "ts": 1709251200}\n' + "garbage\n" * 5)
    with pytest.raises(
        SourceError,
        match=r"5 of 6 records malformed \(83\.3%\), more than "
        r"max_malformed 1\.0%",
    ):
        collect(path)
    # The threshold is the user's to set.
    collection = collect(path, max_malformed=0.9)
    assert collection.problems and collection.resources


def test_bad_input_vectors_keep_the_request_for_volume(tmp_path):
    path = tmp_path / "vectors.jsonl"
    rows = [{"client": "a", "ts": 1709251200 + i, "features": [1.0, 2.0, 3.0]} for i in range(20)]
    rows += [
        {"client": "a", "ts": 1709251300, "features": [1.0, "x", 3.0]},
        {"client": "a", "ts": 1709251301, "features": [1.0, 2.0]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    collection = collect(path, max_malformed=0.5)
    assert only(collection)["requests"] == 22
    assert any(
        "2 of 22 records malformed: input present but not a numeric vector" in p
        for p in collection.problems
    )


def test_empty_log(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    collection = collect(path)
    assert any("hold no requests" in p for p in collection.problems)
    attrs = only(collection)
    assert attrs["requests"] == 0
    assert isinstance(attrs["baseline"], Unknown)
    assert isinstance(attrs["suspicious_clients"], Unknown)
    nothing = LogsSource(SourceSpec("logs", str(path), "x", {})).collect(lambda _m: None)
    assert nothing.resources == () and nothing.problems


@pytest.fixture(scope="module")
def bulk(tmp_path_factory) -> Path:
    return bulk_jsonl(tmp_path_factory.mktemp("bulk") / "bulk.jsonl")


def test_memory_cap_spills_and_gives_the_same_answer(bulk, monkeypatch):
    from scanner.sources.logs import analyze

    free = only(collect(bulk))
    # DuckDB's JSON reader needs most of 64 MB for its buffers whatever the file; the log is
    # twice that, so it can only have been streamed.
    assert bulk.stat().st_size > 2 * 64 * 1024 * 1024
    # Vectors are also fetched in many small client partitions instead of one.
    monkeypatch.setattr(analyze, "budget_bytes", lambda _options: 20_000)
    capped = only(collect(bulk, memory_limit="64MB", threads=1))
    assert capped["suspicious_clients"] == free["suspicious_clients"]
    assert "c0" in [e["client"] for e in capped["suspicious_clients"]]  # the random prober
    assert capped["baseline"] == free["baseline"]
    assert capped["requests"] == free["requests"] == 64_000


def test_out_of_memory_is_a_source_error_naming_the_option(attacked):
    with pytest.raises(SourceError, match=r"out of memory.*raise memory_limit"):
        collect(attacked, memory_limit="1KB", threads=1)


HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "[bold]markup[/bold]",
    "\u202eevil",
    "o'brien'); DROP TABLE q; --",
    "https://user:hunter2@example.com/x?token=abc",
    "x" * 5000,
]


def test_hostile_client_ids_are_kept_as_data(tmp_path):
    log = Log()
    log.benign(clients=22, days=10, asn="AS1", ip=lambda c: "10.0.0.1")
    for i, name in enumerate(HOSTILE):
        log.random_prober(name, day=8 + i % 2, n=20, asn="AS1", ip="10.0.0.1")
    attrs = only(collect(log.write_jsonl(tmp_path / "hostile.jsonl")))
    clients = {e["client"] for e in attrs["suspicious_clients"]}
    assert "\x1b[31mred\x1b[0m" in clients  # data, not interpreted
    assert "o'brien'); DROP TABLE q; --" in clients
    assert "https://***@example.com/x?token=***" in clients
    assert all(len(c) <= 256 for c in clients)
    assert "hunter2" not in json.dumps(attrs, default=str)


def test_csv_logs(tmp_path):
    path = tmp_path / "log.csv"
    lines = (
        ["account_id,timestamp,plan"]
        + [f"c{i % 4},{1709251200 + i * 60},free" for i in range(40)]
        + ["broken,row,with,too,many"]
    )
    path.write_text("\n".join(lines) + "\n")
    collection = collect(path, max_malformed=0.5)
    attrs = only(collection)
    assert attrs["format"] == "csv"
    assert attrs["fields"]["client"] == "account_id"
    assert attrs["fields"]["tier"] == "plan"
    assert attrs["requests"] == 40
    assert any("1 of 41 records malformed" in p for p in collection.problems)


def test_parquet_logs(tmp_path, attacked):
    import duckdb

    path = tmp_path / "log.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_json_auto('{attacked}')) TO '{path}' (FORMAT parquet)"
    )
    attrs = only(collect(path))
    assert attrs["format"] == "parquet"
    assert "ood" in attrs["detectors_ran"]
    assert "ood" in flagged(attrs)["random-prober"]


def test_sagemaker_data_capture_is_recognised(tmp_path):
    base = tmp_path / "capture" / "Fraud-EP" / "AllTraffic" / "2024" / "03" / "01" / "10"
    base.mkdir(parents=True)
    records = [
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": f"{i % 5},{i % 7},1.5",
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.25",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {
                "eventId": f"e{i}",
                "inferenceId": f"client-{i % 3}",
                "inferenceTime": f"2024-03-01T10:{i:02d}:00Z",
            },
            "eventVersion": "0",
        }
        for i in range(30)
    ]
    (base / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    collection = LogsSource(
        SourceSpec(
            "logs",
            str(tmp_path / "capture"),
            "capture",
            {"endpoints": {"Fraud-EP": ARN + "fraud-ep"}},
        )
    ).collect(lambda _m: None)
    resource = collection.resources[0]
    assert resource.id == f"traffic:{ARN}fraud-ep"
    assert resource.attributes["format"] == "sagemaker-capture"
    assert resource.attributes["endpoint_name"] == "Fraud-EP"
    assert resource.attributes["clients"] == 3
    assert collection.problems == ()


def test_api_gateway_access_logs_are_recognised(tmp_path):
    path = tmp_path / "access.json.gz"
    rows = [
        {
            "requestId": f"r{i}",
            "ip": f"198.51.100.{i % 5}",
            "caller": "-",
            "user": "-",
            "requestTime": f"01/Mar/2024:10:{i:02d}:00 +0000",
            "httpMethod": "POST",
            "resourcePath": "/predict",
            "status": "200",
            "apiKeyId": f"key{i % 4}",
        }
        for i in range(40)
    ]
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    attrs = only(collect(path))
    assert attrs["format"] == "apigateway"
    assert attrs["fields"]["client"] == "apiKeyId"
    assert attrs["fields"]["ip"] == "ip"
    assert attrs["clients"] == 4
    assert attrs["window"]["start"] == "2024-03-01T10:00:00Z"


def test_unmapped_endpoint_is_unknown_not_guessed(tmp_path):
    path = tmp_path / "named.jsonl"
    path.write_text(json.dumps({"client": "a", "ts": 1709251200, "endpoint": "churn"}) + "\n")
    resource = (
        LogsSource(SourceSpec("logs", str(path), "x", {})).collect(lambda _m: None).resources[0]
    )
    assert resource.id == "traffic:churn"
    assert isinstance(resource.attributes["endpoint"], Unknown)
    assert "endpoints option" in resource.attributes["endpoint"].reason
    arn = json.dumps({"client": "a", "ts": 1709251200, "endpoint": ARN + "churn"})
    path.write_text(arn + "\n")
    resource = (
        LogsSource(SourceSpec("logs", str(path), "x", {})).collect(lambda _m: None).resources[0]
    )
    assert resource.attributes["endpoint"] == Ref(ARN + "churn")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": 1}, "unknown option 'colour'"),
        ({"format": "xml"}, "option format must be one of"),
        ({"fields": {"client": 3}}, "option fields must be a mapping"),
        ({"fields": {"elbow": "x"}}, "option fields must be a mapping"),
        ({"memory_limit": "lots"}, "option memory_limit must be a size"),
        ({"max_malformed": 2}, "option max_malformed must be a number between 0.0 and 1.0"),
        ({"thresholds": {"ood": -1}}, "option thresholds must be a mapping"),
        ({"sybil": {"min_group": 9, "max_group": 3}}, "min_group ≤ max_group"),
        ({"attack_queries": []}, "option attack_queries must be a list of positive integers"),
    ],
)
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        build_source(parse_spec("logs:./x.jsonl", options=options))


def test_missing_target_and_empty_directory(tmp_path):
    with pytest.raises(SourceError, match="no such file or directory"):
        collect(tmp_path / "nope.jsonl")
    with pytest.raises(SourceError, match="no log files"):
        collect(tmp_path)
    with pytest.raises(SourceError, match="matches no file"):
        collect(tmp_path / "*.jsonl")


def test_missing_optional_dependencies_name_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "scipy", None)
    with pytest.raises(UsageError, match=r"needs scipy.*pip install 'modelward\[logs\]'"):
        build_source(parse_spec("logs:./x.jsonl"))
