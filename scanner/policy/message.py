"""Message templates: a policy says, in words, what its failure means for one resource.

A template is text with `{field.path}` placeholders (`{{` and `}}` are literal braces), each
optionally with the words to say when nobody recorded a value (`{owner|no owner recorded}`):

    message: "{name} can be read from outside its network: {network_restricted_reasons}"

A value that was not recorded and one that could not be read are different facts: the first
reads as the placeholder's fallback (or "not recorded"), the second as "unknown (<why>)".

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

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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
# The list items that decided the failure, by name: an `every_item` check's failing items, a
# `no_item` check's matches ("standing human readers: alice; bob", not every reader).
ITEMS_PLACEHOLDER = "$items"
REASONS_SUFFIX = "_reasons"
MAX_VALUE_CHARS = 300
MAX_REASON_CHARS = 150
# A message names a few items of a list and counts the rest: a finding that lists twelve
# principals is read as "a list", not as twelve facts. The evidence keeps them all.
MAX_LIST_ITEMS = 5
MAX_LIST_CHARS = 700
MAX_DEPTH = 3
MAX_FALLBACK_CHARS = 200
MAX_TEMPLATE_CHARS = 2000
NOT_RECORDED = "not recorded"
# Keys by which a record (a dataset, a grant) is named in words, first found wins.
NAME_KEYS = ("name", "id")

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
    fallbacks: list[str | None] = []
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
            inside = text[i + 1 : end]
            path, bar, words = inside.partition("|")
            path = path.strip()
            if not _PATH_RE.match(path):
                raise TemplateError(
                    f"placeholder {{{inside}}} must be a field path like "
                    f"'network_restricted_reasons', optionally with words for a value nobody "
                    f"recorded: {{owner|no owner recorded}} (write {{{{ and }}}} for literal "
                    f"braces)",
                    i,
                )
            fallback = words.strip() if bar else None
            if fallback is not None and "{" in fallback:
                raise TemplateError(
                    f"placeholder {{{inside}}}: the words after '|' are plain text "
                    f"(no placeholder inside a placeholder)",
                    i,
                )
            if fallback is not None and not fallback:
                raise TemplateError(
                    f"placeholder {{{inside}}}: after '|' come the words for a value nobody "
                    f"recorded, and there are none",
                    i,
                )
            if fallback is not None and len(fallback) > MAX_FALLBACK_CHARS:
                raise TemplateError(
                    f"placeholder {{{path}|…}}: the words for a missing value are at most "
                    f"{MAX_FALLBACK_CHARS} characters",
                    i,
                )
            parts.extend(("".join(literal), path))
            offsets.append(i)
            fallbacks.append(fallback)
            literal = []
            i = end + 1
        elif char == "}":
            raise TemplateError("'}' without a '{' (write }} for a literal brace)", i)
        else:
            literal.append(char)
            i += 1
    parts.append("".join(literal))
    return MessageTemplate(text, tuple(parts), tuple(offsets), tuple(fallbacks))


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
    allowed = {*OWN_FIELDS, CHECK_PLACEHOLDER, ITEMS_PLACEHOLDER}
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
    check: Sequence[str] = (),
    items: Sequence[str] = (),
) -> str:
    """The template with every placeholder replaced by the resource's value, as plain text;
    `{$check}` by `check`, the evaluator's sentences about the failure (one per deciding
    item, capped like any list); `{$items}` by `items`, the deciding list items by name.

    `record` receives each value read, so that the evidence shows what the message says.
    """
    out: list[str] = []
    fallbacks = template.fallbacks or (None,) * len(template.fields)
    for index, part in enumerate(template.parts):
        if index % 2 == 0:
            out.append(part)
            continue
        fallback = fallbacks[index // 2]
        if part == CHECK_PLACEHOLDER:
            out.append(listed(check, fallback))
            continue
        if part == ITEMS_PLACEHOLDER:
            out.append(listed(items, fallback))
            continue
        value = inventory.resolve(resource, part)
        if record is not None:
            record(part, value)
        out.append(_text(value, inventory, fallback))
    return "".join(out)


def _absent(value: Any) -> bool:
    """Nothing recorded: not set, null, blank text, an empty list, or a list of those (a name
    mapped over a list whose items all lack it)."""
    if value is MISSING or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(_absent(v) for v in value)
    return False


def _text(value: Any, inventory: Inventory, fallback: str | None = None) -> str:
    """A value in words. A value nobody recorded reads as the placeholder's fallback (or "not
    recorded", "none" for an empty list); an Unknown says it could not be read and why; a
    list is its distinct items, at most MAX_LIST_ITEMS of them; a reference, or a record with
    a name or id, is that name."""
    if _absent(value):
        if fallback is not None:
            return fallback
        return "none" if isinstance(value, list | tuple) else NOT_RECORDED
    if isinstance(value, list | tuple):
        # Mapping over a list repeats values (six grants from one policy): each is said once.
        return listed([_words(v, inventory, 1) for v in value if not _absent(v)], fallback)
    return _words(value, inventory, 0)


def listed(items: Sequence[str], fallback: str | None) -> str:
    """Distinct items joined by "; ": the first MAX_LIST_ITEMS, fewer if they would run past
    MAX_LIST_CHARS, then "and N more". The one place a message's list is capped (templates and
    the message of a policy without one); the whole list stays in the finding's evidence.
    Items are cleaned here too: sentences the evaluator or a source wrote quote the estate."""
    distinct = list(dict.fromkeys(_clean(item) for item in items))
    if not distinct:
        return fallback if fallback is not None else "none"
    shown: list[str] = []
    length = 0
    for item in distinct[:MAX_LIST_ITEMS]:
        if shown and length + len(item) > MAX_LIST_CHARS:
            break
        shown.append(item)
        length += len(item) + 2
    more = len(distinct) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _words(value: Any, inventory: Inventory, depth: int) -> str:
    """One value in words; `depth` bounds how far nested records and lists are followed."""
    if isinstance(value, Unknown):
        return f"unknown ({_clean(value.reason, MAX_REASON_CHARS)})"
    if value is MISSING or value is None:
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Ref):
        target = inventory.get(value.id)
        return _clean(target.name if target is not None and target.name else value.id)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, int):
        return _clean(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return str(int(value))
        plain = f"{value:.3f}".rstrip("0").rstrip(".")
        return plain if plain not in ("0", "-0") else f"{value:.3g}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        return _clean(_record(value, inventory, depth))
    if isinstance(value, list | tuple):
        inner = [_words(v, inventory, depth + 1) for v in value if not _absent(v)]
        return _clean(", ".join(dict.fromkeys(inner)) or "none")
    return _clean(str(to_jsonable(value)))


def _record(value: Mapping[Any, Any], inventory: Inventory, depth: int) -> str:
    """A record reads as what it names: "4001 (training)" for a dataset, never its JSON. One
    without a name or id lists its recorded fields as "key value" pairs."""
    name = next(
        (value[k] for k in NAME_KEYS if isinstance(value.get(k), str) and value[k].strip()), None
    )
    if name is not None:
        context = value.get("context")
        if isinstance(context, str) and context.strip():
            return f"{name} ({context})"
        return str(name)
    present = [(k, v) for k, v in value.items() if not _absent(v)]
    pairs = [f"{k} {_words(v, inventory, depth + 1)}" for k, v in present[:MAX_LIST_ITEMS]]
    more = len(present) - len(pairs)
    return ", ".join(pairs) + (f" and {more} more" if more > 0 else "") if pairs else "none"


def _clean(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    text = _CONTROL_RE.sub(lambda m: json.dumps(m.group())[1:-1], text)
    if len(text) > limit:
        text = f"{text[:limit]}…"
    return text
