"""A diff document (scanner/diff.py) as terminal text or Markdown.

Text on a terminal is a set of rich tables; piped, it is plain lines that grep and CI logs
keep whole. Every string from a scanned system goes through `terminal.safe` (text) or the
Markdown escapes, as in the other outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from scanner.outputs import markdown as md
from scanner.outputs.digest import CONTROL_LABELS
from scanner.terminal import safe

TITLES = {
    "new": "New failing findings",
    "fixed": "Fixed",
    "gone": "Gone: the resource (or the policy) is no longer there",
    "unchanged": "Still failing",
    "changed": "Other status changes",
}
MAX_MD_ROWS = 100
MAX_MD_CHARS = 60_000


def _status(value: str | None) -> str:
    if value is None:
        return "absent"
    return "n/a" if value == "not_applicable" else value


def _control(value: str | None) -> str:
    return "absent" if value is None else CONTROL_LABELS[value]


def headline(doc: Mapping[str, Any]) -> list[str]:
    s = doc["summary"]
    m = doc["maturity"]
    moved = "unchanged" if m["change"] == "same" else m["change"]
    lines = [
        f"maturity: {m['old']} → {m['new']} ({moved})",
        f"findings: {s['new']} new, {s['fixed']} fixed, {s['gone']} gone, "
        f"{s['unchanged']} still failing, "
        f"{s['changed']} other status change{'s' if s['changed'] != 1 else ''}",
    ]
    if doc["policy_pack_changed"]:
        lines.append("policy pack changed: some verdicts may differ because the policies did")
    return lines


def _sides(doc: Mapping[str, Any]) -> str:
    a, b = doc["old"], doc["new"]
    return f"{safe(a['file'])} ({a['finished_at']}) → {safe(b['file'])} ({b['finished_at']})"


def render_text(doc: Mapping[str, Any], stream: TextIO) -> None:
    if stream.isatty():
        _rich(doc, stream)
        return
    out = [_sides(doc), *headline(doc)]
    for category in ("new", "fixed", "gone", "changed"):
        items = doc["findings"][category]
        if not items:
            continue
        out.append(f"{TITLES[category]} ({len(items)}):")
        for e in items:
            out.append(
                f"  {e['severity']:<8} {_status(e['old_status'])} → {_status(e['new_status'])}"
                f"  {safe(e['policy_id'], 60)}  {safe(e['resource_name'] or e['resource_id'], 80)}"
                f"  {safe(e['message'], 200)}"
            )
    for fw in doc["frameworks"]:
        out.append(f"framework {safe(fw['id'], 80)}: {fw['change']}")
        for c in fw["controls"]:
            out.append(
                f"  {safe(c['id'], 60)}  {_control(c['old_status'])} → "
                f"{_control(c['new_status'])}  {safe(c['title'], 120)}"
            )
    stream.write("\n".join(out) + "\n")


def _rich(doc: Mapping[str, Any], stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=stream, highlight=False)
    console.print(Text(_sides(doc)))
    for line in headline(doc):
        console.print(Text(line))
    for category in ("new", "fixed", "gone", "changed"):
        items = doc["findings"][category]
        if not items:
            continue
        table = Table(title=f"{TITLES[category]} ({len(items)})", title_justify="left")
        for col in ("severity", "status", "policy", "resource", "message"):
            table.add_column(col, overflow="fold")
        for e in items:
            table.add_row(
                Text(e["severity"]),
                Text(f"{_status(e['old_status'])} → {_status(e['new_status'])}"),
                Text(safe(e["policy_id"], 60)),
                Text(safe(e["resource_name"] or e["resource_id"], 80)),
                Text(safe(e["message"], 200)),
            )
        console.print(table)
    if doc["frameworks"]:
        table = Table(title="Control status changes", title_justify="left")
        for col in ("framework", "control", "status", "title"):
            table.add_column(col, overflow="fold")
        for fw in doc["frameworks"]:
            if not fw["controls"]:
                table.add_row(Text(safe(fw["id"], 80)), Text(""), Text(fw["change"]), Text(""))
            for c in fw["controls"]:
                table.add_row(
                    Text(safe(fw["id"], 80)),
                    Text(safe(c["id"], 60)),
                    Text(f"{_control(c['old_status'])} → {_control(c['new_status'])}"),
                    Text(safe(c["title"], 120)),
                )
        console.print(table)


def render_markdown(doc: Mapping[str, Any], max_chars: int = MAX_MD_CHARS) -> str:
    a, b = doc["old"], doc["new"]
    out = md.Budget(max_chars)
    s = doc["summary"]
    title = "no new failing findings" if not s["new"] else f"{s['new']} new failing finding(s)"
    out.add(f"## modelward diff: {title}\n\n")
    out.add(f"Comparing {md.code(a['file'], 120)} → {md.code(b['file'], 120)}.\n\n")
    out.add("".join(f"- {md.text(line)}\n" for line in headline(doc)))
    footer = "\n<sub>Findings are matched by policy id and resource id.</sub>\n"
    reserve = len(footer) + 200
    for category in ("new", "fixed", "gone", "changed"):
        items = doc["findings"][category]
        if not items:
            continue
        head = f"\n### {TITLES[category]} ({len(items)})\n\n" + md.table(
            ["Severity", "Status", "Policy", "Resource", "Message"], "lllll", []
        )
        if not out.fits(head, reserve):
            break
        out.add(head)
        shown = 0
        for e in items[:MAX_MD_ROWS]:
            line = md.row(
                [
                    e["severity"],
                    f"{_status(e['old_status'])} → {_status(e['new_status'])}",
                    md.code(e["policy_id"], 60),
                    md.code(e["resource_name"] or e["resource_id"], 120),
                    md.text(e["message"], 300),
                ]
            )
            if not out.fits(line, reserve):
                break
            out.add(line)
            shown += 1
        if shown < len(items):
            out.add(f"\n… and {len(items) - shown} more.\n")
    if doc["frameworks"]:
        head = "\n### Control status changes\n\n" + md.table(
            ["Framework", "Control", "Status", "Title"], "llll", []
        )
        if out.fits(head, reserve):
            out.add(head)
            rows = [(fw, c) for fw in doc["frameworks"] for c in fw["controls"] or [None]]
            for shown, (fw, c) in enumerate(rows):
                if c is None:
                    cells = [md.code(fw["id"], 80), "—", fw["change"], md.text(fw["title"], 120)]
                else:
                    cells = [
                        md.code(fw["id"], 80),
                        md.code(c["id"], 60),
                        f"{_control(c['old_status'])} → {_control(c['new_status'])}",
                        md.text(c["title"], 120),
                    ]
                line = md.row(cells)
                if not out.fits(line, reserve):
                    out.add(f"\n… and {len(rows) - shown} more.\n")
                    break
                out.add(line)
    out.add(footer)
    return out.text()
