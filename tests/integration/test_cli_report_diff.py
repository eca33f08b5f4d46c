"""`modelward report` into html/md/csv and `modelward diff` between two real scans."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from scanner import results
from scanner.schemas import validator
from tests.helpers import load_results, pickle_model, policy_pack, safe_model, write
from tests.results_builder import IMG, build_results

MAPPING = """
framework: test-fw
title: Test framework
controls:
  - id: C.1
    title: Artefacts are safe to load
    policies: [T-ART-01]
  - id: C.2
    title: Artefacts are small
    policies: [T-ART-02]
"""


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    policy_pack(tmp_path / "pack")
    safe_model(tmp_path / "models", "clean")
    pickle_model(tmp_path / "models", "legacy")
    write(tmp_path / "fw.yaml", MAPPING)
    return tmp_path


def _scan(cli, root: Path, out: str, *formats: str) -> dict:
    r = cli(
        "scan",
        "-q",
        "--source",
        f"path:{root / 'models'}",
        "--no-builtin-policies",
        "--policies",
        str(root / "pack"),
        "--framework-file",
        str(root / "fw.yaml"),
        "--as-of",
        "2026-06-30",
        "-o",
        str(root / out),
        "--format",
        ",".join(formats or ["json"]),
    )
    assert r.code in (0, 1), r.err
    return load_results(root / out)


def test_scan_and_report_write_html_md_and_csv(cli, estate):
    document = _scan(cli, estate, "out", "json", "html", "md", "csv")
    names = sorted(p.name for p in (estate / "out").iterdir())
    assert names == ["findings.csv", "report.html", "report.md", "results.json"]
    again = estate / "again"
    r = cli(
        "report", str(estate / "out" / "results.json"), "--format", "html,md,csv", "-o", str(again)
    )
    assert r.code == 0, r.err
    assert sorted(p.name for p in again.iterdir()) == ["findings.csv", "report.html", "report.md"]
    for name in ("report.html", "report.md", "findings.csv"):  # rendered from results.json only
        assert (again / name).read_bytes() == (estate / "out" / name).read_bytes()
    rows = list(csv.DictReader(io.StringIO((again / "findings.csv").read_text("utf-8-sig"))))
    assert len(rows) == document["summary"]["total"]
    assert "Convert the weights to safetensors." in {r["remediation"] for r in rows}
    md = (again / "report.md").read_text()
    assert "| 1 | `T-ART-01` |" in md
    html = (again / "report.html").read_text()
    assert html.count('<tr data-status="') == document["summary"]["total"]


def test_results_carry_the_policies_remediation(cli, estate):
    document = _scan(cli, estate, "out")
    policies = {p["id"]: p for p in document["policies"]}
    assert sorted(policies) == ["T-ART-01", "T-ART-02", "T-GOV-01"]
    assert policies["T-ART-01"]["remediation"] == {"summary": "Convert the weights to safetensors."}
    assert policies["T-GOV-01"]["remediation"] == {}


def _diff(cli, old: Path, new: Path, *args: str):
    return cli("diff", str(old), str(new), *args)


@pytest.fixture
def two_scans(cli, estate) -> tuple[Path, Path]:
    """Before: `legacy` and `fixme` hold pickles. After: `legacy` is gone, `fixme` holds
    safetensors only, and a new pickle model appeared."""
    pickle_model(estate / "models", "fixme")
    _scan(cli, estate, "before")
    shutil.rmtree(estate / "models" / "legacy")
    shutil.rmtree(estate / "models" / "fixme")
    safe_model(estate / "models", "fixme")
    pickle_model(estate / "models", IMG)
    _scan(cli, estate, "after")
    return estate / "before" / "results.json", estate / "after" / "results.json"


def test_diff_json_separates_fixed_from_gone(cli, two_scans):
    old, new = two_scans
    r = _diff(cli, old, new, "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert list(validator("diff.schema.json").iter_errors(doc)) == []
    assert doc["schema_version"] == "1.1"
    assert doc["summary"] == {"new": 1, "fixed": 1, "gone": 1, "unchanged": 1, "changed": 0}
    (added,) = doc["findings"]["new"]
    assert (added["policy_id"], added["resource_name"]) == ("T-ART-01", IMG)
    assert (added["old_status"], added["new_status"]) == (None, "fail")
    (fixed,) = doc["findings"]["fixed"]
    assert (fixed["resource_name"], fixed["old_status"], fixed["new_status"]) == (
        "fixme",
        "fail",
        "pass",
    )
    (gone,) = doc["findings"]["gone"]
    assert (gone["resource_name"], gone["old_status"], gone["new_status"]) == (
        "legacy",
        "fail",
        None,
    )
    assert doc["maturity"] == {"old": "foundational", "new": "foundational", "change": "same"}
    assert doc["old"]["file"] == str(old) and doc["policy_pack_changed"] is False


def test_a_diff_document_of_schema_1_0_still_validates():
    """The schema grew by addition: documents written before `gone` existed stay valid."""
    old = {
        "schema_version": "1.0",
        "old": _SIDE,
        "new": _SIDE,
        "maturity": {"old": "applied", "new": "applied", "change": "same"},
        "policy_pack_changed": False,
        "summary": {"new": 0, "fixed": 0, "unchanged": 0, "changed": 0},
        "findings": {"new": [], "fixed": [], "unchanged": [], "changed": []},
        "frameworks": [],
    }
    assert list(validator("diff.schema.json").iter_errors(old)) == []


_SIDE = {
    "file": "a.json",
    "scan_id": "s",
    "finished_at": "2026-01-01T00:00:00Z",
    "as_of": None,
    "tool_version": "0",
    "policy_pack": {"count": 1, "sha256": "0" * 64},
    "maturity": "applied",
    "gate_passed": True,
}


def test_diff_text_and_markdown(cli, two_scans):
    old, new = two_scans
    r = _diff(cli, old, new)
    assert r.code == 0
    assert "findings: 1 new, 1 fixed, 1 gone, 1 still failing, 0 other status changes" in r.out
    assert "New failing findings (1):" in r.out and "absent → fail" in r.out
    fixed = r.out.split("Fixed (1):")[1].split("Gone:")[0]
    assert "fail → pass" in fixed and "fixme" in fixed
    gone = r.out.split("Gone: the resource (or the policy) is no longer there (1):")[1]
    assert "fail → absent" in gone.splitlines()[1] and "legacy" in gone.splitlines()[1]
    r = _diff(cli, old, new, "--format", "md")
    assert r.code == 0
    assert r.out.startswith("## modelward diff: 1 new failing finding(s)")
    assert f"`{IMG}`" in r.out  # in a code span: shown, never rendered
    assert "### Fixed (1)" in r.out
    assert "### Gone: the resource (or the policy) is no longer there (1)" in r.out


def test_diff_fail_on_new_for_ci(cli, two_scans):
    old, new = two_scans
    r = _diff(cli, old, new, "--fail-on-new")
    assert r.code == 1
    r = _diff(cli, old, new, "--fail-on-new", "critical", "--format", "json")
    assert r.code == 1
    assert "1 new failing finding(s) at or above 'critical'" in r.err
    r = _diff(cli, new, new, "--fail-on-new")
    assert r.code == 0
    r = _diff(cli, old, new, "--fail-on-new", "none")
    assert r.code == 2  # argparse: not a severity


def test_diff_changed_category_and_maturity_move(cli, tmp_path):
    old = build_results(scale=5, seed=1)
    new = build_results(scale=5, seed=2)
    for name, doc in (("a.json", old), ("b.json", new)):
        (tmp_path / name).write_text(results.dumps(doc))
    r = _diff(cli, tmp_path / "a.json", tmp_path / "b.json", "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert list(validator("diff.schema.json").iter_errors(doc)) == []
    before = {(f["policy_id"], f["resource_id"]): f["status"] for f in old["findings"]}
    after = {(f["policy_id"], f["resource_id"]): f["status"] for f in new["findings"]}
    failing = {"fail", "error"}
    expect_new = sum(1 for k, s in after.items() if s in failing and before.get(k) not in failing)
    expect_changed = sum(
        1
        for k, s in after.items()
        if k in before and s != before[k] and s not in failing and before[k] not in failing
    )
    assert doc["summary"]["new"] == expect_new > 0
    assert doc["summary"]["changed"] == expect_changed > 0
    for entry in doc["findings"]["changed"]:
        assert entry["old_status"] != entry["new_status"]
    controls = {(f["id"], c["id"]) for f in doc["frameworks"] for c in f["controls"]}
    expected_controls = {
        (fa["id"], ca["id"])
        for fa, fb in zip(old["frameworks"], new["frameworks"], strict=True)
        for ca, cb in zip(fa["controls"], fb["controls"], strict=True)
        if ca["status"] != cb["status"]
    }
    assert controls == expected_controls


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "b.json:1:2: not JSON"),
        ('{"schema_version": "1.0"}', "b.json: not a valid modelward results file"),
    ],
)
def test_diff_refuses_bad_input_naming_the_file(cli, tmp_path, content, message):
    good = tmp_path / "a.json"
    good.write_text(results.dumps(build_results(scale=1)))
    bad = tmp_path / "b.json"
    if content is not None:
        bad.write_text(content)
    r = _diff(cli, good, bad)
    assert r.code == 2
    assert r.err.count("\n") >= 1 and message in r.err.splitlines()[0]
    assert "b.json" in r.err.splitlines()[0]
