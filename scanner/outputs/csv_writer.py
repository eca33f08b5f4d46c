"""`findings.csv`: one row per finding, for spreadsheets and GRC tools.

Cells that a spreadsheet would read as a formula (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`) get a
leading apostrophe, the OWASP advice against CSV injection: a tag value from a scanned system
must not run anything in the auditor's Excel. The file is UTF-8 with a byte-order mark, which
Excel needs to read non-ASCII text correctly; rows end in CRLF (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from scanner.outputs import digest, remediation

COLUMNS = (
    "policy_id",
    "title",
    "severity",
    "maturity",
    "status",
    "resource_id",
    "resource_type",
    "resource_name",
    "message",
    "controls",
    "frameworks",
    "remediation",
    "waiver",
    "evidence",
    # Added after the columns above, so readers that count columns keep working.
    "provider",
    "remediation_steps",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 32_000  # Excel refuses cells over 32,767 characters


def cell(value: Any) -> str:
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    if text.startswith(FORMULA_START):
        text = "'" + text
    return text


def render_csv(document: Mapping[str, Any]) -> str:
    known = digest.policies(document)
    fixes = {pid: info.fix for pid, info in known.items()}
    providers = remediation.ProviderIndex(document)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in document["findings"]:
        controls = f["controls"]
        waiver = f.get("waiver")
        failing = f["status"] in digest.FAILING
        provider = providers.of(f["resource_id"])
        steps = remediation.text_for(known[f["policy_id"]].remediation, provider) if failing else ""
        writer.writerow(
            [
                cell(f["policy_id"]),
                cell(f["title"]),
                f["severity"],
                f["maturity"],
                f["status"],
                cell(f["resource_id"]),
                cell(f["resource_type"]),
                cell(f["resource_name"]),
                cell(f["message"]),
                cell("; ".join(digest.control_label(c) for c in controls)),
                cell("; ".join(sorted({c["framework"] for c in controls}))),
                cell(fixes.get(f["policy_id"], "")) if failing else "",
                cell(waiver) if waiver else "",
                cell(f["evidence"]) if f["evidence"] else "",
                provider or "",
                cell(steps) if steps else "",
            ]
        )
    return buffer.getvalue()


class CsvWriter:
    format = "csv"
    filename = "findings.csv"

    def render(self, document: Mapping[str, Any]) -> dict[str, bytes]:
        return {self.filename: render_csv(document).encode("utf-8-sig")}
