"""Three-valued evaluation of conditions against the inventory.

Every condition yields True, False or None (unknown). Combinators follow Kleene's logic: an
Unknown decides nothing on its own, so `all` is False as soon as one branch is False and
`any` is True as soon as one branch is True; otherwise an Unknown branch makes the whole
condition unknown, which the evaluator reports as `error` — never as `pass`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.inventory import MISSING, Ref, ResourceView, Unknown
from scanner.policy.model import (
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    Not,
    ParamRef,
    Quantified,
)
from scanner.policy.operators import OPS, as_datetime
from scanner.policy.outcome import (
    TRUE,
    EvalContext,
    Outcome,
    Reason,
    clip_evidence,
    failed,
    named,
    required,
    shown,
    texts,
)

__all__ = [
    "TRUE",
    "EvalContext",
    "Outcome",
    "Reason",
    "as_datetime",
    "describe",
    "evaluate",
    "shown",
    "texts",
]


def evaluate(cond: Condition, subject: Any, ctx: EvalContext, prefix: str = "") -> Outcome:
    if isinstance(cond, AllOf):
        outcomes = [evaluate(c, subject, ctx, prefix) for c in cond.items]
        falses = [o for o in outcomes if o.value is False]
        if falses:
            return Outcome(
                False, tuple(r for o in falses for r in o.reasons), all(o.absent for o in falses)
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
            (lambda: f"every alternative fails: {'; '.join(dict.fromkeys(texts(reasons)))}",),
            any(o.absent for o in outcomes),
        )
    if isinstance(cond, Not):
        inner = evaluate(cond.item, subject, ctx, prefix)
        if inner.value is None:
            return inner
        if inner.value is False:
            return inner if inner.absent else TRUE
        return Outcome(False, (lambda: f"{claim(cond.item, prefix, ctx.params)}, and must not",))
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


def claim(cond: Condition, prefix: str = "", params: Mapping[str, Any] | None = None) -> str:
    """The condition as a statement about the resource, for failures that say a condition
    held when it must not ("`readers[anyone].kind` is "anonymous", and must not"); params
    show their values."""
    if isinstance(cond, AllOf):
        parts = [claim(i, prefix, params) for i in cond.items]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    if isinstance(cond, AnyOf):
        return "either " + " or ".join(claim(i, prefix, params) for i in cond.items)
    if isinstance(cond, Not):
        return f"it is not so that {claim(cond.item, prefix, params)}"
    if isinstance(cond, Quantified):
        which = {"any_item": "some item", "every_item": "every item", "no_item": "no item"}
        item = claim(cond.item, "", params).replace("`", "")
        return f"{which[cond.quantifier]} of {named(_label(prefix, cond.field))} has {item}"
    assert isinstance(cond, FieldTest)
    operand = cond.operand
    if isinstance(operand, ParamRef):
        operand = params[operand.name] if params and operand.name in params else operand.name
    wants = required(cond.op, operand)
    # "be true" → "is true", "have at most 1 item" → "has at most 1 item"
    for verb, says in (("be ", "is "), ("not be ", "is not "), ("have ", "has ")):
        if wants.startswith(verb):
            wants = says + wants[len(verb) :]
            break
    else:
        wants = wants.replace("contain ", "contains ", 1).replace("match ", "matches ", 1)
    return f"{named(_label(prefix, cond.field))} {wants}"


MAX_ID_IN_LABEL = 200
MAX_SUMMARY = 400


def _clip_summary(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else f"{text[:MAX_SUMMARY]}…"


def _item_label(label: str, index: int, item: Any) -> str:
    """`readers[<id>]` reads better than `readers[3]`; ids are clipped (they key evidence)."""
    ident = item.id if isinstance(item, Ref) else None
    if ident is None and isinstance(item, Mapping) and isinstance(item.get("id"), str):
        ident = item["id"]
    if ident is None:
        return f"{label}[{index}]"
    if len(ident) > MAX_ID_IN_LABEL:
        ident = f"{ident[:MAX_ID_IN_LABEL]}…"
    return f"{label}[{ident}]"


def _quantified(cond: Quantified, subject: Any, ctx: EvalContext, prefix: str) -> Outcome:
    label = _label(prefix, cond.field)
    value = ctx.inventory.resolve(subject, cond.field)
    if label not in ctx.evidence:
        ctx.evidence[label] = clip_evidence(value)
    if isinstance(value, Unknown):
        return Outcome(None, (f"{named(label)} is unknown: {value.reason}",))
    if value is MISSING or value is None:
        return Outcome(False, (f"{named(label)} is not set",), absent=True)
    if not isinstance(value, list | tuple):
        return failed(lambda: f"{named(label)} is {shown(value)}, not a list")
    results: list[tuple[str, Outcome]] = []
    summaries: dict[int, str] = {}  # by position: several items may share one label
    for index, item in enumerate(value):
        item_label = _item_label(label, index, item)
        if isinstance(item, Ref):
            deref = ctx.inventory.deref(item)
            item = deref
        elif isinstance(item, Mapping) and isinstance(item.get("summary"), str):
            summaries[len(results)] = item["summary"]
        if isinstance(item, Unknown):
            results.append(
                (item_label, Outcome(None, (f"{named(item_label)} is unknown: {item.reason}",)))
            )
            continue
        results.append((item_label, evaluate(cond.item, item, ctx, item_label)))
    unknown = [o for _, o in results if o.value is None]
    unknown_reasons = tuple(r for o in unknown for r in o.reasons)
    if cond.quantifier == "every_item":
        falses = [o for _, o in results if o.value is False]
        if falses:
            return Outcome(
                False, tuple(r for o in falses for r in o.reasons), all(o.absent for o in falses)
            )
        return Outcome(None, unknown_reasons) if unknown else TRUE
    matched = [lbl for lbl, o in results if o.value is True]
    said = [
        f" ({_clip_summary(summaries[i])})" if i in summaries else ""
        for i, (_lbl, o) in enumerate(results)
        if o.value is True
    ]
    if cond.quantifier == "any_item":
        if matched:
            return TRUE
        if unknown:
            return Outcome(None, unknown_reasons)

        def what() -> str:
            if not results:
                return f"{named(label)} is empty"
            wanted = claim(cond.item, "", ctx.params).replace("`", "")
            return f"no item of {named(label)} has {wanted}"

        absent = tuple(r for _, o in results if o.absent for r in o.reasons)
        if absent:  # say which values were missing: that, not a mismatch, may be the cause
            return Outcome(False, (what, *absent), absent=True)
        return failed(what)
    # no_item: an item whose test failed only for lack of an attribute might still match.
    if matched:
        # An item that says what it is in words (`summary`, as linking writes for reads) is
        # quoted: "who read how much from where" rather than only the test it matched.
        return Outcome(
            False,
            tuple(
                _unwanted(cond.item, lbl, ctx.params) + words
                for lbl, words in zip(matched, said, strict=True)
            ),
        )
    if unknown:
        return Outcome(None, unknown_reasons)
    absent_items = [o for _, o in results if o.absent]
    if absent_items:
        return Outcome(False, tuple(r for o in absent_items for r in o.reasons), absent=True)
    return TRUE


def _unwanted(item: Condition, label: str, params: Mapping[str, Any]) -> str:
    """An item a `no_item` check found: "`formats[1]` is "pickle", and must not" for a plain
    value; "`bulk_reads[bob]` must not be there: kind is one of [...]" for a record."""
    if isinstance(item, FieldTest) and not item.field:
        return f"{claim(item, label, params)}, and must not"
    return f"{named(label)} must not be there: {claim(item, '', params).replace('`', '')}"


# Operators that compare a value as a whole; an Unknown anywhere inside it makes them unknown.
WHOLE_VALUE_OPS = frozenset({"equals", "not_equals", "in", "not_in"})


def _first_unknown(value: Any, depth: int = 0) -> Unknown | None:
    if isinstance(value, Unknown):
        return value
    if depth > 50:
        return None
    items = value.values() if isinstance(value, Mapping) else value
    if isinstance(value, Mapping | list | tuple):
        for item in items:
            found = _first_unknown(item, depth + 1)
            if found is not None:
                return found
    return None


def _field_test(cond: FieldTest, subject: Any, ctx: EvalContext, prefix: str) -> Outcome:
    label = _label(prefix, cond.field)
    if cond.field:
        value = ctx.inventory.resolve(subject, cond.field)
    else:  # the item itself; a referenced resource is compared by its id
        value = subject["id"] if isinstance(subject, ResourceView) else subject
    if label not in ctx.evidence:
        ctx.evidence[label] = clip_evidence(value)
    operand = ctx.params[cond.operand.name] if isinstance(cond.operand, ParamRef) else cond.operand
    if isinstance(value, Unknown):
        return Outcome(None, (f"{named(label)} is unknown: {value.reason}",))
    if isinstance(value, Ref):
        value = value.id
    if cond.op in WHOLE_VALUE_OPS and isinstance(value, list | tuple | dict):
        hidden = _first_unknown(value)
        if hidden is not None:  # comparing a whole list/map that holds an unknown decides nothing
            return Outcome(None, (f"{named(label)} holds an unknown value: {hidden.reason}",))
    if cond.op == "exists":
        present = value is not MISSING and value is not None
        if present == operand:
            return TRUE
        return Outcome(
            False,
            (f"{named(label)} is not set",)
            if operand
            else (f"{named(label)} is set to {shown(value)}, and must be absent",),
        )
    if value is MISSING or value is None:
        return Outcome(
            False,
            (f"{named(label)} is not set (it must {required(cond.op, operand)})",),
            absent=True,
        )
    return OPS[cond.op](label, value, operand, cond, ctx)
