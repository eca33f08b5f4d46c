"""JUnit XML (`results.junit.xml`) for CI test-report views (GitLab, Jenkins, Azure DevOps).

One `<testsuite>` per policy, one `<testcase>` per resource it judged: `pass` is a plain test
case, `fail` carries `<failure>` with the message, `error` carries `<error>`, `waived` is
`<skipped>` with the justification, and `not_applicable` is `<skipped>` saying so. Built with
ElementTree, which escapes markup; characters XML 1.0 cannot carry at all are turned into
escapes first (`outputs/text.py`), so no string from a scanned system can break the file.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from scanner.outputs import catalog
from scanner.outputs import remediation as fixes
from scanner.outputs.text import clean

MAX_ATTR = 1_000
MAX_BODY = 16_000
MAX_NAME = 500
COUNTED = ("tests", "failures", "errors", "skipped")


def _case_name(finding: Mapping[str, Any]) -> str:
    name, rid = finding["resource_name"], finding["resource_id"]
    return clean(rid if not name or name == rid else f"{name} [{rid}]", MAX_NAME)


def _body(
    finding: Mapping[str, Any],
    policy: Mapping[str, Any],
    controls: list[str],
    decision: Mapping[str, Any] | None,
    provider: str | None = None,
) -> str:
    lines = [
        f"policy: {finding['policy_id']} ({finding['severity']}): {finding['title']}",
        f"resource: {finding['resource_id']} ({finding['resource_type']})",
        f"message: {finding['message']}",
    ]
    if decision is not None:
        matched = f" {decision['matched']}" if decision.get("matched") else ""
        lines.append(f"gate: {decision['outcome']} ({decision['rule']}{matched})")
    for path, value in sorted(finding.get("evidence", {}).items()):
        lines.append(f"evidence: {path} = {json.dumps(value, ensure_ascii=False)[:2000]}")
    remediation = policy.get("remediation") or {}
    if remediation.get("summary"):
        lines.append(f"remediation: {remediation['summary']}")
    steps = fixes.text_for(remediation, provider)
    if steps:
        lines.append(steps)
    if controls:
        lines.append(f"controls: {', '.join(controls)}")
    return clean("\n".join(lines), MAX_BODY)


def _outcome(
    case: ET.Element,
    finding: Mapping[str, Any],
    body: str,
) -> str | None:
    """Add the child element for the finding's status; return which counter it bumps."""
    status = finding["status"]
    message = clean(finding["message"], MAX_ATTR)
    if status == "fail":
        el = ET.SubElement(case, "failure", message=message, type=finding["severity"])
        el.text = body
        return "failures"
    if status == "error":
        el = ET.SubElement(case, "error", message=f"could not evaluate: {message}", type="error")
        el.text = body
        return "errors"
    if status == "waived":
        waiver = finding.get("waiver") or {}
        justification = clean(waiver.get("justification", ""), MAX_ATTR)
        el = ET.SubElement(case, "skipped", message=f"waived: {justification}")
        details = [
            f"approved by: {waiver.get('approved_by', '')}",
            f"expires: {waiver.get('expires', '')}",
            f"waiver: {waiver.get('file', '')}:{waiver.get('line', '')}",
        ]
        if waiver.get("ticket"):
            details.append(f"ticket: {waiver['ticket']}")
        el.text = clean("\n".join(details), MAX_BODY) + "\n\n" + body
        return "skipped"
    if status == "not_applicable":
        ET.SubElement(case, "skipped", message=f"not applicable: {message}")
        return "skipped"
    return None


class JunitWriter:
    format = "junit"
    filename = "results.junit.xml"

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        root = self.build(document)
        ET.indent(root)
        return {self.filename: ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"}

    def build(self, document: Mapping[str, Any]) -> ET.Element:
        pols = catalog.policies(document)
        ctrl = catalog.controls(document)
        decided = catalog.decisions(document)
        resources = {r["id"]: r for r in document["resources"]}
        providers = fixes.ProviderIndex(document)
        by_policy: dict[str, list[Mapping[str, Any]]] = {pid: [] for pid in pols}
        for f in document["findings"]:
            by_policy[f["policy_id"]].append(f)
        started = document["scan"]["started_at"]
        root = ET.Element("testsuites", name="modelward", timestamp=started)
        totals = dict.fromkeys(COUNTED, 0)
        for pid, findings in by_policy.items():
            policy = pols[pid]
            suite = ET.SubElement(root, "testsuite", name=clean(pid, MAX_NAME), timestamp=started)
            props = ET.SubElement(suite, "properties")
            for name, value in (
                ("title", policy["title"]),
                ("severity", policy["severity"]),
                ("maturity", policy["maturity"]),
                ("controls", ", ".join(ctrl.get(pid, []))),
            ):
                ET.SubElement(props, "property", name=name, value=clean(value, MAX_ATTR))
            counts = dict.fromkeys(COUNTED, 0)
            for f in sorted(findings, key=lambda f: f["resource_id"]):
                case = ET.SubElement(
                    suite, "testcase", name=_case_name(f), classname=clean(pid, MAX_NAME)
                )
                location = catalog.resource_file(resources.get(f["resource_id"]))
                if location is not None:
                    case.set("file", clean(location.path, MAX_ATTR))
                    if location.line:
                        case.set("line", str(location.line))
                body = _body(
                    f,
                    policy,
                    ctrl.get(pid, []),
                    decided.get((pid, f["resource_id"])),
                    providers.of(f["resource_id"]),
                )
                counts["tests"] += 1
                bumped = _outcome(case, f, body)
                if bumped:
                    counts[bumped] += 1
            for key in COUNTED:
                suite.set(key, str(counts[key]))
                totals[key] += counts[key]
        for key in COUNTED:
            root.set(key, str(totals[key]))
        return root
