"""The HTML gap report: one self-contained file rendered from results.json by Jinja2.

The templates, stylesheet and script live in the top-level `reports/` folder (shipped in the
wheel). Everything is inlined; a Content-Security-Policy with the hashes of the one stylesheet
and the one script forbids anything else — no network, no injected script, no inline handler —
so a hostile string that somehow escaped escaping would still run nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from scanner.bundled import bundled_dir
from scanner.outputs import digest, remediation
from scanner.outputs.html_values import Values, iter_refs, prose, read_access_rows, safe_url
from scanner.outputs.interface import OutputError

TEMPLATE = "report.html.j2"
TYPE_ORDER = ("model", "model_version", "artefact", "storage", "endpoint")
TYPE_TITLES = {
    "model": "Models",
    "model_version": "Model versions",
    "artefact": "Artefacts",
    "storage": "Storage",
    "endpoint": "Endpoints",
    "principal": "Principals",
    "attestation": "Attestations",
    "audit_trail": "Audit trails",
    "network": "Networks",
    "threat_detection": "Threat detection",
    "traffic": "Traffic",
    "access_log": "Access logs",
}
# Resource types as nouns, singular (`digest.plural` adds the s).
TYPE_NOUNS = {
    "model_version": "model version",
    "audit_trail": "audit trail",
    "threat_detection": "threat detection setting",
    "storage": "storage location",
    "traffic": "traffic record",
}
TOP_FIXES = 5  # in the executive summary; the Fix first section lists every failing policy
FAILING_SHOWN = 10  # failing resources named per control before the rest is folded away
# On paper a board pack names a few resources per policy and per control and counts the rest:
# every failing resource is on screen (and in the findings), while listing them all in print
# made a three-cloud estate's report longer than a board reads (5 to 15 pages).
PRINT_SHOWN = 5  # failing resources named per policy in the printed Fix first
PRINT_FAILING_SHOWN = 3  # failing resources named per control in the printed framework tables


@cache
def _environment() -> Environment:
    root = bundled_dir("reports")
    env = Environment(
        loader=FileSystemLoader(str(root)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
    )
    env.globals["safe_url"] = safe_url
    env.filters["prose"] = prose
    # Jinja's `capitalize` lowers the rest of the text ("APIs" would read "apis").
    env.filters["first_upper"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    env.globals["control_label"] = digest.CONTROL_LABELS
    return env


@cache
def _asset(name: str) -> str:
    text = (bundled_dir("reports") / name).read_text(encoding="utf-8")
    if "</" in text:  # it is inlined in <script>/<style>: a closing tag would end it early
        raise OutputError(f"reports/{name}: must not contain '</'")
    return text


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(css: str, js: str) -> str:
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{_sha256(css)}'; "
        f"script-src 'sha256-{_sha256(js)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _segments(counts: Mapping[str, int], order: tuple[str, ...]) -> list[dict[str, Any]]:
    """Stacked-bar pieces: each status's offset and width in units of one control."""
    x = 0
    out = []
    for key in order:
        n = counts.get(key, 0)
        if n:
            out.append({"key": key, "x": x, "width": n})
            x += n
    return out


WAIVER_KEYS = (
    "justification",
    "approved_by",
    "expires",
    "ticket",
    "file",
    "line",
    "state",
    "policy",
    "resource",
    "original_status",
)


def _waiver(waiver: Mapping[str, Any]) -> dict[str, Any]:
    """A waiver in words: applied (the finding is waived) or expired (it fails again)."""
    expired = waiver.get("state") == "expired"
    where = str(waiver.get("file", ""))
    if where and waiver.get("line"):
        where += f":{waiver['line']}"
    return {
        "expired": expired,
        "justification": str(waiver.get("justification", "")),
        "approved_by": str(waiver.get("approved_by", "")),
        "expires": str(waiver.get("expires", "")),
        "ticket": str(waiver.get("ticket", "")),
        "where": where,
        "other": {k: v for k, v in waiver.items() if k not in WAIVER_KEYS},
    }


class _View:
    """Everything the template lays out, computed once so the template stays declarative."""

    def __init__(
        self, document: Mapping[str, Any], evidence: Mapping[str, str] | None = None
    ) -> None:
        self.doc = document
        self.evidence = evidence
        resources = document["resources"]
        self.anchors = {r["id"]: f"r{i}" for i, r in enumerate(resources)}
        # Findings name the resources no source reported too (`modelward:missing/attestation`
        # reads "(no passing attestation)"): a reader sees names, never internal ids.
        self.names = {f["resource_id"]: f["resource_name"] for f in document["findings"]}
        self.names.update({r["id"]: r["name"] or r["id"] for r in resources})
        self.values = Values(self.anchors, self.names)
        self.policies = digest.policies(document)
        self.policy_anchor = {pid: f"p{i}" for i, pid in enumerate(self.policies)}
        self.priorities = digest.priorities(document)
        ranks = {p.policy.id: p.rank for p in self.priorities}
        self.maturity = digest.maturity_view(document)
        self.findings = digest.ordered_findings(document["findings"], ranks)
        self.framework_titles = {fw["id"]: fw["title"] for fw in document["frameworks"]}
        self.providers = remediation.ProviderIndex(document)
        self.framework_anchors = {fw["id"]: f"f{i}" for i, fw in enumerate(document["frameworks"])}
        self.control_titles = {
            (fw["id"], c["id"]): c["title"] for fw in document["frameworks"] for c in fw["controls"]
        }

    def policy_link(self, pid: str) -> dict[str, str]:
        return {"id": pid, "anchor": self.policy_anchor.get(pid, "")}

    def control_groups(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """(framework id, control id) pairs as a reader wants them: under the framework's
        title, each control with its title, never as `iso-iec-27001-2022:5.15`."""
        groups: dict[str, list[dict[str, str]]] = {}
        for fw_id, control in pairs:
            groups.setdefault(fw_id, []).append(
                {"id": control, "title": self.control_titles.get((fw_id, control), "")}
            )
        return [
            {
                "title": self.framework_titles.get(fw_id) or fw_id,
                "anchor": self.framework_anchors.get(fw_id, ""),
                "controls": controls,
            }
            for fw_id, controls in groups.items()
        ]

    def frameworks(self) -> list[dict[str, Any]]:
        out = []
        for i, fw in enumerate(self.doc["frameworks"]):
            counts = fw["summary"]
            total = sum(counts.values())
            controls = []
            for c in fw["controls"]:
                failing = c["failing"]
                controls.append(
                    {
                        **c,
                        "attestation": c.get("attestation", ""),
                        "notes": c.get("notes", []),
                        "policy_links": [self.policy_link(p) for p in c["policies"]],
                        "failing_shown": [self.values.link(r) for r in failing[:FAILING_SHOWN]],
                        "failing_rest": [self.values.link(r) for r in failing[FAILING_SHOWN:]],
                        "print_failing": [
                            self.values.link(r) for r in failing[:PRINT_FAILING_SHOWN]
                        ],
                        "print_failing_rest": max(0, len(failing) - PRINT_FAILING_SHOWN),
                        "attested_links": [self.values.link(r) for r in c.get("attested_by", [])],
                    }
                )
            automated = total - counts["manual"] - counts["not_applicable"]
            out.append(
                {
                    **fw,
                    "anchor": f"f{i}",
                    "total": total,
                    "automated": automated,
                    "segments": _segments(counts, digest.CONTROL_STATUSES),
                    "link": safe_url(fw["url"]),
                    "control_views": controls,
                }
            )
        return out

    def policy_rows(self) -> list[dict[str, Any]]:
        counts: dict[str, dict[str, int]] = {
            pid: dict.fromkeys(digest.STATUSES, 0) for pid in self.policies
        }
        for f in self.doc["findings"]:
            counts[f["policy_id"]][f["status"]] += 1
        controls: dict[str, list[tuple[str, str]]] = {}
        for fw in self.doc["frameworks"]:
            for c in fw["controls"]:
                for pid in c["policies"]:
                    controls.setdefault(pid, []).append((fw["id"], c["id"]))
        return [
            {
                "info": info,
                "anchor": self.policy_anchor[pid],
                "counts": counts[pid],
                "controls": self.control_groups(controls.get(pid, [])),
            }
            for pid, info in self.policies.items()
        ]

    def priority_views(self) -> list[dict[str, Any]]:
        return [
            {
                "p": p,
                "why": digest.why(p),
                "anchor": self.policy_anchor[p.policy.id],
                "remediation": p.policy.remediation or {},
                "provider_steps": self.provider_steps(p),
                "references": [(r, safe_url(r)) for r in p.policy.references],
                "resources": [self.values.link(r) for r in (*p.failing, *p.errors)[:20]],
                "resources_rest": max(0, p.resource_count - 20),
                "print_resources": [
                    self.values.link(r) for r in (*p.failing, *p.errors)[:PRINT_SHOWN]
                ],
                "print_resources_rest": max(0, p.resource_count - PRINT_SHOWN),
                "controls": self.control_groups(p.controls),
            }
            for p in self.priorities
        ]

    def provider_steps(self, priority: digest.Priority) -> list[dict[str, Any]]:
        """The steps each provider of the policy's failing resources has of its own."""
        found = self.providers.specific_steps(
            priority.policy.remediation, (*priority.failing, *priority.errors)
        )
        return [{"steps": steps, "count": count} for steps, count in found]

    def fix_line(self, pid: str, resource_id: str) -> str:
        """A failing finding's one-line fix: the neutral summary, and its provider's own."""
        info = self.policies[pid]
        steps = remediation.for_provider(info.remediation, self.providers.of(resource_id))
        if steps is None or not steps.summary:
            return info.fix
        return f"{info.fix} On {steps.label}: {steps.summary}".strip()

    def finding_rows(self) -> list[dict[str, Any]]:
        rows = []
        for f in self.findings:
            controls = f["controls"]
            frameworks = sorted({c["framework"] for c in controls})
            rows.append(
                {
                    "f": f,
                    "resource": self.values.link(f["resource_id"], f["resource_name"]),
                    "policy_anchor": self.policy_anchor[f["policy_id"]],
                    "frameworks": "|" + "|".join(frameworks) + "|",
                    "status": "n/a" if f["status"] == "not_applicable" else f["status"],
                    "evidence": self.values.mapping(f["evidence"]) if f["evidence"] else None,
                    "fix": self.fix_line(f["policy_id"], f["resource_id"])
                    if f["status"] in digest.FAILING
                    else "",
                    "waiver": _waiver(f["waiver"]) if f.get("waiver") else None,
                }
            )
        return rows

    def severity_rows(self) -> list[dict[str, Any]]:
        by = self.doc["summary"]["by_severity"]
        rows = []
        for sev in digest.SEVERITIES:
            counts = by[sev]
            rows.append(
                {
                    "severity": sev,
                    "counts": counts,
                    "total": sum(counts.values()),
                    "segments": _segments(counts, digest.STATUSES),
                }
            )
        return rows

    def inventory(self) -> list[dict[str, Any]]:
        by_type: dict[str, list[Mapping[str, Any]]] = {}
        for r in self.doc["resources"]:
            by_type.setdefault(r["type"], []).append(r)
        incoming: dict[str, list[tuple[str, str]]] = {}
        outgoing: dict[str, list[tuple[str, str]]] = {}
        for r in self.doc["resources"]:
            for path, target in iter_refs(r["attributes"]):
                outgoing.setdefault(r["id"], []).append((path, target))
                incoming.setdefault(target, []).append((path, r["id"]))
        problems: dict[str, dict[str, int]] = {}
        for f in self.doc["findings"]:
            if f["status"] in digest.FAILING:
                problems.setdefault(f["resource_id"], {}).setdefault(f["policy_id"], 0)
                problems[f["resource_id"]][f["policy_id"]] += 1
        order = [t for t in TYPE_ORDER if t in by_type] + sorted(set(by_type) - set(TYPE_ORDER))
        groups: list[dict[str, Any]] = []
        for rtype in order:
            items: list[dict[str, Any]] = []
            for r in by_type[rtype]:
                rid = r["id"]
                items.append(
                    {
                        "r": r,
                        "anchor": self.anchors[rid],
                        "out": [(p, self.values.link(t)) for p, t in outgoing.get(rid, [])[:50]],
                        "in": [(p, self.values.link(s)) for p, s in incoming.get(rid, [])[:50]],
                        "problems": [
                            self.policy_link(pid) for pid in sorted(problems.get(rid, {}))
                        ],
                        "attributes": self.values.mapping(r["attributes"])
                        if r["attributes"]
                        else None,
                    }
                )
            groups.append(
                {
                    "type": rtype,
                    "title": TYPE_TITLES.get(rtype, rtype.replace("_", " ").capitalize()),
                    "anchor": f"t-{len(groups)}",
                    "items": items,
                }
            )
        return groups

    def sources(self) -> list[dict[str, Any]]:
        """Each source with what it could not read, the resources linked."""
        return [
            {
                "v": view,
                "gaps": [
                    {
                        "reason": gap.reason,
                        "what": _count_types(gap.resources),
                        "links": [self.values.link(r["id"]) for r in gap.resources[:FAILING_SHOWN]],
                        "rest": max(0, len(gap.resources) - FAILING_SHOWN),
                    }
                    for gap in view.gaps
                ],
            }
            for view in digest.source_views(self.doc)
        ]

    def context(self) -> dict[str, Any]:
        css, js = _asset("report.css"), _asset("report.js")
        findings = self.finding_rows()
        sources = self.sources()
        return {
            "doc": self.doc,
            "css": css,
            "js": js,
            "csp": content_security_policy(css, js),
            "maturity": self.maturity,
            "priorities": self.priority_views(),
            "top": TOP_FIXES,
            "scores": digest.framework_scores(self.doc),
            "rung_meaning": digest.RUNG_MEANING,
            "sources": sources,
            "partial_sources": [s["v"] for s in sources if s["v"].status == "partial"],
            "frameworks": self.frameworks(),
            "severity_rows": self.severity_rows(),
            "policy_rows": self.policy_rows(),
            "findings": findings,
            "failing_total": sum(1 for r in findings if r["f"]["status"] in digest.FAILING),
            "inventory": self.inventory(),
            "read_access": read_access_rows(self.doc, self.values),
            "failed_sources": digest.failing_sources(self.doc),
            "statuses": digest.STATUSES,
            "severities": digest.SEVERITIES,
            "control_statuses": digest.CONTROL_STATUSES,
            "policy_ids": list(self.policies),
            "framework_titles": self.framework_titles,
            "policy_anchor": self.policy_anchor,
            "link": self.values.link,
            "evidence": self.evidence,
        }


def _count_types(resources: Sequence[Mapping[str, Any]]) -> str:
    """`4 artefacts`, `1 principal and 2 storages`: what kinds of resources a gap touches."""
    counts: dict[str, int] = {}
    for r in resources:
        counts[r["type"]] = counts.get(r["type"], 0) + 1
    parts = [digest.plural(n, TYPE_NOUNS.get(t, t)) for t, n in counts.items()]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def render_html(document: Mapping[str, Any], evidence: Mapping[str, str] | None = None) -> str:
    template = _environment().get_template(TEMPLATE)
    return template.render(_View(document, evidence).context())


class HtmlWriter:
    format = "html"
    filename = "report.html"

    def __init__(self, evidence: Mapping[str, str] | None = None) -> None:
        # The evidence pack this report is rendered into (`scan --evidence-pack`): its digest
        # (of the evidence members, computed before any report: see scanner/evidence/manifest.py),
        # its signer and its file name. Not in results.json, which the pack itself holds.
        self.evidence = evidence

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        return {self.filename: render_html(document, self.evidence).encode("utf-8")}
