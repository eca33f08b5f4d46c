"""`modelward logs analyze` and `modelward scan --source logs:...`, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import load_results, run_subprocess, write
from tests.logsynth import Log

ARN = "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/"

# Resembles MW-API-05 (the built-in pack's version is written separately).
POLICY = """
    id: T-API-05
    title: No client of the endpoint shows model-extraction query patterns
    severity: high
    maturity: advanced
    resource: traffic
    check:
      field: suspicious_clients
      count_at_most: 0
    remediation: Investigate the flagged clients; throttle or suspend them.
"""


def month(path: Path, attack: bool) -> Path:
    log = Log()
    log.benign(clients=30, days=29, asn=lambda c: f"AS{c % 4}", ip=lambda c: f"10.0.{c}.1")
    if attack:
        log.random_prober("\x1b[2Jmallory[/]", day=20)
    return log.write_jsonl(path)


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-logs")
    return {
        "attacked": month(root / "attacked.jsonl", True),
        "benign": month(root / "benign.jsonl", False),
    }


def test_analyze_prints_a_table_and_exits_1_on_suspicious_clients(cli, logs):
    result = cli("logs", "analyze", str(logs["attacked"]), "--endpoint", "fraud")
    assert result.code == 1, result.err
    assert "1 suspicious client(s)" in result.out
    assert "\\x1b[2Jmallory[/]" in result.out  # shown escaped, never interpreted
    assert "\x1b[2J" not in result.out
    assert "recommended limits" in result.out
    assert "not run: org_volume: no org field in the mapping" in result.out


def test_analyze_json(cli, logs):
    result = cli(
        "logs",
        "analyze",
        str(logs["attacked"]),
        "--json",
        "--endpoint-id",
        f"fraud={ARN}fraud",
        "--endpoint",
        "fraud",
    )
    assert result.code == 1
    doc = json.loads(result.out)
    (endpoint,) = doc["endpoints"]
    assert endpoint["id"] == f"traffic:{ARN}fraud"
    assert endpoint["endpoint"] == {"$ref": f"{ARN}fraud"}
    (entry,) = endpoint["suspicious_clients"]
    assert entry["client"] == "\x1b[2Jmallory[/]"
    assert "ood" in entry["detectors"]
    alarm = next(a for a in entry["alarms"] if a["detector"] == "ood")
    assert {"score", "threshold", "queries_until_alarm", "alarm_at", "reason"} <= set(alarm)
    assert endpoint["baseline"]["p99_daily"] > 0
    assert endpoint["window"]["days"] == 29


def test_analyze_benign_exits_0(cli, logs):
    result = cli("logs", "analyze", str(logs["benign"]), "--endpoint", "fraud")
    assert result.code == 0, result.out
    assert "no suspicious clients" in result.out


def test_analyze_field_flags_and_errors(cli, tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(
        "".join(json.dumps({"who": f"c{i % 3}", "when": 1709251200 + i}) + "\n" for i in range(30))
    )
    result = cli(
        "logs", "analyze", str(path), "--json", "--field", "client=who", "--field", "timestamp=when"
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["endpoints"][0]["clients"] == 3
    assert cli("logs", "analyze", str(path)).code == 3  # no client field: the source fails
    options = write(tmp_path / "options.yaml", "fields: {client: who, timestamp: when}\n")
    by_file = cli("logs", "analyze", str(path), "--json", "--options", str(options))
    assert by_file.code == 0 and json.loads(by_file.out)["endpoints"][0]["clients"] == 3
    bad = cli("logs", "analyze", str(path), "--field", "nonsense")
    assert bad.code == 2 and "ROLE=FIELD" in bad.err


def test_analyze_malformed_lines_exit_3(cli, logs, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(logs["benign"].read_text() + "{broken\n")
    result = cli("logs", "analyze", str(path), "--json", "--endpoint", "fraud")
    assert result.code == 3
    assert json.loads(result.out)["malformed"] == {"not_a_record": 1}
    assert "1 of" in result.err and "records malformed" in result.err


@pytest.mark.slow
def test_scan_with_a_logs_source(logs, tmp_path):
    """A real process: config with source options, a traffic policy, the gate, results.json."""
    write(tmp_path / "pol" / "api05.yaml", POLICY)
    for name, expected in (("attacked", 1), ("benign", 0)):
        config = write(
            tmp_path / f"{name}.yaml",
            f"""
            version: 1
            sources:
              - spec: logs:{logs[name]}
                name: inference
                options:
                  endpoint: fraud
                  endpoint_arn_prefix: "{ARN}"
            policies: {{builtin: false, dirs: [./pol]}}
            frameworks: {{builtin: false}}
        """,
        )
        out = tmp_path / f"out-{name}"
        result = run_subprocess("scan", "-c", str(config), "-o", str(out), cwd=tmp_path)
        assert result.code == expected, result.out + result.err
        doc = load_results(out)
        (traffic,) = [r for r in doc["resources"] if r["type"] == "traffic"]
        assert traffic["id"] == f"traffic:{ARN}fraud"
        (finding,) = doc["findings"]
        assert finding["status"] == ("fail" if expected else "pass")
    # Straight from the command line: no options, so no endpoint id, but the same verdict.
    direct = run_subprocess(
        "scan",
        "--source",
        f"logs:{logs['attacked']}",
        "--no-builtin-policies",
        "--policies",
        str(tmp_path / "pol"),
        cwd=tmp_path,
    )
    assert direct.code == 1, direct.out + direct.err
    assert "T-API-05" in direct.out


@pytest.mark.slow
def test_scan_fails_closed_on_malformed_logs(logs, tmp_path):
    write(tmp_path / "pol" / "api05.yaml", POLICY)
    path = tmp_path / "bad.jsonl"
    path.write_text(logs["benign"].read_text() + "{broken\n")
    args = (
        "scan",
        "--source",
        f"logs:{path}",
        "--no-builtin-policies",
        "--policies",
        str(tmp_path / "pol"),
    )
    result = run_subprocess(*args, cwd=tmp_path)
    assert result.code == 3, result.out + result.err
    assert "records malformed" in result.out
    assert run_subprocess(*args, "--allow-partial", cwd=tmp_path).code == 0
