"""SARIF 2.1.0 (`results.sarif`), shaped for GitHub code scanning's upload rules.

One rule per evaluated policy; one result per `fail` or `error` finding, and per `waived`
finding with an accepted external suppression (so waivers stay visible, as every output must
show them). Each result has a logical location (the resource id) and, when there is a file to
point at, a physical one: the resource's own file (an attestation's line, a model file on disk),
otherwise the policy file that raised it. Only `file:` URIs are used for physical locations:
GitHub rejects an upload whose absolute URIs use another scheme than the checkout root.

An evaluation error is reported as a failing result ("Could not evaluate ..."), as the gate
treats it; SARIF's `kind: open` would force `level: none` (§3.27.10) and hide it.

The limits below are GitHub's, from its "SARIF support for code scanning" reference
(https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning:
"Validating your SARIF file" and the `reportingDescriptor` table).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner.outputs import catalog
from scanner.outputs import remediation as fixes
from scanner.outputs.text import clean

# Results per run: 25,000 accepted, "only the top 5,000 results will be included, prioritized
# by severity". We keep the 5,000 most severe ourselves, so which ones survive is deterministic.
MAX_RESULTS = 5_000
# Rules per run: 25,000 (a pack that large is not realistic; rules with results come first).
MAX_RULES = 25_000
# Tags per rule: 20 accepted, "only 10 tags will be included".
MAX_TAGS = 10
# reportingDescriptor.name: "limited to 255 characters"; short/fullDescription.text: 1024.
MAX_NAME = 255
MAX_DESCRIPTION = 1024
# Not a GitHub limit (none is documented for message.text, of which only the first sentence is
# shown): our bound, so 5,000 results stay far below the 10 MB (gzip-compressed) file limit.
MAX_MESSAGE = 2_000
MAX_HELP = 20_000
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub reads `security-severity` > 9.0 as critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low;
# 0.0 means "no security severity", which is what an informational check has.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
REPORTED = ("fail", "error", "waived")
_EMBEDDED_LINK = re.compile(r"([\\\[\]])")
_URL = re.compile(r"^https?://[^\s<>\"]+$")


def message_text(text: object, limit: int = MAX_MESSAGE) -> str:
    """Plain SARIF message text: `[text](id)` is SARIF's embedded-link syntax (§3.11.6), so a
    resource named `[x](1)` must not become a link; brackets and backslashes are escaped."""
    return clean(_EMBEDDED_LINK.sub(r"\\\1", clean(text)), limit)


def _fence(code: str) -> str:
    """A Markdown code fence longer than any backtick run inside the code."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{code}\n{ticks}"


def _help(policy: Mapping[str, Any], controls: Sequence[str]) -> dict[str, str]:
    remediation = policy.get("remediation") or {}
    text = [policy["title"]]
    markdown = [f"**{policy['title']}**"]
    for label, key in (("", "description"), ("Why it matters: ", "rationale")):
        if policy.get(key):
            text.append(f"{label}{policy[key]}")
            markdown.append(f"{label}{policy[key]}")
    if remediation.get("summary"):
        text.append(f"Remediation: {remediation['summary']}")
        markdown.append(f"### Remediation\n\n{remediation['summary']}")
    for key, label in (("cli", "CLI"), ("console", "Console"), ("terraform", "Terraform")):
        if remediation.get(key):
            text.append(f"{label}:\n{remediation[key]}")
            markdown.append(f"{label}:\n\n{_fence(remediation[key])}")
    if remediation.get("other"):
        text.append(remediation["other"])
        markdown.append(remediation["other"])
    # A rule covers resources of every provider: each provider's own steps, under its name.
    for steps in fixes.all_providers(remediation):
        text.append(fixes.as_text(steps))
        markdown.append(_provider_markdown(steps))
    if controls:
        text.append("Framework controls: " + ", ".join(controls))
        markdown.append("### Framework controls\n\n" + "\n".join(f"- `{c}`" for c in controls))
    if policy.get("references"):
        text.append("References: " + " ".join(policy["references"]))
        markdown.append("### References\n\n" + "\n".join(f"- <{r}>" for r in policy["references"]))
    return {
        "text": clean("\n\n".join(text), MAX_HELP),
        "markdown": clean("\n\n".join(markdown), MAX_HELP),
    }


def _provider_markdown(steps: fixes.Steps) -> str:
    out = [f"#### On {steps.label}"]
    if steps.summary:
        out.append(steps.summary)
    for label, code in steps.blocks():
        out.append(f"{label}:\n\n{_fence(code)}")
    return "\n\n".join(out)


def _fix_text(policy: Mapping[str, Any], provider: str | None) -> str:
    """What a failing result adds to its rule's help: the steps its resource's provider has of
    its own (summary, console, CLI; Terraform is in the help), empty when there are none."""
    specific = fixes.for_provider(policy.get("remediation"), provider)
    if specific is None:
        return ""
    lines = [f"How to fix on {specific.label}: {specific.summary}".rstrip()]
    lines += [
        f"{label}:\n{code}" for label, code in specific.blocks() if label in ("Console", "CLI")
    ]
    lines.append("(Every provider's steps are in the rule's help.)")
    return "\n".join(lines)


def _rule(policy: Mapping[str, Any], controls: Sequence[str]) -> dict[str, Any]:
    severity = policy["severity"]
    description = policy.get("description") or policy.get("rationale") or policy["title"]
    tags = list(dict.fromkeys(["security", *controls, *policy.get("tags", [])]))
    properties: dict[str, Any] = {
        "tags": [clean(t, 200) for t in tags[:MAX_TAGS]],
        "security-severity": SECURITY_SEVERITY[severity],
        "precision": "high",
        "severity": severity,
        "maturity": policy["maturity"],
        "resource_type": policy["resource"],
    }
    if controls:
        properties["controls"] = list(controls)  # every control, even past the tag limit
    rule: dict[str, Any] = {
        "id": policy["id"],
        "name": clean(policy["title"], MAX_NAME),
        "shortDescription": {"text": clean(policy["title"], MAX_DESCRIPTION)},
        "fullDescription": {"text": clean(description, MAX_DESCRIPTION)},
        "help": _help(policy, controls),
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": properties,
    }
    url = next((r for r in policy.get("references", []) if _URL.match(r)), None)
    if url:
        rule["helpUri"] = url
    return rule


def _file_uri(path: str) -> str | None:
    return Path(path).as_uri() if path and os.path.isabs(path) else None


def _location(
    finding: Mapping[str, Any],
    resource: Mapping[str, Any] | None,
    policy: Mapping[str, Any],
) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [
            {
                "name": clean(finding["resource_name"] or finding["resource_id"], 500),
                "fullyQualifiedName": clean(finding["resource_id"], 2000),
                "kind": "resource",
            }
        ]
    }
    own = catalog.resource_file(resource)
    file, line = (own.path, own.line) if own else (policy.get("file", ""), policy.get("line"))
    uri = _file_uri(file)
    if uri:
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        physical["region"] = {"startLine": line if isinstance(line, int) and line > 0 else 1}
        location["physicalLocation"] = physical
    return location


def _fingerprint(finding: Mapping[str, Any]) -> dict[str, str]:
    """GitHub tracks alerts across runs by `primaryLocationLineHash`; computed from the policy
    file's line it would merge every resource of a policy into one alert. The finding's own key
    (policy id + resource id, as baselines use) is the identity that stays stable."""
    digest = hashlib.sha256(
        f"{finding['policy_id']}\0{finding['resource_id']}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    return {"modelwardFinding/v1": digest, "primaryLocationLineHash": f"{digest[:16]}:1"}


def _result(
    finding: Mapping[str, Any],
    rule_index: int,
    resource: Mapping[str, Any] | None,
    policy: Mapping[str, Any],
    decision: Mapping[str, Any] | None,
    baseline_used: bool,
    provider: str | None,
) -> dict[str, Any]:
    status = finding["status"]
    name = finding["resource_name"] or finding["resource_id"]
    waiver = finding.get("waiver") or None
    original = waiver["original_status"] if waiver and status == "waived" else status
    if original == "error":
        text = f"Could not evaluate {finding['policy_id']} on {name}: {finding['message']}"
    else:
        text = f"{finding['title']}: {name}: {finding['message']}"
    fix = _fix_text(policy, provider) if status in ("fail", "error") else ""
    if fix:
        text = f"{text}\n\n{fix}"
    result: dict[str, Any] = {
        "ruleId": finding["policy_id"],
        "ruleIndex": rule_index,
        "level": LEVEL[finding["severity"]],
        "message": {"text": message_text(text)},
        "locations": [_location(finding, resource, policy)],
        "partialFingerprints": _fingerprint(finding),
        "properties": {
            "status": status,
            "severity": finding["severity"],
            "resource_id": clean(finding["resource_id"], 2000),
            "resource_type": finding["resource_type"],
        },
    }
    if provider is not None:
        result["properties"]["provider"] = provider
    if decision is not None:
        result["properties"]["gate"] = decision["outcome"]
    if baseline_used:
        unchanged = decision is not None and decision["outcome"] == "baselined"
        result["baselineState"] = "unchanged" if unchanged else "new"
    if status == "waived" and waiver:
        extra = {k: waiver.get(k) for k in ("approved_by", "expires", "ticket", "file", "line")}
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": clean(waiver["justification"], MAX_MESSAGE),
                "properties": {
                    k: clean(v, 500) if isinstance(v, str) else v
                    for k, v in extra.items()
                    if v is not None
                },
            }
        ]
    return result


def _notifications(document: Mapping[str, Any], dropped: int) -> list[dict[str, Any]]:
    notes = [
        {"level": "error", "message": {"text": message_text(f"source {s['name']} failed: {e}")}}
        for s in document["scan"]["sources"]
        if s["status"] != "ok" and (e := s["error"]) is not None
    ]
    if dropped:
        notes.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{dropped} lower-severity result(s) left out: GitHub code scanning "
                    f"keeps at most {MAX_RESULTS} per run; results.json has them all"
                },
            }
        )
    notes += [
        {"level": "note", "message": {"text": message_text(n)}}
        for n in document["gate"].get("notes", [])
    ]
    return notes


class SarifWriter:
    format = "sarif"
    filename = "results.sarif"

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        return {self.filename: self.dumps(self.build(document)).encode("utf-8")}

    @staticmethod
    def dumps(log: Mapping[str, Any]) -> str:
        return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def build(self, document: Mapping[str, Any]) -> dict[str, Any]:
        pols = catalog.policies(document)
        ctrl = catalog.controls(document)
        decided = catalog.decisions(document)
        resources = {r["id"]: r for r in document["resources"]}
        reported = sorted(
            (f for f in document["findings"] if f["status"] in REPORTED),
            key=lambda f: (
                f["status"] == "waived",
                RANK[f["severity"]],
                f["policy_id"],
                f["resource_id"],
            ),
        )
        kept = reported[:MAX_RESULTS]
        with_results = {f["policy_id"] for f in kept}
        rule_ids = sorted(pols, key=lambda pid: (pid not in with_results, pid))[:MAX_RULES]
        rule_ids.sort()
        index = {pid: i for i, pid in enumerate(rule_ids)}
        baseline_used = "baseline" in document["gate"]
        providers = fixes.ProviderIndex(document)
        results = [
            _result(
                f,
                index[f["policy_id"]],
                resources.get(f["resource_id"]),
                pols[f["policy_id"]],
                decided.get((f["policy_id"], f["resource_id"])),
                baseline_used,
                providers.of(f["resource_id"]),
            )
            for f in kept
            if f["policy_id"] in index
        ]
        tool = document["tool"]
        scan = document["scan"]
        driver: dict[str, Any] = {
            "name": "modelward",
            "version": tool["version"],
            "rules": [_rule(pols[pid], ctrl.get(pid, [])) for pid in rule_ids],
        }
        if re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?", tool["version"]):
            driver["semanticVersion"] = tool["version"]
        gate = document["gate"]
        return {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": driver},
                    "automationDetails": {"id": f"modelward/{scan['id']}"},
                    "invocations": [
                        {
                            "executionSuccessful": all(
                                s["status"] == "ok" for s in scan["sources"]
                            ),
                            "startTimeUtc": scan["started_at"],
                            "endTimeUtc": scan["finished_at"],
                            "exitCode": gate["exit_code"],
                            "toolExecutionNotifications": _notifications(
                                document, len(reported) - len(kept)
                            ),
                        }
                    ],
                    "results": results,
                    "properties": {
                        "modelward": {
                            "schema_version": document["schema_version"],
                            "as_of": scan.get("as_of", scan["started_at"]),
                            "gate": {
                                "fail_on": gate["fail_on"],
                                "exit_code": gate["exit_code"],
                                "passed": gate["passed"],
                            },
                            "results_left_out": len(reported) - len(kept),
                        }
                    },
                }
            ],
        }
