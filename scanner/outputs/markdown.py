"""Markdown that hostile strings cannot break: table cells, code spans, a size budget.

Markdown summaries are pasted into pull-request comments and `$GITHUB_STEP_SUMMARY`, where a
registry tag such as `| x | <img src=//evil/p.png> ![](…) @team` could end a table cell,
inject HTML, load a tracking image or notify people. GitHub's renderer has no "literal text"
mode, so every string from a scanned system goes through `text` (backslash escapes, which
CommonMark defines for every ASCII punctuation character) or `code` (a code span, in which
nothing but the table's pipe is special). Written by hand: no maintained library escapes
GitHub-flavoured table cells.

`text` escapes only what GitHub-flavoured Markdown would read as markup, so that a regex in a
message (`^[0-9a-f]{7,64}$`, `\\S`) reads in the raw file almost as it does rendered: a
backslash only before punctuation (elsewhere CommonMark keeps it as it is), an underscore only
where it could open or close emphasis (never inside a word such as `pickle_based`), `&` only
where it would start an entity. Text between backticks is shown as code, as its author meant.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

# Always escaped: emphasis, links and images, HTML, tables, strikethrough, GitHub's math.
_ALWAYS = frozenset("*[<|~$`")
_PUNCTUATION = frozenset(string.punctuation)  # what a backslash escapes (CommonMark 2.4)
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# At the start of a list item or paragraph these open a block: heading, quote, list, rule.
_BLOCK_START = re.compile(r"^(?:[#>+=*-]|\d{1,9}[.)])")
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
    """Inline text: shown as written, never interpreted as Markdown, HTML or a mention; spans
    between matching backticks are shown as code."""
    parts = []
    for is_code, piece in code_spans(_flat(value, limit)):
        parts.append(code(piece) if is_code else _escape(piece))
    s = "".join(parts)
    start = _BLOCK_START.match(s)
    if start:  # escape the marker's punctuation: `\#`, `1\.`
        marker = start.group()
        s = marker[:-1] + "\\" + marker[-1] + s[len(marker) :]
    # A backslash does not stop GitHub from turning @name into a notification; a zero-width
    # space after the @ does, and the text still reads the same.
    return _MENTION.sub("@" + ZWSP, s)


def code_spans(s: str) -> list[tuple[bool, str]]:
    """(is code, text) pieces: a run of backticks up to the next run of the same length is a
    code span, as CommonMark pairs them; an unmatched run is text (and escaped as such)."""
    pieces: list[tuple[bool, str]] = []
    runs = list(_TICKS.finditer(s))
    plain_from = 0
    i = 0
    while i < len(runs):
        opening = runs[i]
        closing = next(
            (k for k in range(i + 1, len(runs)) if len(runs[k].group()) == len(opening.group())),
            None,
        )
        inner = s[opening.end() : runs[closing].start()] if closing is not None else ""
        if closing is None or not inner.strip():
            i += 1
            continue
        pieces.append((False, s[plain_from : opening.start()]))
        pieces.append((True, inner.strip()))
        plain_from = runs[closing].end()
        i = closing + 1
    pieces.append((False, s[plain_from:]))
    return [(is_code, piece) for is_code, piece in pieces if piece]


def _escape(s: str) -> str:
    out = []
    for i, c in enumerate(s):
        before = s[i - 1] if i else ""
        after = s[i + 1] if i + 1 < len(s) else ""
        if c in _ALWAYS:
            escape = True
        elif c == "\\":  # literal unless it would escape what follows (or what we append)
            escape = not after or after in _PUNCTUATION
        elif c == "_":  # inside a word it can neither open nor close emphasis
            escape = not (before.isalnum() and after.isalnum())
        elif c == "&":
            escape = _ENTITY.match(s, i) is not None
        else:
            escape = False
        out.append("\\" + c if escape else c)
    return "".join(out)


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
