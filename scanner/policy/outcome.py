"""What evaluating a condition yields, and how values appear in messages and evidence."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Inventory, Ref, to_jsonable

MAX_SHOWN = 120
MAX_EVIDENCE_CHARS = 2048
MAX_EVIDENCE_ITEMS = 100
FUTURE_SKEW = dt.timedelta(days=1)


# Why a condition is False or unknown. Failure texts are built only when a finding needs them:
# inside `no_item` most items are *expected* to be false, and formatting a message for each
# would dominate evaluation time (benchmarks/bench_evaluate.py).
Reason = str | Callable[[], str]


def texts(reasons: tuple[Reason, ...]) -> list[str]:
    return [r if isinstance(r, str) else r() for r in reasons]


@dataclass(frozen=True)
class Outcome:
    value: bool | None
    # Why it is False (for failures) or None (the Unknown reasons); empty when True.
    reasons: tuple[Reason, ...] = ()
    # False only because an attribute is not set. Negating that must not make it pass: `not`
    # of "public is not set" is still "public is not set", never "public is not true".
    absent: bool = False


TRUE = Outcome(True)


def failed(make: Callable[[], str]) -> Outcome:
    """A plain failure whose message is built only if someone reads it."""
    return Outcome(False, (make,))


@dataclass
class EvalContext:
    inventory: Inventory
    params: Mapping[str, Any]
    now: dt.datetime
    evidence: dict[str, Any] = field(default_factory=dict)


def shown(value: Any) -> str:
    """A value as it appears in a message: JSON (control characters escaped), clipped."""
    if isinstance(value, Ref):
        value = value.id
    try:
        text = json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > MAX_SHOWN:
        text = f"{text[:MAX_SHOWN]}…(+{len(text) - MAX_SHOWN} chars)"
    return text


def named(label: str) -> str:
    """A field as a failure message names it: `network_restricted`, `readers[alice].mfa`."""
    return f"`{label}`"


def items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def required(op: str, operand: Any) -> str:
    """What an operator asks of a value, in words ("be one of [...]", "have at most 1 item"),
    to finish a sentence that starts "it must …"."""
    if op == "count_at_least":
        return (
            f"have at least {items(operand)}"
            if isinstance(operand, int)
            else f"have at least {operand} items"
        )
    if op == "count_at_most":
        if operand == 0:
            return "be empty"
        return (
            f"have at most {items(operand)}"
            if isinstance(operand, int)
            else f"have at most {operand} items"
        )
    if op == "in_future":
        return "be in the future" if operand else "not be in the future"
    if op == "exists":
        return "be set" if operand else "be absent"
    if op == "matches":
        return f"match /{operand}/"
    phrase = _REQUIRED.get(op, op.replace("_", " "))
    return phrase.format(shown(operand))


_REQUIRED = {
    "equals": "be {}",
    "not_equals": "not be {}",
    "in": "be one of {}",
    "not_in": "be none of {}",
    "contains": "contain {}",
    "at_least": "be at least {}",
    "at_most": "be at most {}",
    "within_days": "be within the last {} days",
    "older_than_days": "be more than {} days old",
}


def clip_evidence(value: Any) -> Any:
    """Evidence keeps the deciding values as JSON data, bounded: hostile 1 MB tags must not
    bloat results. One pass (converting and clipping together): it runs for every test."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if len(value) > MAX_EVIDENCE_CHARS:
            return f"{value[:MAX_EVIDENCE_CHARS]}…(+{len(value) - MAX_EVIDENCE_CHARS} chars)"
        return value
    if isinstance(value, Ref):
        return {"$ref": clip_evidence(value.id)}
    if isinstance(value, list | tuple):
        items = [clip_evidence(v) for v in value[:MAX_EVIDENCE_ITEMS]]
        if len(value) > MAX_EVIDENCE_ITEMS:
            items.append(f"…(+{len(value) - MAX_EVIDENCE_ITEMS} items)")
        return items
    if isinstance(value, Mapping):
        return {
            clip_evidence(str(k)): clip_evidence(v)
            for k, v in list(value.items())[:MAX_EVIDENCE_ITEMS]
        }
    return to_jsonable(value)  # floats (nan), dates, Unknown, MISSING
