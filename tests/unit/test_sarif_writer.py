"""SARIF output: valid against the official SARIF 2.1.0 schema, within GitHub's upload limits,
and safe with hostile strings."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
import pytest

from scanner.findings import ControlRef, Finding
from scanner.inventory import Resource
from scanner.outputs import sarif_writer
from scanner.outputs.sarif_writer import SarifWriter
from tests.helpers import make_document, make_policy
from tests.standards import standard


@cache
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(standard("sarif-2.1.0/sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def render(document: dict) -> dict:
    text = SarifWriter().render(document)["results.sarif"].decode("utf-8")
    log = json.loads(text)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator().iter_errors(log)]
    assert not errors, errors[:5]
    return log


def finding(
    pid: str,
    rid: str,
    status: str = "fail",
    severity: str = "high",
    message: str = "bad",
    name: str | None = None,
    **extra,
) -> Finding:
    return Finding(
        pid, f"Title of {pid}", severity, "applied", rid, "artefact",
        rid if name is None else name, status, message, **extra,
    )  # fmt: skip


def test_rules_and_results_for_a_typical_scan(tmp_path):
    policy_file = tmp_path / "pol.yaml"
    policies = [
        make_policy(
            "T-1",
            "critical",
            description="Pickles run code on load.",
            rationale="Loading a pickle runs code.",
            remediation={"summary": "Convert to safetensors.", "cli": "convert ```x```"},
            references=("https://example.org/pickle", "not a url"),
            file=str(policy_file),
            line=4,
        ),
        make_policy("T-2", "medium"),
        make_policy("T-3", "info"),
    ]
    models = tmp_path / "models" / "legacy"
    evidence = tmp_path / "evidence.yaml"
    resources = [
        Resource(
            models.as_uri(), "artefact", "legacy", "path:x",
            {
                "location": {"provider": "local", "path": str(models)},
                "files": [
                    {"path": "a.json", "format": "json"},
                    {"path": "w/model.pt", "format": "pytorch"},
                ],
            },
        ),
        Resource("attestation:tm:1", "attestation", "tm", "ev",
                 {"file": str(evidence), "line": 7}),
    ]  # fmt: skip
    findings = [
        finding("T-1", models.as_uri(), severity="critical", name="legacy",
                controls=(ControlRef("iso-42001", "A.6"), ControlRef("owasp", "LLM10"))),
        finding("T-2", "attestation:tm:1", "error", "medium", message="date unreadable"),
        finding("T-2", "s3://bucket", "pass", "medium"),
        finding("T-3", "s3://bucket", "not_applicable", "info"),
    ]  # fmt: skip
    log = render(make_document(findings, policies, resources))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["T-1", "T-2", "T-3"]  # one rule per evaluated policy
    r1 = rules[0]
    assert r1["name"] == "Title of T-1"
    assert r1["shortDescription"]["text"] == "Title of T-1"
    assert r1["fullDescription"]["text"] == "Pickles run code on load."
    assert r1["helpUri"] == "https://example.org/pickle"
    assert "Convert to safetensors." in r1["help"]["text"]
    assert "````\nconvert ```x```\n````" in r1["help"]["markdown"]  # fence outgrows the code
    assert r1["properties"]["security-severity"] == "9.5"
    assert r1["properties"]["tags"] == ["security", "iso-42001:A.6", "owasp:LLM10"]
    assert r1["defaultConfiguration"]["level"] == "error"
    assert rules[1]["properties"]["security-severity"] == "5.5"
    assert rules[2]["properties"]["security-severity"] == "0.0"

    results = run["results"]
    assert [(r["ruleId"], r["properties"]["status"]) for r in results] == [
        ("T-1", "fail"),
        ("T-2", "error"),
    ]  # pass and not_applicable are not results
    fail, error = results
    assert fail["ruleIndex"] == 0 and error["ruleIndex"] == 1
    assert fail["message"]["text"] == "Title of T-1: legacy: bad"
    assert error["message"]["text"] == "Could not evaluate T-2 on attestation:tm:1: date unreadable"
    assert fail["locations"][0]["logicalLocations"] == [
        {"name": "legacy", "fullyQualifiedName": models.as_uri(), "kind": "resource"}
    ]
    # the pickle-based file of the model directory, not the first one listed
    assert fail["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": (models / "w" / "model.pt").as_uri()},
        "region": {"startLine": 1},
    }
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": evidence.as_uri()},
        "region": {"startLine": 7},
    }
    assert fail["partialFingerprints"]["primaryLocationLineHash"].endswith(":1")
    assert fail["partialFingerprints"] != error["partialFingerprints"]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert invocation["exitCode"] == 1  # the critical failure; the medium error is below 'high'
    assert run["automationDetails"]["id"] == "modelward/11111111-2222-3333-4444-555555555555"


def test_resources_without_a_file_point_at_the_policy_file(tmp_path):
    policy = make_policy("T-1", file=str(tmp_path / "p.yaml"), line=3)
    log = render(make_document([finding("T-1", "s3://bucket")], [policy]))
    loc = log["runs"][0]["results"][0]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == (tmp_path / "p.yaml").as_uri()
    assert loc["physicalLocation"]["region"] == {"startLine": 3}
    # never a non-file URI: GitHub rejects absolute URIs whose scheme differs from the checkout's
    assert "s3://" not in json.dumps(loc["physicalLocation"])


def test_waived_findings_are_suppressed_not_dropped():
    waiver = {
        "policy": "T-1", "resource": "r", "justification": "accepted [risk](1)",
        "approved_by": "ciso", "expires": "2025-09-30", "file": "w.yaml", "line": 2,
        "state": "applied", "original_status": "fail", "ticket": "SEC-1",
    }  # fmt: skip
    log = render(
        make_document([finding("T-1", "r", "waived", waiver=waiver)], [make_policy("T-1")])
    )
    (result,) = log["runs"][0]["results"]
    assert result["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "accepted [risk](1)",
            "properties": {
                "approved_by": "ciso",
                "expires": "2025-09-30",
                "ticket": "SEC-1",
                "file": "w.yaml",
                "line": 2,
            },
        }
    ]
    assert result["properties"]["gate"] == "waived"
    del waiver["ticket"]  # optional
    log = render(
        make_document([finding("T-1", "r", "waived", waiver=waiver)], [make_policy("T-1")])
    )
    assert "ticket" not in log["runs"][0]["results"][0]["suppressions"][0]["properties"]


def test_baseline_state_when_a_baseline_was_used():
    findings = [finding("T-1", "old"), finding("T-1", "new")]
    from scanner.gate import GateSettings, decide

    gate = decide(findings, [], GateSettings(), known={("T-1", "old")})
    gate["baseline"] = {
        "file": "b.json", "kind": "baseline", "entries": 1, "unchanged": 1, "new": 1,
        "fixed": 0, "fixed_findings": [],
    }  # fmt: skip
    log = render(make_document(findings, [make_policy("T-1")], gate=gate))
    states = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]: r["baselineState"]
              for r in log["runs"][0]["results"]}  # fmt: skip
    assert states == {"old": "unchanged", "new": "new"}


def test_github_limits_results_tags_and_lengths(monkeypatch):
    monkeypatch.setattr(sarif_writer, "MAX_RESULTS", 50)
    controls = tuple(ControlRef("fw", f"C{i:02}") for i in range(30))
    long_title = "T" * 2000
    policies = [make_policy("T-LOW", "low", title=long_title), make_policy("T-CRIT", "critical")]
    findings = [finding("T-LOW", f"low-{i:03}", severity="low", controls=controls)
                for i in range(60)]  # fmt: skip
    findings += [finding("T-CRIT", f"crit-{i}", severity="critical") for i in range(5)]
    log = render(make_document(findings, policies))
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == 50
    # the most severe survive the cut
    assert sum(r["ruleId"] == "T-CRIT" for r in results) == 5
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("15 lower-severity result(s) left out" in n["message"]["text"] for n in notes)
    assert run["properties"]["modelward"]["results_left_out"] == 15
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "T-LOW")
    assert len(rule["properties"]["tags"]) == sarif_writer.MAX_TAGS
    assert len(rule["properties"]["controls"]) == 30  # nothing lost, just not all as tags
    assert len(rule["name"]) <= 255
    assert len(rule["shortDescription"]["text"]) <= 1024
    assert len(rule["fullDescription"]["text"]) <= 1024


def test_hostile_strings_stay_plain_text():
    nasty = "\x1b[31mred\x00 [link](1) \\ \ud800 ]]> <script>" + "x" * 50_000
    findings = [finding("T-1", "r\x07", message=nasty, name="[name](2)")]
    log = render(make_document(findings, [make_policy("T-1")]))
    text = log["runs"][0]["results"][0]["message"]["text"]
    assert "\\[link\\](1)" in text and "\\[name\\](2)" in text  # no embedded SARIF links
    assert "\x1b" not in text and "\x00" not in text and "\ud800" not in text
    assert "\\x1b" in text and "\\ud800" in text
    assert len(text) <= sarif_writer.MAX_MESSAGE
    SarifWriter().render(make_document(findings, [make_policy("T-1")]))["results.sarif"].decode()


def test_source_failures_are_notifications():
    sources = [{"name": "aws:", "type": "aws", "status": "error", "error": "denied",
                "resource_count": 0}]  # fmt: skip
    log = render(make_document([], [make_policy("T-1")], sources=sources))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0] == {
        "level": "error",
        "message": {"text": "source aws: failed: denied"},
    }


def test_results_of_schema_1_0_still_render():
    doc = make_document([finding("T-1", "r")], [make_policy("T-1")])
    doc["schema_version"] = "1.0"
    del doc["policies"]
    log = render(doc)
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["id"] == "T-1"
    assert rule["fullDescription"]["text"] == "Title of T-1"
    assert "physicalLocation" not in log["runs"][0]["results"][0]["locations"][0]


@pytest.mark.parametrize("severity", ["critical", "high", "medium", "low", "info"])
def test_levels_and_security_severity_follow_github(severity):
    doc = make_document([finding("T-1", "r", severity=severity)], [make_policy("T-1", severity)])
    log = render(doc)
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    score = float(rule["properties"]["security-severity"])
    bands = {"critical": (9.0, 10.0), "high": (7.0, 8.9), "medium": (4.0, 6.9),
             "low": (0.1, 3.9), "info": (0.0, 0.0)}  # fmt: skip
    low, high = bands[severity]
    assert low <= score <= high
    assert log["runs"][0]["results"][0]["level"] in ("error", "warning", "note")
