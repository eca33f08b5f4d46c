"""Param overrides: `--param` parsing, config/flag layering, and type-checked application."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from scanner.errors import EXIT_USAGE, UsageError
from scanner.inventory import Inventory, Resource
from scanner.policy.evaluate import evaluate_policy
from scanner.policy.loader import parse_policy
from scanner.policy.model import Policy
from scanner.policy.params import ALL, apply, from_flags, merge, parse_param_flag
from scanner.yamlpos import load_yaml_text


def make_policy(pid: str, params: str, check: str) -> Policy:
    text = (
        f"id: {pid}\ntitle: t\nseverity: high\nmaturity: applied\nresource: storage\n"
        "params:\n"
        + textwrap.indent(textwrap.dedent(params).strip("\n"), "  ")
        + "\ncheck:\n"
        + textwrap.indent(textwrap.dedent(check).strip("\n"), "  ")
        + "\n"
    )
    policy, errors = parse_policy(load_yaml_text(text, f"{pid}.yaml"))
    assert policy is not None, errors
    return policy


@pytest.fixture
def pack() -> list[Policy]:
    a = make_policy(
        "MW-A-01",
        "max_readers: 5\nregions: [eu-west-1]",
        """
        all:
          - {field: reader_count, at_most: {param: max_readers}}
          - {field: region, in: {param: regions}}
        """,
    )
    b = make_policy(
        "MW-B-01",
        "max_readers: 10\nexpected: true\nnote: unused",
        """
        all:
          - {field: reader_count, at_most: {param: max_readers}}
          - {field: versioning, equals: {param: expected}}
        """,
    )
    return [a, b]


def params_of(policies: list[Policy]) -> dict[str, dict]:
    return {p.id: dict(p.params) for p in policies}


# --- parse_param_flag / from_flags / merge ----------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("MW-X.max_readers=3", ("MW-X", "max_readers", 3)),
        ("max_readers=3", (ALL, "max_readers", 3)),
        ("enabled=true", (ALL, "enabled", True)),
        ("enabled=false", (ALL, "enabled", False)),
        ("ratio=2.5", (ALL, "ratio", 2.5)),
        ("MW-X.regions=[eu-west-1, us-east-1]", ("MW-X", "regions", ["eu-west-1", "us-east-1"])),
        ("pattern=^team-", (ALL, "pattern", "^team-")),
        ("quoted='3'", (ALL, "quoted", "3")),
        ("empty=", (ALL, "empty", "")),
        ("eq=a=b", (ALL, "eq", "a=b")),
        ("MW.IAM.01.max=2", ("MW.IAM.01", "max", 2)),  # ids may hold dots; the name cannot
        ("broken=[1,", (ALL, "broken", "[1,")),  # not YAML: kept as text
    ],
)
def test_parse_param_flag(flag: str, expected: tuple) -> None:
    assert parse_param_flag(flag) == expected


@pytest.mark.parametrize("flag", ["max_readers", "=3", ""])
def test_parse_param_flag_refuses_non_key_value(flag: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_param_flag(flag)
    assert err.value.message == (
        f"--param {flag!r} is not KEY=VALUE (e.g. MW-IAM-01.max_readers=3)"
    )
    assert err.value.exit_code == EXIT_USAGE


def test_from_flags_groups_by_scope_and_the_last_flag_wins() -> None:
    flags = ["MW-A-01.max_readers=3", "max_readers=7", "MW-A-01.max_readers=4", "x=[1]"]
    assert from_flags(flags) == {
        "MW-A-01": {"max_readers": 4},
        ALL: {"max_readers": 7, "x": [1]},
    }


def test_merge_config_then_flags() -> None:
    config = {ALL: {"max_readers": 7, "other": 1}, "MW-A-01": {"max_readers": 3}}
    flags = {ALL: {"max_readers": 8}, "MW-B-01": {"max_readers": 9}}
    merged = merge(config, flags)
    # A flag beats the config whatever the scope: the global flag replaces MW-A-01's config value.
    assert merged == {
        ALL: {"max_readers": 8, "other": 1},
        "MW-B-01": {"max_readers": 9},
    }
    # Within one layer, the per-policy value beats the global one.
    assert merge({ALL: {"x": 1}, "MW-A-01": {"x": 2}}) == {ALL: {"x": 1}, "MW-A-01": {"x": 2}}
    # the layers themselves are not modified
    assert config[ALL] == {"max_readers": 7, "other": 1}
    assert merge() == {}


# --- apply ------------------------------------------------------------------------------------


def test_no_overrides_keeps_defaults_and_the_same_objects(pack: list[Policy]) -> None:
    out, changed = apply(pack, {})
    assert changed == {}
    assert all(o is p for o, p in zip(out, pack, strict=True))
    assert params_of(out) == {
        "MW-A-01": {"max_readers": 5, "regions": ["eu-west-1"]},
        "MW-B-01": {"max_readers": 10, "expected": True, "note": "unused"},
    }


def test_scoped_override(pack: list[Policy]) -> None:
    out, changed = apply(pack, {"MW-A-01": {"max_readers": 3}})
    assert params_of(out)["MW-A-01"]["max_readers"] == 3
    assert params_of(out)["MW-B-01"]["max_readers"] == 10
    assert out[1] is pack[1]
    assert changed == {"MW-A-01": {"max_readers": 3}}
    # the input policies are left alone
    assert pack[0].params["max_readers"] == 5


def test_global_override_reaches_every_declaring_policy(pack: list[Policy]) -> None:
    out, changed = apply(pack, {ALL: {"max_readers": 7}})
    assert [p.params["max_readers"] for p in out] == [7, 7]
    assert changed == {"MW-A-01": {"max_readers": 7}, "MW-B-01": {"max_readers": 7}}


def test_scoped_override_beats_global(pack: list[Policy]) -> None:
    out, changed = apply(pack, {ALL: {"max_readers": 7}, "MW-A-01": {"max_readers": 3}})
    assert [p.params["max_readers"] for p in out] == [3, 7]
    assert changed == {"MW-A-01": {"max_readers": 3}, "MW-B-01": {"max_readers": 7}}


def test_changed_lists_only_real_changes(pack: list[Policy]) -> None:
    out, changed = apply(pack, {ALL: {"max_readers": 10}, "MW-A-01": {"regions": ["eu-west-1"]}})
    assert changed == {"MW-A-01": {"max_readers": 10}}
    assert out[1] is pack[1]


def test_global_param_declared_by_only_some_policies(pack: list[Policy]) -> None:
    out, changed = apply(pack, {ALL: {"regions": ["us-east-1"]}})
    assert params_of(out)["MW-A-01"]["regions"] == ["us-east-1"]
    assert "regions" not in params_of(out)["MW-B-01"]
    assert changed == {"MW-A-01": {"regions": ["us-east-1"]}}


def test_unused_param_takes_any_value(pack: list[Policy]) -> None:
    out, _ = apply(pack, {"MW-B-01": {"note": 42}})
    assert out[1].params["note"] == 42


def test_unknown_policy_id(pack: list[Policy]) -> None:
    with pytest.raises(UsageError) as err:
        apply(pack, {"MW-Z-99": {"max_readers": 3}})
    assert err.value.message == "param override for unknown policy 'MW-Z-99'"
    assert err.value.exit_code == EXIT_USAGE


def test_undeclared_param_names_the_declared_ones(pack: list[Policy]) -> None:
    with pytest.raises(UsageError) as err:
        apply(pack, {"MW-A-01": {"max_reader": 3}})
    assert err.value.message == (
        "policy MW-A-01 has no param 'max_reader' (declared: max_readers, regions)"
    )


def test_undeclared_param_on_a_policy_without_params() -> None:
    bare = make_policy("MW-C-01", "{}", "{field: public, equals: false}")
    with pytest.raises(UsageError) as err:
        apply([bare], {"MW-C-01": {"x": 1}})
    assert err.value.message == "policy MW-C-01 has no param 'x' (declared: none)"


def test_global_param_no_policy_declares(pack: list[Policy]) -> None:
    with pytest.raises(UsageError) as err:
        apply(pack, {ALL: {"max_writers": 3}})
    assert err.value.message == "no loaded policy declares param 'max_writers'"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"MW-A-01": {"max_readers": "abc"}},
            "param MW-A-01.max_readers='abc': 'at_most' takes a number, got 'abc'",
        ),
        (
            {"MW-A-01": {"max_readers": True}},
            "param MW-A-01.max_readers=True: 'at_most' takes a number, got True",
        ),
        (
            {"MW-A-01": {"regions": "eu-west-1"}},
            "param MW-A-01.regions='eu-west-1': 'in' takes a list of values, got 'eu-west-1'",
        ),
        (
            {ALL: {"max_readers": "many"}},
            "param MW-A-01.max_readers='many': 'at_most' takes a number, got 'many'",
        ),
    ],
)
def test_wrong_type_for_the_operator(pack: list[Policy], overrides: dict, message: str) -> None:
    with pytest.raises(UsageError) as err:
        apply(pack, overrides)
    assert err.value.message == message


def test_param_feeding_two_operators_must_suit_both() -> None:
    policy = make_policy(
        "MW-D-01",
        "n: 2",
        """
        all:
          - {field: reader_count, at_least: {param: n}}
          - {field: readers, count_at_least: {param: n}}
        """,
    )
    assert apply([policy], {"MW-D-01": {"n": 3}})[0][0].params == {"n": 3}
    with pytest.raises(UsageError) as err:
        apply([policy], {"MW-D-01": {"n": 2.5}})
    assert err.value.message == (
        "param MW-D-01.n=2.5: 'count_at_least' takes a whole number ≥ 0, got 2.5"
    )


def test_flags_end_to_end_change_the_verdict(pack: list[Policy]) -> None:
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    bucket = Resource("s3://b", "storage", "b", "t", {"reader_count": 4, "region": "eu-west-1"})
    inventory = Inventory([bucket])
    [before] = evaluate_policy(pack[0], inventory, now)
    assert before.status == "pass"
    out, changed = apply(
        pack, merge({ALL: {"max_readers": 6}}, from_flags(["MW-A-01.max_readers=3"]))
    )
    assert changed["MW-A-01"] == {"max_readers": 3}
    [after] = evaluate_policy(out[0], inventory, now)
    assert (after.status, after.message) == (
        "fail",
        "b: `reader_count` is 4, more than the 3 allowed",
    )


def test_bool_override_of_a_number_default_is_applied() -> None:
    policy = make_policy("MW-E-01", "expected: 1", "{field: flag, equals: {param: expected}}")
    out, changed = apply([policy], {"MW-E-01": {"expected": True}})
    assert out[0].params["expected"] is True
    assert changed == {"MW-E-01": {"expected": True}}
