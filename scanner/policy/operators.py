"""The field-test operators: each takes the resolved value and the operand, returns an Outcome.

Failure messages are closures (see `outcome.Reason`): built only if a finding reports them.
They are sentences an auditor can read without knowing the policy language: the field, the
value found, and what the policy wants of it ("`retention_days` is 30, less than the 90
required"), never an operator's name.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from scanner.inventory import Ref, Unknown, to_jsonable
from scanner.policy.model import FieldTest
from scanner.policy.outcome import (
    FUTURE_SKEW,
    TRUE,
    EvalContext,
    Outcome,
    failed,
    items,
    named,
    shown,
)


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
    if operand is True and value is False:
        return failed(lambda: f"{named(label)} is not true")
    if operand is False and value is True:
        return failed(lambda: f"{named(label)} is true, and must not be")
    return failed(lambda: f"{named(label)} is {shown(value)}, and must be {shown(operand)}")


def _op_not_equals(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if not _same(value, operand):
        return TRUE
    return failed(lambda: f"{named(label)} is {shown(value)}, and must not be")


def _membership(label: str, value: Any, operand: list[Any], want: bool, expected: str) -> Outcome:
    """`in` (want=True) and `not_in` (want=False) on one value; a list value is refused."""
    if isinstance(value, list | tuple):
        return failed(
            lambda: (
                f"{named(label)} is a list {shown(value)}; use a list quantifier to test its items"
            )
        )
    if any(_same(value, o) for o in operand) == want:
        return TRUE
    return failed(lambda: f"{named(label)} is {shown(value)}, {expected} {shown(operand)}")


def _op_in(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    return _membership(label, value, operand, True, "and must be one of")


def _op_not_in(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    return _membership(label, value, operand, False, "one of the values it must not be:")


def _op_contains(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if isinstance(value, str):
        if isinstance(operand, str) and operand in value:
            return TRUE
        return failed(
            lambda: f"{named(label)} is {shown(value)}, which does not contain {shown(operand)}"
        )
    if isinstance(value, list | tuple):
        if any(_same(v, operand) for v in value if not isinstance(v, Unknown)):
            return TRUE
        unknown = [v for v in value if isinstance(v, Unknown)]
        if unknown:
            return Outcome(
                None, tuple(f"an item of {named(label)} is unknown: {u.reason}" for u in unknown)
            )
        return failed(
            lambda: f"{named(label)} is {shown(value)}, which does not contain {shown(operand)}"
        )
    return failed(lambda: f"{named(label)} is {shown(value)}, which is neither a list nor text")


def _op_matches(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if not isinstance(value, str):
        return failed(lambda: f"{named(label)} is {shown(value)}, not text to match /{operand}/")
    pattern = cond.pattern if isinstance(cond.operand, str) and cond.pattern else _compiled(operand)
    if pattern.search(value):
        return TRUE
    return failed(lambda: f"{named(label)} is {shown(value)}, which does not match /{operand}/")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _op_at_least(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    if not _number(value):
        return failed(lambda: f"{named(label)} is {shown(value)}, not a number")
    return (
        TRUE
        if value >= operand
        else failed(
            lambda: f"{named(label)} is {shown(value)}, less than the {shown(operand)} required"
        )
    )


def _op_at_most(label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext) -> Outcome:
    if not _number(value):
        return failed(lambda: f"{named(label)} is {shown(value)}, not a number")
    return (
        TRUE
        if value <= operand
        else failed(
            lambda: f"{named(label)} is {shown(value)}, more than the {shown(operand)} allowed"
        )
    )


def _counted(label: str, value: Any) -> tuple[int, int] | Outcome:
    if not isinstance(value, list | tuple):
        return failed(lambda: f"{named(label)} is {shown(value)}, not a list to count")
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
        return Outcome(None, (f"{named(label)} has {known} known and {unknown} unknown items",))
    return failed(
        lambda: (
            f"{named(label)} has {items(known)}, fewer than the {operand} required: {_known(value)}"
        )
    )


def _op_count_at_most(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    counted = _counted(label, value)
    if isinstance(counted, Outcome):
        return counted
    known, unknown = counted
    if known > operand:
        return failed(lambda: _too_many(label, value, known, operand))
    if known + unknown > operand:
        return Outcome(None, (f"{named(label)} has {known} known and {unknown} unknown items",))
    return TRUE


def _known(value: Any) -> str:
    """The known items of a counted list, to say which ones were counted."""
    return shown([v.id if isinstance(v, Ref) else v for v in value if not isinstance(v, Unknown)])


def _too_many(label: str, value: Any, known: int, operand: int) -> str:
    if operand == 0:
        return f"{named(label)} must be empty, and has {items(known)}: {_known(value)}"
    return f"{named(label)} has {items(known)}, more than the {operand} allowed: {_known(value)}"


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
        return failed(lambda: f"{named(label)} is {shown(value)}, not a date")
    return (ctx.now - when).total_seconds() / 86400


def _op_within_days(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    age = _age_days(label, value, ctx)
    if isinstance(age, Outcome):
        return age
    if age < -FUTURE_SKEW.days:
        return failed(lambda: f"{named(label)} is {shown(value)}, which is in the future")
    if age <= operand:
        return TRUE
    return failed(
        lambda: (
            f"{named(label)} is {shown(value)}, {int(age)} days ago; it must be within the last "
            f"{operand} days"
        )
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
            f"{named(label)} is {shown(value)}, only {max(int(age), 0)} days ago; it must be more "
            f"than {operand} days old"
        )
    )


def _op_in_future(
    label: str, value: Any, operand: Any, cond: FieldTest, ctx: EvalContext
) -> Outcome:
    when = as_datetime(value)
    if when is None:
        return failed(lambda: f"{named(label)} is {shown(value)}, not a date")
    future = when > ctx.now
    if future == operand:
        return TRUE
    if operand:
        days = int((ctx.now - when).total_seconds() // 86400)
        return failed(lambda: f"{named(label)} is {shown(value)}: expired {days} day(s) ago")
    return failed(lambda: f"{named(label)} is {shown(value)}, which is in the future")


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
