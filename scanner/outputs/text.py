"""Hostile strings made safe for files other tools parse (XML, SARIF), and clipped.

Resource names, tag values and messages come from scanned systems. XML 1.0 cannot carry most
C0 control characters or U+FFFE/U+FFFF at all, not even as character references, and a lone
surrogate (which `json.loads` accepts from `\\ud800`) cannot be encoded as UTF-8: either
breaks the consumer, or our own encoder, so such characters are shown as escapes instead.
"""

from __future__ import annotations

import re

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, limit: int | None = None) -> str:
    """`text` as a string every XML 1.0 / UTF-8 consumer accepts, clipped to `limit` chars."""
    s = _NOT_XML_CHAR.sub(_escape, str(text))
    if limit is not None and len(s) > limit:
        marker = f"… (+{len(s) - limit} characters)"
        s = s[: max(0, limit - len(marker))] + marker
    return s
