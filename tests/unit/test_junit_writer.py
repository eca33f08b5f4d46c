"""JUnit XML: one suite per policy, one case per resource, parsed back; hostile strings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from scanner.findings import ControlRef, Finding
from scanner.outputs.junit_writer import MAX_ATTR, MAX_BODY, JunitWriter
from tests.helpers import make_document, make_policy

WAIVER = {
    "policy": "T-1", "resource": "r3", "justification": "Migrating in Q3",
    "approved_by": "ciso@example.com", "expires": "2025-09-30", "file": "w.yaml", "line": 2,
    "state": "applied", "original_status": "fail", "ticket": "SEC-7",
}  # fmt: skip


def finding(pid: str, rid: str, status: str, message: str = "m", name: str = "", **kw) -> Finding:
    return Finding(
        pid, f"Title {pid}", "high", "applied", rid, "artefact", name or rid, status, message, **kw
    )


def parse(document: dict) -> ET.Element:
    blob = JunitWriter().render(document)["results.junit.xml"]
    assert blob.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(blob)


def test_suites_cases_and_statuses():
    findings = [
        finding("T-1", "r1", "pass"),
        finding("T-1", "r2", "fail", "file_count is 9, expected at most 3",
                evidence={"file_count": 9}, controls=(ControlRef("fw", "C.1"),)),
        finding("T-1", "r3", "waived", waiver=WAIVER),
        finding("T-1", "r4", "error", "file_count: listing denied"),
        finding("T-1", "r5", "not_applicable", "not a production model"),
    ]  # fmt: skip
    policies = [
        make_policy("T-1", remediation={"summary": "Split the model."}),
        make_policy("T-2"),  # evaluated, nothing in scope: an empty suite, still listed
    ]
    root = parse(make_document(findings, policies))
    assert root.tag == "testsuites"
    assert root.attrib | {"timestamp": "x"} == {
        "name": "modelward", "timestamp": "x", "tests": "5", "failures": "1", "errors": "1",
        "skipped": "2",
    }  # fmt: skip
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["T-1", "T-2"]
    t1, t2 = suites
    assert (t1.get("tests"), t1.get("failures"), t1.get("errors"), t1.get("skipped")) == (
        "5", "1", "1", "2",
    )  # fmt: skip
    assert t2.get("tests") == "0"
    props = {p.get("name"): p.get("value") for p in t1.find("properties")}
    assert props["title"] == "Title of T-1"  # the policy text, from results.policies
    assert props["severity"] == "high"
    assert props["controls"] == "fw:C.1"
    cases = {c.get("name"): c for c in t1.findall("testcase")}
    assert set(cases) == {"r1", "r2", "r3", "r4", "r5"}
    assert all(c.get("classname") == "T-1" for c in cases.values())
    assert list(cases["r1"]) == []
    failure = cases["r2"].find("failure")
    assert failure.get("message") == "file_count is 9, expected at most 3"
    assert failure.get("type") == "high"
    assert "evidence: file_count = 9" in failure.text
    assert "remediation: Split the model." in failure.text
    assert "gate: hard (fail_on high)" in failure.text
    skipped = cases["r3"].find("skipped")
    assert skipped.get("message") == "waived: Migrating in Q3"
    assert "approved by: ciso@example.com" in skipped.text
    assert "expires: 2025-09-30" in skipped.text
    assert "ticket: SEC-7" in skipped.text
    error = cases["r4"].find("error")
    assert error.get("message") == "could not evaluate: file_count: listing denied"
    assert cases["r5"].find("skipped").get("message") == "not applicable: not a production model"


def test_case_names_show_name_and_id_when_they_differ():
    root = parse(
        make_document([finding("T-1", "s3://b/p", "pass", name="fraud/3")], [make_policy("T-1")])
    )
    assert root.find("testsuite/testcase").get("name") == "fraud/3 [s3://b/p]"


def test_hostile_strings_do_not_break_the_xml():
    nasty = (
        "\x00\x01\x08\x0b\x0c\x1b[31m\x7f ]]> <![CDATA[ x ]]> </failure> & \"' \ud800 \ufffe "
        + "y" * 100_000
    )
    findings = [
        finding("T-1", f"r{nasty[:40]}", "fail", nasty, name=nasty, evidence={nasty[:30]: nasty}),
        finding("T-1", "r2", "waived", waiver={**WAIVER, "justification": nasty}),
    ]
    root = parse(make_document(findings, [make_policy("T-1", title=nasty[:150])]))
    failure = root.find("testsuite/testcase/failure")
    message = failure.get("message")
    assert message.startswith("\\x00\\x01\\x08\\x0b\\x0c\\x1b[31m\x7f ]]> <![CDATA[ x ]]>")
    assert "</failure> & \"' \\ud800 \\ufffe" in message
    assert len(message) <= MAX_ATTR
    assert len(failure.text) <= MAX_BODY
    assert "(+" in message and "characters)" in message  # clipped, and says so
    skipped = root.find("testsuite/testcase/skipped")
    assert skipped.get("message").startswith("waived: \\x00")
    assert len(root.find("testsuite/testcase").get("name")) <= 500


def test_results_of_schema_1_0_still_render():
    doc = make_document([finding("T-1", "r", "fail")], [make_policy("T-1")])
    doc["schema_version"] = "1.0"
    del doc["policies"]
    root = parse(doc)
    assert root.find("testsuite").get("name") == "T-1"
    assert root.find("testsuite/testcase/failure") is not None
