"""Property tests: `load_yaml_text` on hostile text never crashes and never loses positions.

Contract (scanner/yamlpos.py, DESIGN.md "Safe with hostile input"): for *any* text the loader
either returns a `LoadedYaml` or raises `InputFileError` whose message is one line of the form
`FILE:LINE:COL: message`. Any other exception would escape the CLI's error handling as a
traceback instead of an exit-2 message.

Known bugs are pinned by the strict-xfail tests at the bottom. While they stand, the property
tests recognise exactly those failures (see `_known_bug`) so that they keep guarding against
new ones; when a bug is fixed its xfail turns into XPASS (strict: a failure), and the fixer
removes that xfail and its entry in `_known_bug`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.errors import EXIT_USAGE, InputFileError
from scanner.yamlpos import MAX_DEPTH, LoadedYaml, load_yaml_text

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAME = "f.yaml"
MESSAGE_RE = re.compile(r"f\.yaml:([1-9][0-9]*):([1-9][0-9]*): \S")
# What YAML (and the loader's own position arithmetic) counts as a line break.
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

# Fragments that steer random text into the parser's interesting corners: flow and block
# collections, anchors/aliases, merge keys, explicit keys, every standard tag (and Python ones
# a non-safe loader would execute), document markers, directives, odd line breaks and BOMs.
TOKENS = [
    "- ",
    ": ",
    "? ",
    ", ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "&b ",
    "*a",
    "*b",
    "<<: ",
    "<<",
    "#",
    "'",
    '"',
    "|",
    ">",
    "|-",
    ">+",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "\n",
    "\n  ",
    "\n- ",
    "  ",
    "\t",
    "\r",
    "\r\n",
    "\x00",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\x1b[31m",
    "\x7f",
    "\ud7ff",
    "\U0001f600",
    "\\",
    "\\x",
    "\\u12",
    "\\N",
    "!!python/object:os.system ",
    "!!python/object/apply:os.system ",
    "!!python/name:os.system ",
    "!!str ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!null ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!pairs ",
    "!!map ",
    "!!seq ",
    "!!merge ",
    "!!value ",
    "!foo ",
    "!<tag:yaml.org,2002:int> ",
    "!<!> ",
    "! ",
    "a",
    "b",
    "key",
    "1",
    "-1",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1:30",
    "1e400",
    ".inf",
    "-.inf",
    ".nan",
    "~",
    "null",
    "true",
    "yes",
    "off",
    "2025-03-01",
    "2025-13-01",
    "2025-02-30",
    "2001-12-14t21:59:43.10-05:00",
    "0x",
    "_",
    "''",
    '""',
    "9" * 30,
]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=25).map("".join),
)


# Around MAX_DEPTH, and beyond what PyYAML's recursive composer survives (flow `[` is scanned
# in quadratic time, so it stops at 1000 to keep the suite fast).
DEEP_CASES = [
    *(("[" * n + "]" * n) for n in (1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1000)),
    *(("{a: " * n + "}" * n) for n in (1, MAX_DEPTH, MAX_DEPTH + 1, 5000)),
    *(("- " * n + "x") for n in (MAX_DEPTH, MAX_DEPTH + 1, 5000)),
    *(
        "".join(f"{' ' * i}k{i}:\n" for i in range(n)) + " " * n + "x"
        for n in (MAX_DEPTH, MAX_DEPTH + 1, 400)
    ),
    "&a [*a]",
    "&a {k: *a}",
]


def check_outcome(text: str) -> LoadedYaml | None:
    """Run the loader; assert the contract; the LoadedYaml on success, None on a clean error."""
    try:
        loaded = load_yaml_text(text, NAME)
    except InputFileError as exc:
        assert exc.exit_code == EXIT_USAGE
        match = MESSAGE_RE.match(exc.message)
        assert match, f"not FILE:LINE:COL: message: {exc.message!r}"
        assert exc.message.splitlines() == [exc.message], f"multi-line: {exc.message!r}"
        line = int(match.group(1))
        assert line <= len(LINE_BREAKS.split(text)), (exc.message, text)
        return None
    except Exception as exc:  # the property: nothing else may escape
        raise AssertionError(f"{type(exc).__name__} escaped load_yaml_text({text!r})") from exc
    assert isinstance(loaded, LoadedYaml)
    assert loaded.path == NAME
    check_positions(loaded, text)
    return loaded


def json_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(json_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(json_paths(item, (*path, index)))
    return out


def check_positions(loaded: LoadedYaml, text: str) -> None:
    lines = LINE_BREAKS.split(text)
    for path, pos in loaded.positions.items():
        assert 1 <= pos.line <= len(lines), (path, pos, len(lines))
        assert pos.column >= 1, (path, pos)
    if loaded.data is not None:
        for path in json_paths(loaded.data):
            assert path in loaded.positions, f"no position for {path!r}"


# --- hostile text -----------------------------------------------------------------------------


@SETTINGS
@given(hostile_text)
@example("a: !!python/object/apply:os.system ['echo pwned']")
@example("\ufeffa: 1\x85b: 2")
@example("a: \x00")
@example("&a [*a]")
@example("a: &x {b: *x}")
@example("? [a]\n: 1")
@example("a: 1\na: 2")
@example("a:\n\tb: 1")
def test_any_text_loads_or_fails_with_one_positioned_line(text: str) -> None:
    check_outcome(text)


@pytest.mark.parametrize("text", DEEP_CASES, ids=lambda t: f"{t[:6]!r}x{len(t)}")
def test_deep_nesting_is_refused_cleanly(text: str) -> None:
    loaded = check_outcome(text)
    if loaded is not None:
        assert max(len(p) for p in loaded.positions) <= MAX_DEPTH


# --- round trip of generated documents --------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))])),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN and True is not 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@SETTINGS
@given(documents, st.booleans(), st.booleans(), st.sampled_from([None, 2, 4]))
def test_safe_dump_round_trips_with_positions(
    doc: Any, flow: bool, unicode: bool, indent: int | None
) -> None:
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=unicode, indent=indent)
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:  # PyYAML cannot read its own output: we must refuse it cleanly too
        with pytest.raises(InputFileError):
            load_yaml_text(text, NAME)
        return
    loaded = check_outcome(text)
    assert loaded is not None, text
    assert same(loaded.data, expected), (loaded.data, expected)


# --- pinned bugs (owner: scanner/yamlpos.py) --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["a: !!int ''", "a: !!float ''", "a: !!bool foo", "a: !!timestamp foo", "? !!int _\n: 1"],
)
def test_bad_tagged_scalar_is_an_input_error(text: str) -> None:
    with pytest.raises(InputFileError, match=r"^f\.yaml:1:\d+: "):
        load_yaml_text(text, NAME)


@pytest.mark.parametrize("text", ["<<: 1", "a: {<<: [1]}", "? !!merge x\n: 1"])
def test_merge_of_non_mapping_is_an_input_error(text: str) -> None:
    with pytest.raises(InputFileError, match=r"^f\.yaml:\d+:\d+: "):
        load_yaml_text(text, NAME)


@pytest.mark.parametrize(
    "text",
    ['"a\\nb": 1\n"a\\nb": 2', '"a\\nf.yaml:9:9: ok": 2025-13-01', '"a\\u2028b": !!int 0x'],
)
def test_error_message_is_one_line(text: str) -> None:
    with pytest.raises(InputFileError) as err:
        load_yaml_text(text, NAME)
    assert err.value.message.splitlines() == [err.value.message]


def test_aliased_mapping_with_merge_override_loads() -> None:
    text = "base: &b {x: 1}\nm: &m\n  <<: *b\n  x: 2\na: *m\n"
    assert load_yaml_text(text, NAME).data == yaml.safe_load(text)


def test_deeply_nested_file_is_refused_quickly() -> None:
    text = ("- " + "[" * 450 + "]" * 450 + "\n") * 16  # 14 KB
    started = time.perf_counter()
    with pytest.raises(InputFileError, match="nest"):
        load_yaml_text(text, NAME)
    assert time.perf_counter() - started < 0.5
