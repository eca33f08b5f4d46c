"""CI gating end to end: flags and config for the rules, waivers, baselines, SARIF and JUnit
rendered by scan and by report, and the framework roll-up of waived findings."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import load_results, pickle_model, policy_pack, safe_model, write
from tests.unit.test_sarif_writer import sarif_validator

MAPPING = """
framework: test-fw
title: Test framework
controls:
  - id: C.1
    title: Artefacts are safe to load
    policies: [T-ART-01]
"""

WAIVERS = """
waivers:
  - policy: T-ART-01
    resource: legacy
    justification: Legacy model retires with the v4 release.
    approved_by: ciso@example.com
    expires: 2025-09-30
    ticket: SEC-42
"""


@pytest.fixture
def estate(tmp_path: Path) -> dict[str, Path]:
    models = tmp_path / "models"
    safe_model(models, "clean")
    pickle_model(models, "legacy")
    return {
        "root": tmp_path,
        "pack": policy_pack(tmp_path / "pack"),
        "models": models,
        "mapping": write(tmp_path / "fw.yaml", MAPPING),
        "waivers": write(tmp_path / "waivers.yaml", WAIVERS),
    }


def flat(text: str) -> str:
    """Terminal output with rich's line wrapping undone."""
    return " ".join(text.split())


def scan(cli, estate, *args: str):
    return cli(
        "scan", "--no-builtin-policies", "--policies", str(estate["pack"]),
        "--skip-policy", "T-GOV-*", "--framework-file", str(estate["mapping"]),
        "--source", f"path:{estate['models']}", "--as-of", "2025-06-30", *args,
    )  # fmt: skip


def test_without_waivers_the_pickle_fails(cli, estate):
    r = scan(cli, estate)
    assert r.code == 1
    assert "1 finding(s) at or above 'high' failed: T-ART-01 on legacy" in r.out


def test_a_waived_finding_passes_the_gate_and_stays_in_every_output(cli, estate, tmp_path):
    out = tmp_path / "out"
    r = scan(cli, estate, "--waivers", str(estate["waivers"]), "-o", str(out),
             "--format", "json,sarif,junit")  # fmt: skip
    assert r.code == 0, r.out + r.err
    doc = load_results(out)
    (waived,) = [f for f in doc["findings"] if f["status"] == "waived"]
    assert waived["resource_name"] == "legacy"
    assert waived["waiver"]["justification"] == "Legacy model retires with the v4 release."
    assert waived["waiver"]["state"] == "applied"
    assert doc["summary"]["by_status"]["waived"] == 1
    # frameworks: met when all mapped findings pass or are waived
    (control,) = doc["frameworks"][0]["controls"]
    assert control["status"] == "met"
    assert control["failing"] == []
    assert doc["maturity"]["rungs"][1]["blocking"] == []
    assert doc["gate"]["waivers"]["applied"] == 1
    assert doc["gate"]["decisions"] == [
        {"policy_id": "T-ART-01", "resource_id": waived["resource_id"], "status": "waived",
         "severity": "critical", "outcome": "waived", "rule": "waiver"}
    ]  # fmt: skip
    sarif = json.loads((out / "results.sarif").read_text())
    assert not list(sarif_validator().iter_errors(sarif))
    (result,) = sarif["runs"][0]["results"]
    assert result["suppressions"][0]["justification"].startswith("Legacy model")
    junit = ET.parse(out / "results.junit.xml").getroot()
    skipped = junit.find(".//testcase/skipped")
    assert skipped.get("message") == "waived: Legacy model retires with the v4 release."
    assert "1 waived" in r.out


def test_an_expired_waiver_fails_and_says_when_it_expired(cli, estate, tmp_path):
    out = tmp_path / "out"
    r = scan(cli, estate, "--waivers", str(estate["waivers"]), "--as-of", "2025-10-01",
             "-o", str(out))  # fmt: skip
    assert r.code == 1
    doc = load_results(out)
    (failed,) = [f for f in doc["findings"] if f["status"] == "fail"]
    assert failed["message"].endswith("waivers.yaml:2 expired on 2025-09-30)")
    assert failed["waiver"]["state"] == "expired"
    assert "expired on 2025-09-30: 1 finding(s) no longer waived" in flat(r.out)
    assert doc["frameworks"][0]["controls"][0]["status"] == "partial"


def test_stale_waivers_are_reported_on_the_terminal_and_in_results(cli, estate, tmp_path):
    stale = write(
        tmp_path / "stale.yaml",
        WAIVERS + "  - {policy: T-ART-02, resource: '*', justification: j, approved_by: a,"
        " expires: 2025-07-01}\n",
    )
    out = tmp_path / "out"
    r = scan(cli, estate, "--waivers", str(stale), "-o", str(out))
    assert r.code == 0
    assert "(T-ART-02 on *) matches no failing finding (stale): remove it" in flat(r.out)
    assert load_results(out)["gate"]["waivers"]["stale"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (WAIVERS.replace("    approved_by: ciso@example.com\n", ""),
         ":2:5: 'approved_by' is a required property"),
        (WAIVERS.replace("2025-09-30", "2027-01-01"),
         "waivers.yaml:6:5: expires 2027-01-01 is 550 days after 2025-06-30"),
        ("waivers: {}\n", "waivers.yaml:1:1: waivers: {} is not of type 'array'"),
    ],
)  # fmt: skip
def test_malformed_waivers_stop_the_scan_before_anything_runs(cli, estate, tmp_path, text, message):
    bad = write(tmp_path / "waivers.yaml", text)
    out = tmp_path / "out"
    r = scan(cli, estate, "--waivers", str(bad), "-o", str(out))
    assert r.code == 2
    assert message in r.err
    assert not out.exists()


def test_waivers_and_gate_from_the_config_file(cli, estate, tmp_path):
    config = write(
        tmp_path / "ci" / "modelward.yaml",
        """
        gate:
          waivers: ../waivers.yaml
          waiver_max_days: 30
        """,
    )
    r = scan(cli, estate, "-c", str(config))
    assert r.code == 2
    assert "a waiver may last at most 30 days (gate.waiver_max_days)" in r.err
    write(config, "gate:\n  soft_fail: true\n  hard_fail_on: [T-ART-02]\n")
    assert scan(cli, estate, "-c", str(config)).code == 0
    write(config, "gate:\n  soft_fail_on: [T-ART-01]\n")
    assert scan(cli, estate, "-c", str(config)).code == 0
    # a list given as a flag replaces the config's list
    assert scan(cli, estate, "-c", str(config), "--soft-fail-on", "T-ART-02").code == 1


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        ((), 1, "at or above 'high' failed: T-ART-01 on legacy"),
        (("--soft-fail",), 0, None),
        (("--soft-fail", "--hard-fail-on", "T-ART-*"), 1, "matching --hard-fail-on 'T-ART-*'"),
        (("--soft-fail-on", "T-ART-01"), 0, None),
        (("--soft-fail-on", "critical"), 0, None),
        (("--fail-on", "none", "--hard-fail-on", "critical,T-ART-02"), 1, "(--hard-fail-on)"),
        (("--hard-fail-on", "T-ART-01", "--soft-fail-on", "T-ART-01"), 1, "--hard-fail-on"),
    ],
)
def test_rules_from_flags(cli, estate, tmp_path, args, code, reason):
    out = tmp_path / "out"
    r = scan(cli, estate, "-o", str(out), *args)
    assert r.code == code, r.out
    gate = load_results(out)["gate"]
    assert gate["exit_code"] == code
    if reason:
        assert any(reason in line for line in gate["reasons"]), gate["reasons"]
    else:
        assert gate["reasons"] == []


def test_soft_fail_still_exits_3_when_a_source_failed(cli, estate, tmp_path):
    # A directory where the evidence file should be: the source is read and fails (a path
    # that does not exist at all is a usage error, found before any source is read).
    (tmp_path / "evidence").mkdir()
    r = scan(cli, estate, "--soft-fail", "--source", f"attestations:{tmp_path / 'evidence'}")
    assert r.code == 3


def test_gate_lists_that_name_no_policy_are_refused(cli, estate):
    r = scan(cli, estate, "--hard-fail-on", "T-ART-99")
    assert r.code == 2
    assert "--hard-fail-on 'T-ART-99' matches no loaded policy" in r.err


def test_create_then_use_a_baseline(cli, estate, tmp_path):
    base = tmp_path / "ci" / "baseline.json"
    r = scan(cli, estate, "--create-baseline", str(base))
    assert r.code == 1  # creating a baseline does not change this run's verdict
    doc = json.loads(base.read_text())
    assert [(f["policy_id"], f["status"]) for f in doc["findings"]] == [("T-ART-01", "fail")]
    out = tmp_path / "out"
    r = scan(cli, estate, "--baseline", str(base), "-o", str(out), "--format", "json,sarif")
    assert r.code == 0, r.out
    assert "0 new failing finding(s), 1 already in the baseline (not gated)" in flat(r.out)
    assert load_results(out)["gate"]["baseline"]["unchanged"] == 1
    sarif = json.loads((out / "results.sarif").read_text())
    assert [x["baselineState"] for x in sarif["runs"][0]["results"]] == ["unchanged"]
    # a new pickle appears: only it fails the gate
    pickle_model(estate["models"], "newcomer")
    r = scan(cli, estate, "--baseline", str(base), "-o", str(out))
    assert r.code == 1
    gate = load_results(out)["gate"]
    assert gate["reasons"] == ["1 finding(s) at or above 'high' failed: T-ART-01 on newcomer"]
    assert gate["baseline"]["new"] == 1
    # the old one is fixed: reported as no longer failing
    shutil.rmtree(estate["models"] / "legacy")
    shutil.rmtree(estate["models"] / "newcomer")
    r = scan(cli, estate, "--baseline", str(base), "-o", str(out))
    assert r.code == 0
    assert load_results(out)["gate"]["baseline"]["fixed"] == 1


def test_an_earlier_results_json_is_a_baseline(cli, estate, tmp_path):
    first = tmp_path / "first"
    assert scan(cli, estate, "-o", str(first)).code == 1
    assert scan(cli, estate, "--baseline", str(first / "results.json")).code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "baseline.json:1:1: not JSON"),
        ('{"findings": []}', "not a valid modelward baseline (or results) file"),
    ],
)
def test_a_bad_baseline_is_exit_2(cli, estate, tmp_path, content, message):
    bad = tmp_path / "baseline.json"
    bad.write_text(content)
    r = scan(cli, estate, "--baseline", str(bad))
    assert r.code == 2
    assert message in r.err


def test_report_renders_sarif_and_junit_from_results_alone(cli, estate, tmp_path):
    out = tmp_path / "out"
    assert scan(cli, estate, "-o", str(out), "--format", "json,sarif,junit").code == 1
    again = tmp_path / "again"
    r = cli("report", str(out / "results.json"), "--format", "sarif,junit", "-o", str(again))
    assert r.code == 0, r.err
    for name in ("results.sarif", "results.junit.xml"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    sarif = json.loads((again / "results.sarif").read_text())
    assert not list(sarif_validator().iter_errors(sarif))
    suites = ET.parse(again / "results.junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["T-ART-01", "T-ART-02"]


def test_report_renders_a_schema_1_0_results_file(cli, estate, tmp_path):
    out = tmp_path / "out"
    scan(cli, estate, "-o", str(out))
    doc = json.loads((out / "results.json").read_text())
    doc["schema_version"] = "1.0"
    del doc["policies"]
    for key in ("soft_fail", "hard_fail_on", "soft_fail_on", "notes", "counts", "decisions"):
        del doc["gate"][key]
    old = write(tmp_path / "old.json", json.dumps(doc))
    r = cli("report", str(old), "--format", "json,sarif,junit", "-o", str(tmp_path / "r"))
    assert r.code == 0, r.err
    rendered = json.loads((tmp_path / "r" / "results.json").read_text())
    # Unchanged, except that it now lists the files written beside it (`scan.outputs`).
    assert [o["file"] for o in rendered["scan"].pop("outputs")] == [
        "results.junit.xml",
        "results.sarif",
    ]
    doc["scan"].pop("outputs", None)
    assert rendered == doc
