"""The built-in pack matches the catalogue, is tested, and is mapped honestly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scanner import frameworks as fw
from scanner.bundled import bundled_dir
from scanner.policy.loader import load_policy_dirs
from tests.helpers import REPO, SHARED

CATALOGUE = SHARED / "POLICY-CATALOGUE.md"
REFERENCE = SHARED / "reference" / "frameworks.md"
ROW = re.compile(r"^\| (MW-[A-Z]+-\d\d) \| ([^|]+) \| (\w+) \| (\w+) \|", re.M)
FRAMEWORK_IDS = {
    "iso-iec-42001-2023",
    "iso-iec-27001-2022",
    "owasp-llm-top10-2023",
    "owasp-llm-top10-2025",
    "nist-ai-rmf-1.0",
    "nist-ai-600-1",
    "eu-ai-act",
    "mitre-atlas",
    "maturity",
}


@pytest.fixture(scope="module")
def pack():
    return {p.id: p for p in load_policy_dirs([bundled_dir("policies")]).policies}


@pytest.fixture(scope="module")
def frameworks(pack):
    return {f.id: f for f in fw.load_frameworks(fw.builtin_mapping_files(), list(pack))}


def catalogue_rows() -> list[tuple[str, str, str, str]]:
    return ROW.findall(CATALOGUE.read_text(encoding="utf-8"))


def test_every_catalogue_row_is_a_policy_with_its_rung_severity_and_resource(pack):
    rows = catalogue_rows()
    assert len(rows) >= 39
    assert {row[0] for row in rows} == set(pack)
    for pid, resource, rung, severity in rows:
        policy = pack[pid]
        assert (policy.maturity, policy.severity) == (rung, severity), pid
        if resource.startswith("attestation:"):
            assert policy.resource == "attestation", pid
            kind = resource.split(":", 1)[1].strip()
            assert kind in (REPO / "policies").joinpath(
                "governance", f"{pid.lower()}.yaml"
            ).read_text(encoding="utf-8"), pid
        else:
            assert policy.resource == resource.split()[0], pid


def test_every_policy_documents_why_and_how_to_fix(pack):
    for pid, policy in pack.items():
        assert policy.rationale and len(policy.rationale) > 80, pid
        assert policy.remediation, pid
        assert policy.references, pid


def policy_files() -> list[Path]:
    return sorted(p for p in (REPO / "policies").rglob("mw-*.yaml") if "_test" not in p.name)


@pytest.mark.parametrize("path", policy_files(), ids=lambda p: p.stem)
def test_each_policy_has_pass_fail_and_error_cases(path: Path):
    test_file = path.with_name(path.stem + "_test.yaml")
    assert test_file.exists(), f"{path.name} has no {test_file.name}"
    doc = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    statuses = set()
    for case in doc["cases"]:
        for expected in case["expect"].values():
            statuses.add(expected if isinstance(expected, str) else expected["status"])
    assert {"pass", "fail", "error"} <= statuses, f"{test_file.name} covers only {statuses}"


def test_builtin_policy_tests_pass(cli):
    r = cli("policies", "test", str(REPO / "policies"))
    assert r.code == 0, r.out + r.err
    assert "policies without tests" not in r.out
    assert re.search(r"(\d+) of \1 policy test cases passed", r.out), r.out


def test_the_nine_mapping_files_load_against_the_pack(frameworks):
    assert set(frameworks) == FRAMEWORK_IDS


def test_every_builtin_policy_serves_at_least_one_framework_control(pack, frameworks):
    mapped = {
        pid
        for f in frameworks.values()
        if f.id != "maturity"
        for c in f.controls
        for pid in c.policies
    }
    assert set(pack) - mapped == set()


def test_maturity_mapping_lists_each_rung_s_policies(pack, frameworks):
    ladder = frameworks["maturity"]
    for control in ladder.controls:
        expected = sorted(pid for pid, p in pack.items() if p.maturity == control.id)
        assert sorted(control.policies) == expected, control.id


def test_iso_42001_a7_is_data_only(frameworks):
    """A.7 is "Data for AI systems": storage and access controls belong to ISO/IEC 27001."""
    for control in frameworks["iso-iec-42001-2023"].controls:
        if control.id.startswith("A.7"):
            assert set(control.policies) <= {"MW-INV-02"}, control.id


def expanded_reference() -> str:
    """The reference writes ranges ("5.24" en-dash "5.28") and lists ("MG-2.4-002 / -003 / -004");
    spell them out so every id can be looked up verbatim."""
    text = REFERENCE.read_text(encoding="utf-8")
    extra = []
    for major, low, high in re.findall(r"\b(\d+)\.(\d+)\u2013\1\.(\d+)\b", text):
        extra += [f"{major}.{n}" for n in range(int(low), int(high) + 1)]
    for prefix, first, rest in re.findall(r"\b([A-Z]{2}-\d+\.\d+)-(\d{3})((?: / -\d{3})+)", text):
        extra += [f"{prefix}-{first}"] + [f"{prefix}{n}" for n in re.findall(r"-\d{3}", rest)]
    return text + "\n" + " ".join(extra)


@pytest.mark.parametrize(
    "framework", ["iso-iec-42001-2023", "iso-iec-27001-2022", "mitre-atlas", "nist-ai-600-1"]
)
def test_control_ids_are_the_reference_ids(frameworks, framework):
    reference = expanded_reference()
    for control in frameworks[framework].controls:
        if framework == "iso-iec-42001-2023" and control.id == "9.2":
            continue  # a clause of the standard, not an Annex A control
        assert control.id in reference, f"{framework}: {control.id} is not in the reference"


def test_every_star_rated_42001_control_appears(frameworks):
    reference = REFERENCE.read_text(encoding="utf-8")
    starred = re.findall(r"^\| (A\.\d+\.\d+(?:\.\d+)?) \|[^\n]*★", reference, re.M)
    ids = {c.id for c in frameworks["iso-iec-42001-2023"].controls}
    assert starred and set(starred) <= ids


def test_frameworks_doc_covers_each_framework():
    text = (REPO / "docs" / "frameworks.md").read_text(encoding="utf-8")
    for framework in FRAMEWORK_IDS:
        assert f"`{framework}`" in text, framework
