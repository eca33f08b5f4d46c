"""`report.md`: the scan in a pull-request comment or `$GITHUB_STEP_SUMMARY`.

Verdict, maturity, one line per framework, what to fix first, and the failing findings — as
many as fit under GitHub's comment limit, then how many more there are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.outputs import digest, remediation
from scanner.outputs import markdown as md

MAX_CHARS = 60_000  # GitHub comments take 65,536; leave room for a bot's own header
MAX_FINDINGS = 100
MAX_PRIORITIES = 10
MAX_FRAMEWORKS = 40
MAX_REASONS = 5


def _header(document: Mapping[str, Any]) -> str:
    gate = document["gate"]
    by_status = document["summary"]["by_status"]
    view = digest.maturity_view(document)
    verdict = "passed" if gate["passed"] else f"failed (exit {gate['exit_code']})"
    lines = [
        f"## modelward: gate {verdict}, maturity {view.level}",
        "",
        f"- **Maturity:** {md.text(view.sentence)}."
        + (
            f" ({md.text(view.level.capitalize())}: {md.text(view.meaning)}.)"
            if view.meaning
            else ""
        ),
        f"- **Gate:** {verdict}, failing on {gate['fail_on']} and above.",
    ]
    for reason in gate["reasons"][:MAX_REASONS]:
        lines.append(f"  - {md.text(reason)}")
    if len(gate["reasons"]) > MAX_REASONS:
        lines.append(f"  - … and {len(gate['reasons']) - MAX_REASONS} more")
    counts = " · ".join(
        f"{by_status[s]} {'n/a' if s == 'not_applicable' else s}" for s in digest.STATUSES
    )
    lines.append(f"- **Findings:** {document['summary']['total']} ({counts})")
    views = digest.source_views(document)
    failed = [v for v in views if v.status == "failed"]
    partial = [v for v in views if v.status == "partial"]
    full = len(views) - len(failed) - len(partial)
    line = f"- **Sources:** {full} of {len(views)} complete"
    if failed:
        named = ", ".join(md.code(v.name, 80) for v in failed[:5])
        line += f"; incomplete, so the level may be overstated: {named}"
        if len(failed) > 5:
            line += f" and {len(failed) - 5} more"
    lines.append(line)
    for v in partial[:5]:
        denied = f"; denied {', '.join(md.code(d, 60) for d in v.denied)}" if v.denied else ""
        lines.append(
            f"  - gaps in {md.code(v.name, 80)}: {v.unread} of {v.resource_count} "
            f"resources with values it could not determine{denied}"
        )
    return "\n".join(lines) + "\n"


def _frameworks(document: Mapping[str, Any]) -> str:
    frameworks = document["frameworks"]
    if not frameworks:
        return ""
    rows = []
    for fw in frameworks[:MAX_FRAMEWORKS]:
        counts = fw["summary"]
        rows.append(
            [f"{md.text(fw['title'] or fw['id'], 80)} ({md.code(fw['id'], 60)})"]
            + [str(counts[s]) for s in digest.CONTROL_STATUSES]
        )
    out = "\n### Frameworks\n\n" + md.table(
        ["Framework", *(digest.CONTROL_LABELS[s] for s in digest.CONTROL_STATUSES)],
        ["l"] + ["r"] * len(digest.CONTROL_STATUSES),
        rows,
    )
    if len(frameworks) > MAX_FRAMEWORKS:
        out += f"\n… and {len(frameworks) - MAX_FRAMEWORKS} more frameworks.\n"
    return out


def _priorities(priorities: list[digest.Priority]) -> str:
    if not priorities:
        return ""
    rows = [
        [
            str(p.rank),
            md.code(p.policy.id, 60),
            md.text(p.policy.title, 120),
            md.text(digest.why(p), 200),
            md.text(p.policy.fix or "—", 200),
        ]
        for p in priorities[:MAX_PRIORITIES]
    ]
    out = "\n### Fix first\n\n" + md.table(
        ["#", "Policy", "Title", "Why", "How to fix"], ["r", "l", "l", "l", "l"], rows
    )
    if len(priorities) > MAX_PRIORITIES:
        out += f"\n… and {len(priorities) - MAX_PRIORITIES} more failing policies.\n"
    return out


def _provider_steps(document: Mapping[str, Any], priorities: list[digest.Priority]) -> str:
    """For the policies in "Fix first": the steps each provider of their failing resources has
    of its own (the neutral summary is in the table above), folded so the comment stays short."""
    index = remediation.ProviderIndex(document)
    blocks = []
    for p in priorities[:MAX_PRIORITIES]:
        for steps, count in index.specific_steps(p.policy.remediation, (*p.failing, *p.errors)):
            head = (
                f"{md.text(p.policy.id, 60)} on {md.text(steps.label, 40)} "
                f"({count} resource{'s' if count != 1 else ''})"
            )
            body = [md.text(steps.summary, 1000)] if steps.summary else []
            body += [f"{label}:\n\n{md.fence(code)}" for label, code in steps.blocks()]
            blocks.append(
                f"<details><summary>{head}</summary>\n\n" + "\n\n".join(body) + "\n\n</details>\n"
            )
    if not blocks:
        return ""
    return "\n### How to fix, by provider\n\n" + "\n".join(blocks)


def _footer(document: Mapping[str, Any]) -> str:
    scan = document["scan"]
    when = scan.get("as_of", scan["finished_at"])
    pack = scan["policy_pack"]
    return (
        f"\n<sub>modelward {md.text(document['tool']['version'], 40)} · scan "
        f"{md.code(scan['id'], 60)} · evaluated as of {md.text(when, 40)} · policy pack "
        f"{pack['count']} policies, sha256 {md.code(pack['sha256'][:12])}</sub>\n"
    )


def render_markdown(
    document: Mapping[str, Any], max_chars: int = MAX_CHARS, max_findings: int = MAX_FINDINGS
) -> str:
    priorities = digest.priorities(document)
    ranks = {p.policy.id: p.rank for p in priorities}
    failing = [
        f
        for f in digest.ordered_findings(document["findings"], ranks)
        if f["status"] in digest.FAILING
    ]
    footer = _footer(document)
    out = md.Budget(max_chars)
    for part in (
        _header(document),
        _frameworks(document),
        _priorities(priorities),
        _provider_steps(document, priorities),
    ):
        if out.fits(part, reserve=len(footer) + 200):
            out.add(part)
    if failing:
        head = "\n### Failing findings\n\n" + md.table(
            ["Severity", "Status", "Policy", "Resource", "Message"], "lllll", []
        )
        more = "\n… and {n} more failing findings (all of them are in results.json).\n"
        reserve = len(footer) + len(more) + 20
        shown = 0
        if out.fits(head, reserve):
            out.add(head)
            for f in failing[:max_findings]:
                line = md.row(
                    [
                        f["severity"],
                        f["status"],
                        md.code(f["policy_id"], 60),
                        md.code(f["resource_name"] or f["resource_id"], 120),
                        md.text(f["message"], 300),
                    ]
                )
                if not out.fits(line, reserve):
                    break
                out.add(line)
                shown += 1
        if shown < len(failing):
            out.add(more.format(n=len(failing) - shown))
    out.add(footer)
    return out.text()


class MarkdownWriter:
    format = "md"
    filename = "report.md"

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        return {self.filename: render_markdown(document).encode("utf-8")}
