"""The option parsing every cloud source shares (`sources.spec_options`), tested once here."""

from __future__ import annotations

import pytest

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import (
    flag,
    key_values,
    merged_options,
    positive,
    refuse_unknown,
    seconds,
    take_trust,
    text,
    text_list,
    with_config,
)

ALLOWED = frozenset({"a", "b", "items"})


def spec(target: str = "", **options: object) -> SourceSpec:
    return SourceSpec(kind="demo", target=target, name="demo", options=options)


def test_key_values_reads_pairs_and_passes_over_blank_parts() -> None:
    assert key_values(spec(), " a = 1 ,b=x+y,", "demo:a=1") == {"a": "1", "b": "x+y"}
    assert key_values(spec(), "", "demo:a=1") == {}


@pytest.mark.parametrize(
    ("target", "form", "message"),
    [
        ("a", None, r"expected KEY=VALUE options separated by commas \(e\.g\. demo:a=1\), got 'a'"),
        ("=1", None, "got '=1'"),
        ("a", "athena:KEY=VALUE,...", r"expected athena:KEY=VALUE,\.\.\. \(e\.g\. demo:a=1\)"),
        ("a=1,a=2", None, "option 'a' is given twice"),
    ],
)
def test_key_values_refuses_what_is_not_key_value(
    target: str, form: str | None, message: str
) -> None:
    kwargs = {"form": form} if form else {}
    with pytest.raises(UsageError, match=message) as raised:
        key_values(spec(target), target, "demo:a=1", **kwargs)
    assert str(raised.value).startswith(f"source 'demo:{target}': ")


def test_merged_options_joins_spec_and_config() -> None:
    assert merged_options(spec("a=1", b=[2]), ALLOWED, "demo:a=1") == {"a": "1", "b": [2]}


def test_an_option_in_both_places_or_unknown_is_refused() -> None:
    with pytest.raises(UsageError, match="option 'a' is given both in the spec and in config"):
        merged_options(spec("a=1", a=2), ALLOWED, "demo:a=1")
    with pytest.raises(UsageError, match=r"unknown option 'c', 'd' \(allowed: a, b, items\)"):
        with_config(spec(d=1), {"c": "x"}, ALLOWED)
    refuse_unknown(spec(), ["a", "b"], ALLOWED)  # known names pass


def test_take_trust_hands_over_the_configs_trust_and_refuses_a_written_one() -> None:
    policy = TrustPolicy()
    rest, trust = take_trust(spec(a=1, trust=policy))
    assert trust is policy and dict(rest.options) == {"a": 1}
    assert take_trust(spec())[1] == TrustPolicy()
    with pytest.raises(UsageError, match=r"trust must come from the config's integrity\.trust"):
        take_trust(spec(trust="release.pub"))


def test_text_list_takes_plus_or_a_list_and_keeps_repeats_once() -> None:
    assert text_list(spec(), "items", " x + y +x") == ("x", "y")
    assert text_list(spec(), "items", ["x", " ", "z"]) == ("x", "z")
    assert text_list(spec(), "items", [], allow_empty=True) == ()
    with pytest.raises(UsageError, match="items is empty"):
        text_list(spec(), "items", "+")
    with pytest.raises(UsageError, match=r"items must be a list of strings, got \[1\]"):
        text_list(spec(), "items", [1])


def test_scalars() -> None:
    assert text(spec(), "a", " x ") == "x"
    assert positive(spec(), "a", "12") == 12 and positive(spec(), "a", 3) == 3
    assert flag(spec(), "a", " TRUE") is True and flag(spec(), "a", False) is False
    with pytest.raises(UsageError, match="a must be a non-empty string"):
        text(spec(), "a", "  ")
    for bad in (0, True, "-1", 1.5):
        with pytest.raises(UsageError, match=f"a must be a positive integer, got {bad!r}"):
            positive(spec(), "a", bad)
    with pytest.raises(UsageError, match="a must be true or false, got 'yes'"):
        flag(spec(), "a", "yes")


def test_seconds() -> None:
    assert seconds(spec(), "timeout", "2.5") == 2.5 and seconds(spec(), "timeout", 3600) == 3600
    for bad in (0, -1, "soon", True, None, "nan", 3601):
        with pytest.raises(
            UsageError, match=f"timeout must be a number of seconds from 0 to 3600, got {bad!r}"
        ):
            seconds(spec(), "timeout", bad)
    assert seconds(spec(), "t", 90, most=120) == 90
