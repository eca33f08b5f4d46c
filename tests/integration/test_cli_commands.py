"""`policies`, `frameworks`, `report`, `--version`/`--help`: behaviour and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner import __version__
from scanner.cli import build_parser
from tests.helpers import load_results, pickle_model, policy_pack, safe_model, write

MAPPING = """
framework: test-fw
title: Test framework
version: "1"
url: https://example.org/fw
controls:
  - id: C.1
    title: Artefacts are safe to load
    policies: [T-ART-01]
  - id: C.2
    title: Artefacts are small
    policies: [T-ART-02]
  - id: C.3
    title: Board-level risk register
    policies: []
    attestation: risk_register
"""

TESTS = """
policy: T-ART-02
resources:
  - id: big
    type: artefact
    attributes: {file_count: 9}
cases:
  - name: a big artefact fails
    expect:
      big: {status: fail, message_contains: "`file_count` is 9, more than the 3 allowed"}
  - name: the param can be raised per case
    params: {max_files: 10}
    expect: {big: pass}
  - name: unknown count is an error
    resources:
      - {id: odd, type: artefact, attributes: {file_count: {$unknown: "listing denied"}}}
    expect: {odd: error}
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return policy_pack(tmp_path / "pack")


def test_version(cli):
    r = cli("--version")
    assert r.code == 0
    assert r.out.strip() == f"modelward {__version__}"


def _commands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _commands(sub, (*prefix, name))


@pytest.mark.parametrize("command", list(_commands(build_parser())))
def test_help_on_every_command(cli, command):
    r = cli(*command, "--help")
    assert r.code == 0
    assert "usage: modelward" in r.out


def test_no_command_prints_help_and_exits_2(cli):
    r = cli()
    assert r.code == 2
    assert "usage: modelward" in r.err


def test_policies_validate_ok_and_broken(cli, pack, tmp_path):
    r = cli("policies", "validate", str(pack))
    assert r.code == 0
    assert "3 policies valid" in r.out
    write(
        pack / "zz_bad.yaml",
        "id: X-1\ntitle: t\nseverity: high\nmaturity: applied\n"
        "resource: artefact\ncheck: {field: a, equal: 1}\n",
    )
    r = cli("policies", "validate", str(pack))
    assert r.code == 2
    assert "zz_bad.yaml:6:19: unknown operator 'equal' (did you mean 'equals'?)" in r.err


def test_duplicate_ids_across_directories(cli, pack, tmp_path):
    other = write(tmp_path / "other" / "dup.yaml", (pack / "few_files.yaml").read_text())
    r = cli("policies", "validate", str(pack), str(other.parent))
    assert r.code == 2
    assert "duplicate policy id 'T-ART-02' (first defined in" in r.err
    assert "dup.yaml:1:1" in r.err


def test_policies_list_and_show(cli, pack):
    r = cli("policies", "list", "--no-builtin-policies", "--policies", str(pack), "--json")
    assert r.code == 0
    assert [p["id"] for p in json.loads(r.out)] == ["T-ART-01", "T-ART-02", "T-GOV-01"]
    r = cli("policies", "show", "T-ART-02", "--no-builtin-policies", "--policies", str(pack))
    assert r.code == 0
    assert "max_files: 3" in r.out
    r = cli("policies", "show", "NOPE", "--no-builtin-policies", "--policies", str(pack))
    assert r.code == 2
    assert "no policy with id 'NOPE'" in r.err


def test_policies_test_pass_fail_and_invalid(cli, pack):
    write(pack / "few_files_test.yaml", TESTS)
    r = cli("policies", "test", str(pack))
    assert r.code == 0, r.out
    assert "3 of 3 policy test cases passed" in r.out
    assert "policies without tests: T-ART-01, T-GOV-01" in r.out
    write(pack / "few_files_test.yaml", TESTS.replace("big: pass", "big: fail"))
    r = cli("policies", "test", str(pack))
    assert r.code == 1
    assert "FAIL" in r.out and "big: expected fail, got pass" in r.out
    write(pack / "few_files_test.yaml", TESTS.replace("policy: T-ART-02", "policy: T-NOPE"))
    r = cli("policies", "test", str(pack))
    assert r.code == 2
    assert "few_files_test.yaml:1:1: unknown policy id 'T-NOPE'" in r.err
    write(
        pack / "few_files_test.yaml", TESTS.replace("expect: {big: pass}", "expect: {big: passed}")
    )
    r = cli("policies", "test", str(pack))
    assert r.code == 2
    assert "few_files_test.yaml:" in r.err


def test_policies_test_needs_test_files(cli, pack):
    r = cli("policies", "test", str(pack))
    assert r.code == 2
    assert "no policy test files" in r.err


def test_frameworks_list_and_show(cli, pack, tmp_path):
    mapping = write(tmp_path / "fw.yaml", MAPPING)
    args = ["--framework-file", str(mapping), "--no-builtin-policies", "--policies", str(pack)]
    r = cli("frameworks", "list", *args, "--json")
    assert r.code == 0
    assert [f["id"] for f in json.loads(r.out)] == ["test-fw"]
    r = cli("frameworks", "show", "test-fw", *args)
    assert r.code == 0
    assert "C.1" in r.out and "T-ART-01" in r.out and "manual (risk_register)" in r.out
    r = cli("frameworks", "show", "nope", *args)
    assert r.code == 2
    assert "unknown framework 'nope' (available: test-fw)" in r.err


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("policies: [T-ART-02]", "policy: [T-ART-02]", "fw.yaml:11:5: unknown key 'policy'"),
        ("[T-ART-02]", "[T-ART-99]", "control C.2 maps unknown policy id 'T-ART-99'"),
    ],
)
def test_mapping_errors_have_positions(cli, pack, tmp_path, old, new, message):
    bad = write(tmp_path / "fw.yaml", MAPPING.replace(old, new))
    r = cli(
        "frameworks",
        "list",
        "--framework-file",
        str(bad),
        "--no-builtin-policies",
        "--policies",
        str(pack),
    )
    assert r.code == 2
    assert message in r.err


def test_scan_rolls_up_controls_and_maturity(cli, pack, tmp_path):
    root = tmp_path / "m"
    safe_model(root, "a")
    pickle_model(root, "b")
    mapping = write(tmp_path / "fw.yaml", MAPPING)
    out = tmp_path / "out"
    r = cli(
        "scan",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--source",
        f"path:{root}",
        "--framework-file",
        str(mapping),
        "-o",
        str(out),
        "--skip-policy",
        "T-GOV-01",
    )
    assert r.code == 1
    doc = load_results(out)
    controls = {c["id"]: c for c in doc["frameworks"][0]["controls"]}
    assert controls["C.1"]["status"] == "partial"
    assert controls["C.1"]["failing"] == [(root / "b").as_uri()]
    assert controls["C.2"]["status"] == "met"
    assert controls["C.3"]["status"] == "manual"
    assert doc["frameworks"][0]["summary"] == {
        "met": 1,
        "not_met": 0,
        "partial": 1,
        "error": 0,
        "manual": 1,
        "not_applicable": 0,
    }
    f = next(f for f in doc["findings"] if f["policy_id"] == "T-ART-01")
    assert f["controls"] == [{"framework": "test-fw", "control": "C.1"}]
    assert doc["maturity"]["level"] == "foundational"
    applied = doc["maturity"]["rungs"][1]
    assert applied["name"] == "applied" and applied["status"] == "not_reached"
    assert applied["blocking"] == [
        {
            "policy_id": "T-ART-01",
            "resource_id": (root / "b").as_uri(),
            "status": "fail",
            "severity": "critical",
        }
    ]
    r = cli(
        "scan",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--source",
        f"path:{root}",
        "--framework-file",
        str(mapping),
        "--framework",
        "nope",
    )
    assert r.code == 2


def test_report_round_trips_byte_identical(cli, pack, tmp_path):
    root = tmp_path / "m"
    safe_model(root)
    out = tmp_path / "out"
    cli(
        "scan",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--source",
        f"path:{root}",
        "-o",
        str(out),
    )
    again = tmp_path / "again"
    r = cli("report", str(out / "results.json"), "--format", "json", "-o", str(again))
    assert r.code == 0
    assert (again / "results.json").read_bytes() == (out / "results.json").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "results.json:1:2: not JSON"),
        ('{"schema_version": "1.0"}', "not a valid modelward results file"),
        ("[]", "not a valid modelward results file"),
    ],
)
def test_report_refuses_invalid_results(cli, tmp_path, content, message):
    bad = tmp_path / "results.json"
    bad.write_text(content)
    r = cli("report", str(bad), "-o", str(tmp_path / "out"))
    assert r.code == 2
    assert message in r.err
    assert not (tmp_path / "out" / "results.json").exists()


def test_report_missing_file(cli, tmp_path):
    r = cli("report", str(tmp_path / "none.json"), "-o", str(tmp_path / "out"))
    assert r.code == 2
    assert "results file not found" in r.err


def test_same_policy_folder_named_twice_is_loaded_once(cli, pack):
    r = cli("policies", "validate", str(pack), str(pack) + "/")
    assert r.code == 0
    assert "3 policies valid" in r.out


def test_policy_tests_accept_unquoted_dates_and_locate_bad_params(cli, pack):
    write(
        pack / "gov_test.yaml",
        """
        policy: T-GOV-01
        now: 2026-06-01
        cases:
          - name: fresh review passes
            resources:
              - {id: tm, type: attestation, attributes: {kind: threat_model, date: 2026-01-01}}
            expect: {tm: pass}
          - name: stale review fails
            resources:
              - {id: tm, type: attestation, attributes: {kind: threat_model, date: 2024-01-01}}
            expect: {tm: fail, "modelward:missing/attestation": fail}
    """,
    )
    r = cli("policies", "test", str(pack))
    assert r.code == 0, r.out + r.err
    assert "2 of 2 policy test cases passed" in r.out
    write(
        pack / "gov_test.yaml",
        """
        policy: T-ART-02
        cases:
          - name: bad param
            params: {max_files: lots}
            expect: {x: pass}
    """,
    )
    r = cli("policies", "test", str(pack))
    assert r.code == 2
    assert "gov_test.yaml:4:5: param T-ART-02.max_files='lots'" in r.err


def test_terminal_summary_names_controls_and_what_blocks_the_next_rung(cli, pack, tmp_path):
    root = tmp_path / "m"
    pickle_model(root, "b")
    mapping = write(tmp_path / "fw.yaml", MAPPING)
    r = cli(
        "scan",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--source",
        f"path:{root}",
        "--framework-file",
        str(mapping),
        "--skip-policy",
        "T-GOV-01",
    )
    assert r.code == 1
    assert "test-fw: 1 met, 1 not met, 1 manual" in r.out
    assert "maturity: foundational; 1 finding(s) block applied: T-ART-01" in r.out


def test_policies_schema_is_the_schema_the_loader_uses(cli):
    from scanner.schemas import load_schema

    r = cli("policies", "schema")
    assert r.code == 0
    assert json.loads(r.out) == load_schema("policy/schema/policy.schema.json")


def test_overlapping_policy_folders_read_each_file_once(cli, pack):
    nested = pack / "sub"
    write(nested / "extra.yaml", (pack / "few_files.yaml").read_text().replace("T-ART-02", "T-X-1"))
    r = cli("policies", "validate", str(pack), str(nested))
    assert r.code == 0, r.err
    assert "4 policies valid" in r.out
