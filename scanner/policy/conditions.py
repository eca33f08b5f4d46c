"""Three-valued evaluation of conditions against the inventory.

Every condition yields True, False or None (unknown). Combinators follow Kleene's logic: an
Unknown decides nothing on its own, so `all` is False as soon as one branch is False and
`any` is True as soon as one branch is True; otherwise an Unknown branch makes the whole
condition unknown, which the evaluator reports as `error` — never as `pass`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scanner.inventory import MISSING, Inventory, Ref, ResourceView, Unknown, to_jsonable
from scanner.policy.model import (
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    Not,
    ParamRef,
    Quantified,
)

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


def clip_evidence(value: Any) -> Any:
    """Evidence keeps the deciding values, bounded: hostile 1 MB tags must not bloat results."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_EVIDENCE_CHARS:
            return f"{value[:MAX_EVIDENCE_CHARS]}…(+{len(value) - MAX_EVIDENCE_CHARS} chars)"
        return value
    value = to_jsonable(value)
    if isinstance(value, str) and len(value) > MAX_EVIDENCE_CHARS:
        return f"{value[:MAX_EVIDENCE_CHARS]}…(+{len(value) - MAX_EVIDENCE_CHARS} chars)"
    if isinstance(value, list):
        items = [clip_evidence(v) for v in value[:MAX_EVIDENCE_ITEMS]]
        if len(value) > MAX_EVIDENCE_ITEMS:
            items.append(f"…(+{len(value) - MAX_EVIDENCE_ITEMS} items)")
        return items
    if isinstance(value, dict):
        return {k: clip_evidence(v) for k, v in list(value.items())[:MAX_EVIDENCE_ITEMS]}
    return value


def evaluate(cond: Condition, subject: Any, ctx: EvalContext, prefix: str = "") -> Outcome:
    if isinstance(cond, AllOf):
        outcomes = [evaluate(c, subject, ctx, prefix) for c in cond.items]
        failed = [o for o in outcomes if o.value is False]
        if failed:
            return Outcome(
                False, tuple(r for o in failed for r in o.reasons), all(o.absent for o in failed)
            )
        unknown = [o for o in outcomes if o.value is None]
        if unknown:
            return Outcome(None, tuple(r for o in unknown for r in o.reasons))
        return TRUE
    if isinstance(cond, AnyOf):
        outcomes = [evaluate(c, subject, ctx, prefix) for c in cond.items]
        if any(o.value is True for o in outcomes):
            return TRUE
        unknown = [o for o in outcomes if o.value is None]
        if unknown:
            return Outcome(None, tuple(r for o in unknown for r in o.reasons))
        reasons = tuple(r for o in outcomes for r in o.reasons)
        return Outcome(
            False,
            (
                lambda: (
                    f"none of the alternatives holds: {'; '.join(dict.fromkeys(texts(reasons)))}"
                ),
            ),
            any(o.absent for o in outcomes),
        )
    if isinstance(cond, Not):
        inner = evaluate(cond.item, subject, ctx, prefix)
        if inner.value is None:
            return inner
        if inner.value is False:
            return inner if inner.absent else TRUE
        return Outcome(False, (lambda: f"must not hold: {describe(cond.item, prefix)}",))
    if isinstance(cond, Quantified):
        return _quantified(cond, subject, ctx, prefix)
    if isinstance(cond, FieldTest):
        return _field_test(cond, subject, ctx, prefix)
    raise TypeError(f"not a condition: {cond!r}")


def _label(prefix: str, field_path: str) -> str:
    if not field_path:
        return prefix or "value"
    return f"{prefix}.{field_path}" if prefix else field_path


def describe(cond: Condition, prefix: str = "", params: Mapping[str, Any] | None = None) -> str:
    """The condition in words, for pass messages and negations; params show their values."""

    def walk(c: Condition, pre: str) -> str:
        if isinstance(c, AllOf):
            return "all of (" + "; ".join(walk(i, pre) for i in c.items) + ")"
        if isinstance(c, AnyOf):
            return "any of (" + "; ".join(walk(i, pre) for i in c.items) + ")"
        if isinstance(c, Not):
            return f"not ({walk(c.item, pre)})"
        if isinstance(c, Quantified):
            return f"{c.quantifier.replace('_', ' ')} of {_label(pre, c.field)}: {walk(c.item, '')}"
        assert isinstance(c, FieldTest)
        if isinstance(c.operand, ParamRef):
            name = c.operand.name
            operand = f"{name} ({shown(params[name])})" if params and name in params else name
        else:
            operand = shown(c.operand)
        return f"{_label(pre, c.field)} {c.op.replace('_', ' ')} {operand}"

    return walk(cond, prefix)


def _item_label(label: str, index: int, item: Any) -> str:
    if isinstance(item, Ref):
        return f"{label}[{item.id}]"
    if isinstance(item, Mapping) and isinstance(item.get("id"), str):
        return f"{label}[{item['id']}]"
    return f"{label}[{index}]"


def _quantified(cond: Quantified, subject: Any, ctx: EvalContext, prefix: str) -> Outcome:
    label = _label(prefix, cond.field)
    value = ctx.inventory.resolve(subject, cond.field)
    ctx.evidence.setdefault(label, clip_evidence(value))
    if isinstance(value, Unknown):
        return Outcome(None, (f"{label} is unknown: {value.reason}",))
    if value is MISSING or value is None:
        return Outcome(False, (f"{label} is not set",), absent=True)
    if not isinstance(value, list | tuple):
        return _fail(lambda: f"{label} is {shown(value)}, not a list")
    results = []
    for index, item in enumerate(value):
        item_label = _item_label(label, index, item)
        if isinstance(item, Ref):
            deref = ctx.inventory.deref(item)
            item = deref
        if isinstance(item, Unknown):
            results.append(
                (item_label, Outcome(None, (f"{item_label} is unknown: {item.reason}",)))
            )
            continue
        results.append((item_label, evaluate(cond.item, item, ctx, item_label)))
    unknown = [o for _, o in results if o.value is None]
    unknown_reasons = tuple(r for o in unknown for r in o.reasons)
    if cond.quantifier == "every_item":
        failed = [o for _, o in results if o.value is False]
        if failed:
            return Outcome(
                False, tuple(r for o in failed for r in o.reasons), all(o.absent for o in failed)
            )
        return Outcome(None, unknown_reasons) if unknown else TRUE
    matched = [lbl for lbl, o in results if o.value is True]
    if cond.quantifier == "any_item":
        if matched:
            return TRUE
        if unknown:
            return Outcome(None, unknown_reasons)
        what = "is empty" if not results else f"has no item where {describe(cond.item)}"
        return Outcome(False, (lambda: f"{label} {what}",), any(o.absent for _, o in results))
    # no_item: an item whose test failed only for lack of an attribute might still match.
    if matched:
        return Outcome(False, tuple(f"{lbl} matches: {describe(cond.item)}" for lbl in matched))
    if unknown:
        return Outcome(None, unknown_reasons)
    absent = [o for _, o in results if o.absent]
    if absent:
        return Outcome(False, tuple(r for o in absent for r in o.reasons), absent=True)
    return TRUE


def _field_test(cond: FieldTest, subject: Any, ctx: EvalContext, prefix: str) -> Outcome:
    label = _label(prefix, cond.field)
    if cond.field:
        value = ctx.inventory.resolve(subject, cond.field)
    else:  # the item itself; a referenced resource is compared by its id
        value = subject["id"] if isinstance(subject, ResourceView) else subject
    ctx.evidence.setdefault(label, clip_evidence(value))
    operand = ctx.params[cond.operand.name] if isinstance(cond.operand, ParamRef) else cond.operand
    if isinstance(value, Unknown):
        return Outcome(None, (f"{label} is unknown: {value.reason}",))
    if isinstance(value, Ref):
        value = value.id
    if cond.op == "exists":
        present = value is not MISSING and value is not None
        if present == operand:
            return TRUE
        return Outcome(
            False,
            (f"{label} is not set",)
            if operand
            else (f"{label} is set to {shown(value)}, expected it to be absent",),
        )
    if value is MISSING or value is None:
        return Outcome(
            False,
            (f"{label} is not set (expected {cond.op.replace('_', ' ')} {shown(operand)})",),
            absent=True,
        )
    return _OPS[cond.op](label, value, operand, cond, ctx)


def _same(a: Any, b: Any) -> bool:
    """Equality that does not treat True as 1 (YAML `true` must not equal the number 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Ref):
        a = a.id
    if isinstance(a, dt.date | dt.datetime) or isinstance(b, dt.date | dt.datetime):
        return str(to_jsonable(a)) == str(to_jsonable(b))
    return bool(a == b)


def _fail(make: Callable[[], str]) -> Outcome:
    return Outcome(False, (make,))


def _op_equals(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if _same(value, operand):
        return TRUE
    return _fail(lambda: f"{label} is {shown(value)}, expected {shown(operand)}")


def _op_not_equals(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if not _same(value, operand):
        return TRUE
    return _fail(lambda: f"{label} is {shown(value)}, which is not allowed")


def _list_membership(value: Any, operand: list[Any]) -> bool | None:
    if isinstance(value, list | tuple):
        return None
    return any(_same(value, o) for o in operand)


def _op_in(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    member = _list_membership(value, operand)
    if member is None:
        return _fail(
            lambda: f"{label} is a list {shown(value)}; use a list quantifier to test its items"
        )
    if member:
        return TRUE
    return _fail(lambda: f"{label} is {shown(value)}, expected one of {shown(operand)}")


def _op_not_in(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    member = _list_membership(value, operand)
    if member is None:
        return _fail(
            lambda: f"{label} is a list {shown(value)}; use a list quantifier to test its items"
        )
    if not member:
        return TRUE
    return _fail(
        lambda: f"{label} is {shown(value)}, which is one of the disallowed {shown(operand)}"
    )


def _op_contains(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if isinstance(value, str):
        if isinstance(operand, str) and operand in value:
            return TRUE
        return _fail(lambda: f"{label} is {shown(value)}, which does not contain {shown(operand)}")
    if isinstance(value, list | tuple):
        if any(_same(v, operand) for v in value if not isinstance(v, Unknown)):
            return TRUE
        unknown = [v for v in value if isinstance(v, Unknown)]
        if unknown:
            return Outcome(
                None, tuple(f"an item of {label} is unknown: {u.reason}" for u in unknown)
            )
        return _fail(lambda: f"{label} is {shown(value)}, which does not contain {shown(operand)}")
    return _fail(lambda: f"{label} is {shown(value)}, which is neither a list nor text")


def _op_matches(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if not isinstance(value, str):
        return _fail(lambda: f"{label} is {shown(value)}, not text to match against /{operand}/")
    pattern = cond.pattern if isinstance(cond.operand, str) and cond.pattern else _compiled(operand)
    if pattern.search(value):
        return TRUE
    return _fail(lambda: f"{label} is {shown(value)}, which does not match /{operand}/")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _op_at_least(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if not _number(value):
        return _fail(lambda: f"{label} is {shown(value)}, not a number")
    return (
        TRUE
        if value >= operand
        else _fail(lambda: f"{label} is {shown(value)}, expected at least {shown(operand)}")
    )


def _op_at_most(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if not _number(value):
        return _fail(lambda: f"{label} is {shown(value)}, not a number")
    return (
        TRUE
        if value <= operand
        else _fail(lambda: f"{label} is {shown(value)}, expected at most {shown(operand)}")
    )


def _counted(label: str, value: Any) -> tuple[int, int] | Outcome:
    if not isinstance(value, list | tuple):
        return _fail(lambda: f"{label} is {shown(value)}, not a list to count")
    unknown = sum(1 for v in value if isinstance(v, Unknown))
    return len(value) - unknown, unknown


def _op_count_at_least(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    counted = _counted(label, value)
    if isinstance(counted, Outcome):
        return counted
    known, unknown = counted
    if known >= operand:
        return TRUE
    if known + unknown >= operand:
        return Outcome(None, (f"{label} has {known} known and {unknown} unknown items",))
    return _fail(lambda: f"{label} has {known} item(s), expected at least {operand}")


def _op_count_at_most(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    counted = _counted(label, value)
    if isinstance(counted, Outcome):
        return counted
    known, unknown = counted
    if known > operand:
        return _fail(lambda: f"{label} has {known} item(s), expected at most {operand}")
    if known + unknown > operand:
        return Outcome(None, (f"{label} has {known} known and {unknown} unknown items",))
    return TRUE


def as_datetime(value: Any) -> dt.datetime | None:
    """Dates as sources and YAML give them (date, datetime, ISO 8601 text) → aware UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _age_days(label: str, value: Any, ctx: EvalContext) -> float | Outcome:
    when = as_datetime(value)
    if when is None:
        return _fail(lambda: f"{label} is {shown(value)}, not a date")
    return (ctx.now - when).total_seconds() / 86400


def _op_within_days(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    age = _age_days(label, value, ctx)
    if isinstance(age, Outcome):
        return age
    if age < -FUTURE_SKEW.days:
        return _fail(lambda: f"{label} is {shown(value)}, which is in the future")
    if age <= operand:
        return TRUE
    return _fail(
        lambda: f"{label} is {shown(value)} ({int(age)} days ago), expected within {operand} days"
    )


def _op_older_than_days(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    age = _age_days(label, value, ctx)
    if isinstance(age, Outcome):
        return age
    if age > operand:
        return TRUE
    return _fail(
        f"{label} is {shown(value)} ({max(int(age), 0)} days ago), expected older than "
        f"{operand} days"
    )


def _op_in_future(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    when = as_datetime(value)
    if when is None:
        return _fail(lambda: f"{label} is {shown(value)}, not a date")
    future = when > ctx.now
    if future == operand:
        return TRUE
    if operand:
        days = int((ctx.now - when).total_seconds() // 86400)
        return _fail(lambda: f"{label} is {shown(value)}: expired {days} day(s) ago")
    return _fail(lambda: f"{label} is {shown(value)}, which is in the future")


_OPS = {
    "equals": _op_equals,
    "not_equals": _op_not_equals,
    "in": _op_in,
    "not_in": _op_not_in,
    "contains": _op_contains,
    "matches": _op_matches,
    "at_least": _op_at_least,
    "at_most": _op_at_most,
    "count_at_least": _op_count_at_least,
    "count_at_most": _op_count_at_most,
    "within_days": _op_within_days,
    "older_than_days": _op_older_than_days,
    "in_future": _op_in_future,
}
