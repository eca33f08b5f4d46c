"""Terminal rendering of results, safe against hostile strings from scanned systems.

A registry tag may hold ANSI escape sequences or rich markup; printed raw it could rewrite
the user's terminal or forge a line of output. `safe` neutralises control characters, and
everything is printed with markup disabled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TextIO

from scanner.redact import redact_text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_CELL = 160


def safe(text: Any, limit: int | None = None) -> str:
    """Control characters (incl. bidi overrides) shown as escapes; optionally clipped."""
    s = redact_text(str(text))
    s = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)
    s = s.replace("\n", "\\n")
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


STATUS_ORDER = ("fail", "error", "waived", "pass", "not_applicable")
CONTROL_ORDER = ("met", "partial", "not_met", "error", "manual", "not_applicable")
# The built-in mapping that shows the maturity ladder as a framework (mappings/maturity.yaml):
# its rungs' statuses are what the `maturity:` line says in words, so the summary prints that
# line once rather than a second `maturity:` line of control counts.
LADDER_MAPPING = "maturity"


def maturity_line(maturity: Mapping[str, Any]) -> str:
    """Where the estate stands and what stands in the way of the next rung."""
    level, nxt = maturity["level"], maturity["next"]
    if not nxt:
        return f"maturity: {level} (the top rung)"
    rung = next(r for r in maturity["rungs"] if r["name"] == nxt)
    if rung["total"] == 0:
        return f"maturity: {level} (no loaded policy checks the {nxt} rung)"
    blocking = rung["blocking"]
    policies = sorted({b["policy_id"] for b in blocking})
    named = ", ".join(policies[:5]) + (
        f" and {len(policies) - 5} more" if len(policies) > 5 else ""
    )
    return f"maturity: {level}; {len(blocking)} finding(s) block {nxt}: {named}"


def print_scan_summary(document: Mapping[str, Any], stream: TextIO, max_rows: int = 25) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(
        file=stream, highlight=False, soft_wrap=False, width=None if stream.isatty() else 140
    )
    findings = [f for f in document["findings"] if f["status"] in ("fail", "error")]
    sev_rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    findings.sort(
        key=lambda f: (sev_rank[f["severity"]], f["status"], f["policy_id"], f["resource_id"])
    )
    if findings:
        table = Table(title="Failing findings", title_justify="left", show_lines=False)
        for col in ("severity", "status", "policy", "resource", "message"):
            table.add_column(col, overflow="fold")
        for f in findings[:max_rows]:
            table.add_row(
                Text(f["severity"]),
                Text(f["status"]),
                Text(f["policy_id"]),
                Text(safe(f["resource_name"] or f["resource_id"], 60)),
                Text(safe(f["message"], MAX_CELL)),
            )
        console.print(table)
        if len(findings) > max_rows:
            console.print(Text(f"… and {len(findings) - max_rows} more in results.json"))
    counts = document["summary"]["by_status"]
    parts = [f"{counts[s]} {s}" for s in STATUS_ORDER if counts.get(s)]
    total = document["summary"]["total"]
    noun = "finding" if total == 1 else "findings"
    console.print(Text(f"{total} {noun}: " + (", ".join(parts) or "none")))
    for source in document["scan"]["sources"]:
        if source["status"] != "ok":
            console.print(Text(f"source {safe(source['name'])}: {safe(source['error'])}"))
    for fw in document["frameworks"]:
        if fw["id"] == LADDER_MAPPING:
            continue
        counts = fw["summary"]
        shown = [f"{counts[k]} {k.replace('_', ' ')}" for k in CONTROL_ORDER if counts.get(k)]
        console.print(Text(f"{fw['id']}: {', '.join(shown) or 'no controls'}"))
    line = maturity_line(document["maturity"])
    if any(s["status"] != "ok" for s in document["scan"]["sources"]):
        line += " — incomplete: a source failed, so the level may be overstated"
    console.print(Text(line))
    gate = document["gate"]
    verdict = "passed" if gate["passed"] else f"failed (exit {gate['exit_code']})"
    console.print(Text(f"gate ({gate_settings_line(gate)}): {verdict}"))
    for reason in gate["reasons"]:
        console.print(Text(f"  - {safe(reason, 400)}"))
    for note in gate.get("notes", []):
        console.print(Text(f"  note: {safe(note, 400)}"))


def gate_settings_line(gate: Mapping[str, Any]) -> str:
    """The gate's settings in flag words: what a reader needs to reproduce the verdict."""
    parts = [f"fail-on {gate['fail_on']}"]
    for key in ("hard_fail_on", "soft_fail_on"):
        if gate.get(key):
            parts.append(f"{key.replace('_', '-')} {','.join(gate[key])}")
    if gate.get("soft_fail"):
        parts.append("soft-fail")
    return "; ".join(safe(p, 200) for p in parts)
