"""Markdown that hostile strings cannot break: table cells, code spans, a size budget.

Markdown summaries are pasted into pull-request comments and `$GITHUB_STEP_SUMMARY`, where a
registry tag such as `| x | <img src=//evil/p.png> ![](…) @team` could end a table cell,
inject HTML, load a tracking image or notify people. GitHub's renderer has no "literal text"
mode, so every string from a scanned system goes through `text` (backslash escapes, which
CommonMark defines for every ASCII punctuation character) or `code` (a code span, in which
nothing but the table's pipe is special). Written by hand: no maintained library escapes
GitHub-flavoured table cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Characters with inline meaning (emphasis, links, images, HTML, entities, code, tables,
# strikethrough, math). Block-level markers (#, -, +, 1.) cannot start a line inside a cell.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|!~&$])")
_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_MENTION = re.compile(r"@(?=\w)")
_TICKS = re.compile(r"`+")
ZWSP = "\u200b"


def _flat(value: object, limit: int) -> str:
    """One line: newlines, tabs and control characters become single spaces; clipped."""
    s = _BIDI.sub("", _SPACES.sub(" ", str(value))).strip()
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def text(value: object, limit: int = 300) -> str:
    """Inline text: shown as written, never interpreted as Markdown, HTML or a mention."""
    s = _SPECIAL.sub(r"\\\1", _flat(value, limit))
    # A backslash does not stop GitHub from turning @name into a notification; a zero-width
    # space after the @ does, and the text still reads the same.
    return _MENTION.sub("@" + ZWSP, s)


def code(value: object, limit: int = 200) -> str:
    """A code span: for ids and names, where exact characters matter more than prose."""
    s = _flat(value, limit)
    if not s:
        return "—"
    longest = max((len(m) for m in _TICKS.findall(s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    # In a table the pipe ends the cell even inside a code span; GFM lets `\|` stand for it.
    return f"{fence}{pad}{s.replace('|', chr(92) + '|')}{pad}{fence}"


def fence(code: str) -> str:
    """A fenced code block longer than any backtick run inside the code, so nothing in it can
    close the block early (remediation snippets, written by policy authors)."""
    longest = max((len(m) for m in _TICKS.findall(code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{code}\n{ticks}"


def table(header: Sequence[str], align: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """`align` per column: 'l' or 'r'. Cells must already be escaped."""
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |\n"


class Budget:
    """Text built up to a character cap (GitHub comments stop at 65,536 characters)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.size = 0

    def fits(self, text: str, reserve: int = 0) -> bool:
        return self.size + len(text) + reserve <= self.cap

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts)
