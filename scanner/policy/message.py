"""Message templates: a policy says, in words, what its failure means for one resource.

A template is text with `{field.path}` placeholders (`{{` and `}}` are literal braces):

    message: "{name} can be read from outside its network: {network_restricted_reasons}"

Why a hand-written renderer rather than `str.format` or Jinja: the values come from the estate
(tag values, bucket policies, file names in a pickle) and must stay data. `str.format` follows
`{0.__class__}` attribute chains and format specs; Jinja is a language. Here a placeholder is
only a field path, resolved like a condition's `field`, and the substituted text is never
scanned again, so a tag holding `{id}` or `{{7*7}}` prints as itself.

Which placeholders a template may use is checked when the policy is loaded (a typo is a load
error naming the file and position, never a crash or an empty hole in a report): the
resource's own fields, the attributes the policy's `scope` and `check` read, and their
`<name>_reasons` companions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from scanner.inventory import MISSING, Inventory, Ref, Unknown, to_jsonable
from scanner.policy.model import (
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    MessageTemplate,
    Not,
    Quantified,
)

OWN_FIELDS = ("id", "type", "name", "source")
# The evaluator's own sentence about the failure: for checks over lists, where only the
# evaluation knows which items decided ("`unused_readers[role/x].standing` is true …").
CHECK_PLACEHOLDER = "$check"
REASONS_SUFFIX = "_reasons"
MAX_VALUE_CHARS = 300
MAX_LIST_ITEMS = 10
MAX_TEMPLATE_CHARS = 2000

_PATH_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z0-9_$-]+)*$")
# Control characters (newlines, escape sequences) from the estate must not forge lines in a
# terminal or a log: they are shown escaped.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class TemplateError(ValueError):
    """A template that cannot be used; `offset` is the character where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def parse_template(text: str) -> MessageTemplate:
    """Split a template into text and placeholders, or raise TemplateError with the offset."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"a message template is at most {MAX_TEMPLATE_CHARS} characters", 0)
    parts: list[str] = []
    offsets: list[int] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise TemplateError("'{' opens a placeholder that is never closed", i)
            path = text[i + 1 : end].strip()
            if not _PATH_RE.match(path):
                raise TemplateError(
                    f"placeholder {{{text[i + 1 : end]}}} must be a field path like "
                    f"'network_restricted_reasons' (write {{{{ and }}}} for literal braces)",
                    i,
                )
            parts.extend(("".join(literal), path))
            offsets.append(i)
            literal = []
            i = end + 1
        elif char == "}":
            raise TemplateError("'}' without a '{' (write }} for a literal brace)", i)
        else:
            literal.append(char)
            i += 1
    parts.append("".join(literal))
    return MessageTemplate(text, tuple(parts), tuple(offsets))


def fields_read(conditions: Iterable[Condition | None]) -> set[str]:
    """The resource-level field paths the conditions read (item fields inside quantifiers are
    relative to the item, so only the quantified list itself counts)."""
    out: set[str] = set()

    def walk(cond: Condition | None) -> None:
        if isinstance(cond, AllOf | AnyOf):
            for item in cond.items:
                walk(item)
        elif isinstance(cond, Not):
            walk(cond.item)
        elif isinstance(cond, Quantified) or (isinstance(cond, FieldTest) and cond.field):
            out.add(cond.field)

    for cond in conditions:
        walk(cond)
    return out


def unknown_placeholders(template: MessageTemplate, read: Iterable[str]) -> list[tuple[str, int]]:
    """Placeholders naming something the policy does not read, with their offsets.

    A template may name the resource's own fields, any path under an attribute the policy
    reads (`grants.action` when the check reads `grants`), and that attribute's reasons
    (`network_restricted_reasons`, `serialization.unsafe_reasons`).
    """
    allowed = {*OWN_FIELDS, CHECK_PLACEHOLDER}
    for path in read:
        root = path.split(".")[0]
        allowed.update((root, root + REASONS_SUFFIX, path + REASONS_SUFFIX))
    return [
        (path, offset)
        for path, offset in zip(template.fields, template.offsets, strict=True)
        if path not in allowed and path.split(".")[0] not in allowed
    ]


def render(
    template: MessageTemplate,
    resource: Any,
    inventory: Inventory,
    record: Callable[[str, Any], None] | None = None,
    check: str = "",
) -> str:
    """The template with every placeholder replaced by the resource's value, as plain text;
    `{$check}` by `check`, the evaluator's account of the failure.

    `record` receives each value read, so that the evidence shows what the message says.
    """
    out: list[str] = []
    for index, part in enumerate(template.parts):
        if index % 2 == 0:
            out.append(part)
            continue
        if part == CHECK_PLACEHOLDER:
            out.append(check)
            continue
        value = inventory.resolve(resource, part)
        if record is not None:
            record(part, value)
        out.append(_text(value, inventory))
    return "".join(out)


def _text(value: Any, inventory: Inventory, depth: int = 0) -> str:
    """A value in words: Unknown is "unknown", a list is its items joined, a reference is the
    name of the resource it points to."""
    if isinstance(value, Unknown):
        return "unknown"
    if value is MISSING or value is None:
        return "not reported"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Ref):
        target = inventory.get(value.id)
        return _clean(target.name if target is not None and target.name else value.id)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, list | tuple) and depth == 0:
        if not value:
            return "none"
        # Mapping over a list repeats values (six grants from one policy): each is said once.
        distinct = list(dict.fromkeys(_text(v, inventory, depth + 1) for v in value))
        shown = distinct[:MAX_LIST_ITEMS]
        more = len(distinct) - MAX_LIST_ITEMS
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    try:
        text = json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return _clean(text)


def _clean(text: str) -> str:
    text = _CONTROL_RE.sub(lambda m: json.dumps(m.group())[1:-1], text)
    if len(text) > MAX_VALUE_CHARS:
        text = f"{text[:MAX_VALUE_CHARS]}…"
    return text
