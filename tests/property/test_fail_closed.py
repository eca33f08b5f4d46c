"""Property tests of the central safety rule: missing or unreadable data never passes.

DESIGN.md, "Fail-closed": missing data is `error`, not `pass`. Concretely, for random
conditions (written as YAML policy text, so the parser is exercised too) and random attribute
maps:

* Unknown is monotone: if a verdict is `pass` with an attribute replaced by `Unknown`, it is
  `pass` with the original value, with absence, and with every other concrete value tried
  there. An Unknown may never produce a pass that some concrete value would not.
* Absence never helps: removing an attribute never turns `fail` into `pass`, unless the policy
  tests that attribute's absence (`exists: false`, or `exists: true` under a negation).
* A condition whose tests all read absent attributes is `fail` - under any number of `not`s
  (scanner/policy/outcome.py, `Outcome.absent`).

Where these hold only for top-level attributes, the nested variants are pinned as strict
xfails with their minimal counterexamples.
"""

from __future__ import annotations

import copy
import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.inventory import Inventory, Resource, Unknown
from scanner.policy.evaluate import evaluate_policy
from scanner.policy.loader import load_policy_dirs
from scanner.policy.model import (
    OPERATORS,
    QUANTIFIERS,
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    Not,
    Policy,
    Quantified,
)

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
TYPE = "model"
ABSENT = object()  # "delete the attribute" in a list of alternatives

# Small domains, so that generated conditions and attributes actually meet: equalities hold,
# counts cross their bounds, dates fall either side of the windows.
SCALARS = [
    True,
    False,
    0,
    1,
    2,
    3.5,
    "x",
    "y",
    "",
    "2025-05-30",
    "2024-01-01T00:00:00Z",
    "2026-01-01",
    dt.date(2025, 5, 30),
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
]
VALUES = [
    *SCALARS,
    None,
    [],
    ["x"],
    ["x", "y"],
    [1, 2],
    {"k": "x"},
    {"k": 1},
    [{"x": 1}, {"x": "x"}],
    [{"x": 1}],
]
TOP_KEYS = ("a", "b", "L")
FIELDS = ["a", "b", "L", "a.k", "L.x", "L.0"]
OPERANDS: dict[str, list[Any]] = {
    "bool": [True, False],
    "any": ["x", 1, True, "", ["x"], {"k": "x"}, "2025-05-30"],
    "list": [["x"], ["x", 1], [True, "y"], [], [["x"]]],
    "regex": ["^x", "y", "^$", "."],
    "number": [0, 1, 2, 3.5, 30, 400],
    "count": [0, 1, 2],
}

# --- conditions as YAML-able documents ------------------------------------------------------


def operand(op: str) -> st.SearchStrategy[Any]:
    values = st.sampled_from(OPERANDS[OPERATORS[op]])
    if OPERATORS[op] in ("number", "count"):  # sometimes through a declared param
        return st.one_of(values, st.just({"param": "n"}))
    return values


@st.composite
def leaf(draw: st.DrawFn, in_item: bool, exists_ok: bool = True) -> dict[str, Any]:
    ops = sorted(o for o in OPERATORS if exists_ok or o != "exists")
    op = draw(st.sampled_from(ops))
    node: dict[str, Any] = {}
    if not in_item or draw(st.booleans()):
        node["field"] = draw(st.sampled_from(FIELDS if not in_item else ["x", "k"]))
    node[op] = draw(operand(op))
    return node


def conditions(depth: int, in_item: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    if depth == 0:
        return leaf(in_item)
    inner = conditions(depth - 1, in_item)
    return st.one_of(
        leaf(in_item),
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
        st.builds(
            lambda f, q, x: {"field": f, q: x},
            st.sampled_from(["L", "a", "b"]),
            st.sampled_from(QUANTIFIERS),
            conditions(depth - 1, True),
        ),
    )


CONDITIONS = conditions(3)


def load_policy(check: dict[str, Any], scope: dict[str, Any] | None = None) -> Policy:
    doc: dict[str, Any] = {
        "id": "FC-1",
        "title": "fail-closed property",
        "severity": "high",
        "maturity": "applied",
        "resource": TYPE,
        "params": {"n": 1},
        "check": check,
    }
    if scope is not None:
        doc["scope"] = scope
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "p.yaml")
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        (policy,) = load_policy_dirs([tmp]).policies  # generated conditions are all valid
    return policy


# --- attribute maps -------------------------------------------------------------------------

values = st.sampled_from(VALUES)
attribute_maps = st.fixed_dictionaries(
    {},
    optional={
        "a": st.one_of(values, st.dictionaries(st.just("k"), values)),
        "b": values,
        "L": st.one_of(
            st.lists(st.one_of(values, st.dictionaries(st.just("x"), values)), max_size=3),
            values,
        ),
    },
)


def verdict(policy: Policy, attributes: dict[str, Any]) -> str:
    inventory = Inventory([Resource("r", TYPE, "r", "prop", attributes)])
    (finding,) = evaluate_policy(policy, inventory, NOW)
    return finding.status


def replaced(attributes: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy with the value at `path` replaced (or deleted, for ABSENT)."""
    out = copy.deepcopy(attributes)
    *parents, last = path
    holder: Any = out
    for part in parents:
        holder = holder[part]
    if value is ABSENT:
        del holder[last]
    else:
        holder[last] = value
    return out


def nested_paths(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """Paths strictly inside `value` (list elements and dict values, recursively)."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield (*path, key)
        yield from nested_paths(item, (*path, key))


def show(policy: Policy) -> str:
    return yaml.safe_dump(dict(policy.document), sort_keys=False, default_flow_style=True)


# --- Unknown is monotone ----------------------------------------------------------------------


def check_unknown_monotone(
    policy: Policy, attributes: dict[str, Any], path: tuple[Any, ...]
) -> None:
    with_unknown = replaced(attributes, path, Unknown("denied"))
    if verdict(policy, with_unknown) != "pass":
        return
    original: Any = attributes
    for part in path:
        original = original[part]
    for alternative in (original, ABSENT, *VALUES):
        concrete = replaced(attributes, path, alternative)
        status = verdict(policy, concrete)
        assert status == "pass", (
            f"Unknown at {path} passes, but {alternative!r} there gives {status}\n"
            f"policy: {show(policy)}attributes with Unknown: {with_unknown!r}"
        )


@SETTINGS
@given(CONDITIONS, st.none() | conditions(1), attribute_maps)
@example({"field": "L", "count_at_least": 1}, None, {"L": [1]})
@example({"any": [{"field": "a", "equals": "x"}, {"field": "b", "exists": True}]}, None, {"b": 1})
def test_unknown_attribute_never_passes_where_a_value_would_not(
    check: dict[str, Any], scope: dict[str, Any] | None, attributes: dict[str, Any]
) -> None:
    policy = load_policy(check, scope)
    original = verdict(policy, attributes)
    assert original in ("pass", "fail", "error", "not_applicable")
    for key in TOP_KEYS:  # present ones are replaced, absent ones become Unknown
        base = attributes if key in attributes else {**attributes, key: None}
        check_unknown_monotone(policy, base, (key,))


@SETTINGS
@given(CONDITIONS, attribute_maps)
@example({"field": "b", "not_equals": ["x"]}, {"b": ["x"]})
@example({"not": {"field": "a", "equals": {"k": "x"}}}, {"a": {"k": "x"}})
def test_unknown_nested_in_a_value_never_passes_where_a_value_would_not(
    check: dict[str, Any], attributes: dict[str, Any]
) -> None:
    policy = load_policy(check)
    for key in TOP_KEYS:
        for path in nested_paths(attributes.get(key), (key,)):
            check_unknown_monotone(policy, attributes, path)


# --- absence never helps ----------------------------------------------------------------------


def relies_on_absence(cond: Condition | None, negated: bool = False) -> bool:
    """True if some `exists` test passes on absence (exists: false, or exists: true negated).

    `not` and `no_item` negate what is below them."""
    if cond is None:
        return False
    if isinstance(cond, AllOf | AnyOf):
        return any(relies_on_absence(c, negated) for c in cond.items)
    if isinstance(cond, Not):
        return relies_on_absence(cond.item, not negated)
    if isinstance(cond, Quantified):
        return relies_on_absence(cond.item, negated != (cond.quantifier == "no_item"))
    assert isinstance(cond, FieldTest)
    return cond.op == "exists" and cond.operand is negated


@SETTINGS
@given(CONDITIONS, st.none() | conditions(1), attribute_maps)
@example({"not": {"field": "a", "exists": True}}, None, {"a": 1})  # excluded: tests absence
def test_removing_an_attribute_never_turns_fail_into_pass(
    check: dict[str, Any], scope: dict[str, Any] | None, attributes: dict[str, Any]
) -> None:
    policy = load_policy(check, scope)
    if relies_on_absence(policy.check) or relies_on_absence(policy.scope):
        return
    before = verdict(policy, attributes)
    if before != "fail":
        return
    for key in list(attributes):
        for gone in (ABSENT, None):  # not there at all, or there as null
            status = verdict(policy, replaced(attributes, (key,), gone))
            assert status != "pass", (
                f"removing {key!r} turns fail into pass\npolicy: {show(policy)}"
                f"attributes: {attributes!r}"
            )


@SETTINGS
@given(CONDITIONS, attribute_maps)
@example({"field": "L.x", "every_item": {"equals": 1}}, {"L": [{"x": 1}, {"x": 2}]})
def test_removing_a_nested_attribute_never_turns_fail_into_pass(
    check: dict[str, Any], attributes: dict[str, Any]
) -> None:
    policy = load_policy(check)
    if relies_on_absence(policy.check) or verdict(policy, attributes) != "fail":
        return
    for key in TOP_KEYS:
        for path in nested_paths(attributes.get(key), (key,)):
            if not isinstance(path[-1], str):  # only map keys can be removed
                continue
            status = verdict(policy, replaced(attributes, path, ABSENT))
            assert status != "pass", (
                f"removing {path} turns fail into pass\npolicy: {show(policy)}"
                f"attributes: {attributes!r}"
            )


def absent_only(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Conditions whose every test reads an absent top-level attribute (no `exists`)."""
    tests = st.builds(
        lambda node, field: {**node, "field": field},
        leaf(False, exists_ok=False),
        st.sampled_from(["gone", "gone.k", "L.x"]),
    )
    if depth == 0:
        return tests
    inner = absent_only(depth - 1)
    return st.one_of(
        tests,
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
        st.builds(
            lambda q, x: {"field": "gone", q: x}, st.sampled_from(QUANTIFIERS), conditions(1, True)
        ),
    )


@SETTINGS
@given(absent_only(3), st.integers(0, 3), attribute_maps)
@example({"field": "gone", "not_equals": "x"}, 1, {})
@example({"field": "gone", "no_item": {"equals": "x"}}, 1, {})
def test_conditions_on_absent_attributes_fail_under_any_negation(
    cond: dict[str, Any], nots: int, attributes: dict[str, Any]
) -> None:
    for _ in range(nots):
        cond = {"not": cond}
    attributes = {k: v for k, v in attributes.items() if k != "L"}  # `L.x` must be absent too
    policy = load_policy(cond)
    assert verdict(policy, attributes) == "fail", show(policy)
