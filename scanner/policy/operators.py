"""The field-test operators: each takes the resolved value and the operand, returns an Outcome.

Failure messages are closures (see `outcome.Reason`): built only if a finding reports them.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from scanner.inventory import Ref, Unknown, to_jsonable
from scanner.policy.model import FieldTest
from scanner.policy.outcome import FUTURE_SKEW, TRUE, EvalContext, Outcome, failed, shown


def _same(a: Any, b: Any) -> bool:
    """Equality that does not treat True as 1 (YAML `true` must not equal the number 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Ref):
        a = a.id
    if isinstance(a, dt.date | dt.datetime) or isinstance(b, dt.date | dt.datetime):
        return str(to_jsonable(a)) == str(to_jsonable(b))
    return bool(a == b)


def _op_equals(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if _same(value, operand):
        return TRUE
    return failed(lambda: f"{label} is {shown(value)}, expected {shown(operand)}")


def _op_not_equals(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if not _same(value, operand):
        return TRUE
    return failed(lambda: f"{label} is {shown(value)}, which is not allowed")


def _membership(label: str, value: Any, operand: list[Any], want: bool, expected: str) -> Outcome:
    """`in` (want=True) and `not_in` (want=False) on one value; a list value is refused."""
    if isinstance(value, list | tuple):
        return failed(
            lambda: f"{label} is a list {shown(value)}; use a list quantifier to test its items"
        )
    if any(_same(value, o) for o in operand) == want:
        return TRUE
    return failed(lambda: f"{label} is {shown(value)}, {expected} {shown(operand)}")


def _op_in(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    return _membership(label, value, operand, True, "expected one of")


def _op_not_in(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    return _membership(label, value, operand, False, "which is one of the disallowed")


def _op_contains(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if isinstance(value, str):
        if isinstance(operand, str) and operand in value:
            return TRUE
        return failed(lambda: f"{label} is {shown(value)}, which does not contain {shown(operand)}")
    if isinstance(value, list | tuple):
        if any(_same(v, operand) for v in value if not isinstance(v, Unknown)):
            return TRUE
        unknown = [v for v in value if isinstance(v, Unknown)]
        if unknown:
            return Outcome(
                None, tuple(f"an item of {label} is unknown: {u.reason}" for u in unknown)
            )
        return failed(lambda: f"{label} is {shown(value)}, which does not contain {shown(operand)}")
    return failed(lambda: f"{label} is {shown(value)}, which is neither a list nor text")


def _op_matches(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if not isinstance(value, str):
        return failed(lambda: f"{label} is {shown(value)}, not text to match against /{operand}/")
    pattern = cond.pattern if isinstance(cond.operand, str) and cond.pattern else _compiled(operand)
    if pattern.search(value):
        return TRUE
    return failed(lambda: f"{label} is {shown(value)}, which does not match /{operand}/")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _op_at_least(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if not _number(value):
        return failed(lambda: f"{label} is {shown(value)}, not a number")
    return (
        TRUE
        if value >= operand
        else failed(lambda: f"{label} is {shown(value)}, expected at least {shown(operand)}")
    )


def _op_at_most(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if not _number(value):
        return failed(lambda: f"{label} is {shown(value)}, not a number")
    return (
        TRUE
        if value <= operand
        else failed(lambda: f"{label} is {shown(value)}, expected at most {shown(operand)}")
    )


def _counted(label: str, value: Any) -> tuple[int, int] | Outcome:
    if not isinstance(value, list | tuple):
        return failed(lambda: f"{label} is {shown(value)}, not a list to count")
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
    return failed(lambda: f"{label} has {known} item(s), expected at least {operand}")


def _op_count_at_most(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    counted = _counted(label, value)
    if isinstance(counted, Outcome):
        return counted
    known, unknown = counted
    if known > operand:
        return failed(lambda: f"{label} has {known} item(s), expected at most {operand}")
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
        return failed(lambda: f"{label} is {shown(value)}, not a date")
    return (ctx.now - when).total_seconds() / 86400


def _op_within_days(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    age = _age_days(label, value, ctx)
    if isinstance(age, Outcome):
        return age
    if age < -FUTURE_SKEW.days:
        return failed(lambda: f"{label} is {shown(value)}, which is in the future")
    if age <= operand:
        return TRUE
    return failed(
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
    return failed(
        lambda: (
            f"{label} is {shown(value)} ({max(int(age), 0)} days ago), expected older than "
            f"{operand} days"
        )
    )


def _op_in_future(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    when = as_datetime(value)
    if when is None:
        return failed(lambda: f"{label} is {shown(value)}, not a date")
    future = when > ctx.now
    if future == operand:
        return TRUE
    if operand:
        days = int((ctx.now - when).total_seconds() // 86400)
        return failed(lambda: f"{label} is {shown(value)}: expired {days} day(s) ago")
    return failed(lambda: f"{label} is {shown(value)}, which is in the future")


OPS = {
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
