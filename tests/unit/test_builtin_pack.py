"""The built-in pack matches the catalogue, is tested, and is mapped honestly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scanner import frameworks as fw
from scanner.bundled import bundled_dir
from scanner.policy.loader import load_policy_dirs
from tests.helpers import REPO

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
# The ISO/IEC 42001:2023 Annex A controls directly useful for protecting model IP (rated so
# when the mapping was written against the standard's control list); the mapping must carry
# each of them, automated or manual.
ISO_42001_MODEL_IP_CONTROLS = {
    "A.2.3", "A.3.2", "A.4.2", "A.4.3", "A.4.4", "A.4.5", "A.6.2.2", "A.6.2.3", "A.6.2.4",
    "A.6.2.5", "A.6.2.6", "A.6.2.7", "A.6.2.8", "A.7.5", "A.8.4", "A.10.2", "A.10.3",
}  # fmt: skip


@pytest.fixture(scope="module")
def pack():
    return {p.id: p for p in load_policy_dirs([bundled_dir("policies")]).policies}


@pytest.fixture(scope="module")
def frameworks(pack):
    return {f.id: f for f in fw.load_frameworks(fw.builtin_mapping_files(), list(pack))}


def test_the_catalogue_page_is_generated_from_the_pack_and_current():
    """docs/policies.md is the catalogue; the policy YAML files are its source."""
    from scripts.policy_catalogue import TARGET, render

    text = render()
    assert TARGET.read_text(encoding="utf-8") == text, (
        "docs/policies.md is stale: run python scripts/policy_catalogue.py"
    )


def test_the_catalogue_lists_every_policy_with_its_rung_severity_and_resource(pack):
    from scripts.policy_catalogue import render

    rows = re.findall(
        r"^\| (MW-[A-Z]+-\d\d) \| [^|]+ \| `(\w+)` \| [^|]+ \| (\w+) \| (\w+) \|", render(), re.M
    )
    assert {pid for pid, *_ in rows} == set(pack)
    for pid, resource, rung, severity in rows:
        assert (pack[pid].resource, pack[pid].maturity, pack[pid].severity) == (
            resource,
            rung,
            severity,
        )


def test_governance_policies_name_the_attestation_kind_they_need(pack):
    for pid, policy in pack.items():
        if policy.resource == "attestation":
            scope = dict(policy.document).get("scope", {})
            assert scope.get("field") == "kind" and scope.get("equals"), pid


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


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_IDS))
def test_each_builtin_mapping_declares_its_control_id_syntax(framework):
    """Ids are checked by the loader against the mapping's own `control_id_pattern`."""
    path = next(p for p in fw.builtin_mapping_files() if p.stem == framework)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    pattern = re.compile(doc["control_id_pattern"])
    assert all(pattern.fullmatch(c["id"]) for c in doc["controls"])


def test_a_control_id_outside_the_framework_syntax_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(
        "framework: acme\n"
        "title: ACME\n"
        "control_id_pattern: '^(5\\.([1-9]|[12]\\d|3[0-7])|8\\.([1-9]|[12]\\d|3[0-4]))$'\n"
        "controls:\n"
        "  - {id: '5.15', title: Access control, policies: []}\n"
        "  - {id: '5.155', title: Typo, policies: []}\n",
        encoding="utf-8",
    )
    with pytest.raises(fw.FrameworkError) as caught:
        fw.load_framework(path)
    assert f"{path}:6:" in caught.value.message
    assert "'5.155' does not match" in caught.value.message


def test_a_broken_control_id_pattern_is_an_error(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(
        "framework: acme\ntitle: ACME\ncontrol_id_pattern: '(unclosed'\n"
        "controls:\n  - {id: X, title: X, policies: []}\n",
        encoding="utf-8",
    )
    with pytest.raises(fw.FrameworkError, match="not a valid regular expression"):
        fw.load_framework(path)


def test_the_model_ip_controls_of_42001_appear(frameworks):
    ids = {c.id for c in frameworks["iso-iec-42001-2023"].controls}
    assert ids >= ISO_42001_MODEL_IP_CONTROLS


def test_frameworks_doc_covers_each_framework():
    text = (REPO / "docs" / "frameworks.md").read_text(encoding="utf-8")
    for framework in FRAMEWORK_IDS:
        assert f"`{framework}`" in text, framework
