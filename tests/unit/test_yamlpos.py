"""yamlpos: safe YAML with a position for every value, and one-line errors at FILE:LINE:COL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.errors import EXIT_USAGE, InputFileError
from scanner.yamlpos import (
    MAX_NODES,
    LoadedYaml,
    Position,
    display_path,
    load_yaml_file,
    load_yaml_text,
    read_text,
)
from tests.helpers import REPO, UNPRIVILEGED

DOC = """\
id: MW-1
check:
  all:
    - field: a
      equals: 1
    - {field: b, exists: true}
tags: [x, y]
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def error_of(text: str, name: str = "f.yaml") -> str:
    with pytest.raises(InputFileError) as err:
        load_yaml_text(text, name)
    assert err.value.exit_code == EXIT_USAGE
    return err.value.message


# --- positions --------------------------------------------------------------------------------


def test_data_is_plain() -> None:
    loaded = load_yaml_text(DOC, "p.yaml")
    assert loaded.data == {
        "id": "MW-1",
        "check": {"all": [{"field": "a", "equals": 1}, {"field": "b", "exists": True}]},
        "tags": ["x", "y"],
    }
    assert loaded.path == "p.yaml"


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 1, 1),
        (("id",), 1, 1),
        (("check",), 2, 1),
        (("check", "all"), 3, 3),
        (("check", "all", 0), 4, 7),
        (("check", "all", 0, "field"), 4, 7),
        (("check", "all", 0, "equals"), 5, 7),
        (("check", "all", 1), 6, 7),
        (("check", "all", 1, "field"), 6, 8),
        (("check", "all", 1, "exists"), 6, 18),
        (("tags",), 7, 1),
        (("tags", 0), 7, 8),
        (("tags", 1), 7, 11),
    ],
)
def test_positions_of_keys_and_list_items(path: tuple, line: int, column: int) -> None:
    loaded = load_yaml_text(DOC, "p.yaml")
    assert loaded.positions[path] == Position(line, column)
    assert loaded.where(path) == Position(line, column)


def test_where_falls_back_to_the_deepest_known_prefix() -> None:
    loaded = load_yaml_text(DOC, "p.yaml")
    assert loaded.where(("check", "all", 0, "nope", "deeper")) == Position(4, 7)
    assert loaded.where(("tags", 5)) == Position(7, 1)
    assert loaded.where(("nope",)) == Position(1, 1)
    assert loaded.error_line(["check", "all", 1, "exists"], "bad") == "p.yaml:6:18: bad"


def test_root_position_is_the_first_node_not_line_one() -> None:
    loaded = load_yaml_text("# comment\n\n  a: 1\n  b: 2\n", "p.yaml")
    assert loaded.where(()) == Position(3, 3)
    assert loaded.where(("b",)) == Position(4, 3)


def test_empty_document() -> None:
    for text in ("", "# only a comment\n"):
        loaded = load_yaml_text(text, "e.yaml")
        assert loaded.data is None
        assert loaded.where(("x",)) == Position(1, 1)
        assert loaded.error_line((), "empty") == "e.yaml:1:1: empty"
    # an explicit empty document is a null node after the marker
    loaded = load_yaml_text("---\n", "e.yaml")
    assert loaded.data is None
    assert loaded.where(()) == Position(2, 1)


def test_crlf_and_bom() -> None:
    loaded = load_yaml_text("\ufeffa: 1\r\nb:\r\n  c: 2\r\n", "w.yaml")
    assert loaded.data == {"a": 1, "b": {"c": 2}}
    assert loaded.where(("b", "c")) == Position(3, 3)


def test_scalar_types_and_keys() -> None:
    loaded = load_yaml_text("1: one\ntrue: yes\nd: 2025-03-01\nq: '2025-03-01'\nn: ~\n", "k.yaml")
    assert loaded.data == {
        "1": "one",
        "True": True,
        "d": dt.date(2025, 3, 1),
        "q": "2025-03-01",
        "n": None,
    }


def test_merge_keys_without_override() -> None:
    loaded = load_yaml_text("base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n", "m.yaml")
    assert loaded.data["x"] == {"a": 1, "c": 2}


def test_merge_key_override_is_not_a_duplicate() -> None:
    loaded = load_yaml_text("base: &b {a: 1}\nx:\n  <<: *b\n  a: 2\n", "m.yaml")
    assert loaded.data["x"] == {"a": 2}


# --- errors with positions --------------------------------------------------------------------


def test_duplicate_key_position() -> None:
    assert error_of("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n") == "f.yaml:5:3: duplicate key 'c'"
    assert error_of("- {x: 1, y: 2, x: 3}\n") == "f.yaml:1:16: duplicate key 'x'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: 1\nb: [1, 2\nc: 3\n",
            "f.yaml:3:2: YAML syntax error: expected ',' or ']', but got ':'",
        ),
        ("a: 1\n  b: 2\n", "f.yaml:2:4: YAML syntax error: mapping values are not allowed here"),
        (
            "a:\n\tb: 1\n",
            "f.yaml:2:1: YAML syntax error: found character '\\t' that cannot start any token",
        ),
        ("a: 'open\n", "f.yaml:2:1: YAML syntax error: found unexpected end of stream"),
        ("a: *nowhere\n", "f.yaml:1:4: YAML syntax error: found undefined alias 'nowhere'"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1: YAML syntax error: but found another document"),
    ],
)
def test_syntax_error_positions(text: str, message: str) -> None:
    assert error_of(text) == message


@pytest.mark.parametrize(
    ("text", "line", "column", "code"),
    [
        ("a: 1\nb: x\x07y\n", 2, 5, "0007"),
        ("a: é\x01\n", 1, 5, "0001"),  # columns count characters, not bytes
        ("a: 1\r\nb:\r\n  c: x\x1b\r\n", 3, 7, "001b"),
        ("x: |\n  ok\n  b\x7f\n", 3, 4, "007f"),
    ],
)
def test_control_character_position(text: str, line: int, column: int, code: str) -> None:
    assert error_of(text) == (
        f"f.yaml:{line}:{column}: YAML syntax error: unacceptable character #x{code}: "
        "special characters are not allowed"
    )


def test_escaped_control_character_in_quotes_is_fine() -> None:
    assert load_yaml_text('k: "a\\x07b"\n', "f.yaml").data == {"k": "a\x07b"}


def test_control_character_position_with_cr_line_breaks() -> None:
    assert error_of("a: 1\rb: x\x07\r").startswith("f.yaml:2:5: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "k:\n  date: 2025-13-01\n",
            "f.yaml:2:3: date: '2025-13-01' is not a valid date (month must be in 1..12)",
        ),
        (
            "expires: 2025-02-30\n",
            "f.yaml:1:1: expires: '2025-02-30' is not a valid date (day is out of range for month)",
        ),
        (
            "dates:\n  - 2025-01-01\n  - 2025-13-01\n",
            "f.yaml:3:5: '2025-13-01' is not a valid date (month must be in 1..12)",
        ),
        (
            "n: !!int abc\n",
            "f.yaml:1:1: n: 'abc' is not a valid value (invalid literal for int() with base 10: "
            "'abc')",
        ),
    ],
)
def test_impossible_values_are_reported_at_their_key(text: str, message: str) -> None:
    assert error_of(text) == message


def test_quoted_impossible_date_is_just_text() -> None:
    assert load_yaml_text("date: '2025-13-01'\n", "f.yaml").data == {"date": "2025-13-01"}


def test_unsafe_tags_are_refused() -> None:
    assert error_of("a: !!python/name:os.system ''\n") == (
        "f.yaml:1:4: cannot read value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'"
    )


def test_non_scalar_keys_are_refused() -> None:
    assert error_of("b: 1\n~: a\n") == "f.yaml:2:1: mapping keys must be plain scalars"
    assert error_of("? [a, b]\n: 1\n") == "f.yaml:1:3: mapping keys must be plain scalars"


@pytest.mark.parametrize(
    "text", ["ok: 1\n2025-13-01: x\n", "ok: 1\n? !!python/object:os.system x\n: 1\n"]
)
def test_bad_keys_are_input_errors(text: str) -> None:
    assert error_of(text).startswith("f.yaml:2:")


def test_deep_nesting_is_an_input_error() -> None:
    try:
        message = error_of("[" * 1000 + "]" * 1000)
    except RecursionError:
        pytest.fail("RecursionError escaped from load_yaml_text")
    assert message.startswith("f.yaml:")


def test_alias_bomb_is_refused_before_it_expands() -> None:
    """10**9 values if expanded: refused at MAX_NODES instead (a hang would hit the suite's
    per-test timeout; speed itself is measured in benchmarks, not asserted here)."""
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    message = error_of("\n".join(lines) + "\n", "bomb.yaml")
    assert message.startswith("bomb.yaml:")
    assert message.endswith(f"document expands to more than {MAX_NODES} values (alias bomb?)")


def test_small_aliases_are_expanded() -> None:
    loaded = load_yaml_text("a: &x [1, 2]\nb: *x\n", "f.yaml")
    assert loaded.data == {"a": [1, 2], "b": [1, 2]}


# --- files ------------------------------------------------------------------------------------


def test_load_yaml_file_shows_the_path_relative_to_cwd(tmp_path: Path) -> None:
    Path("sub").mkdir()
    Path("sub/p.yaml").write_text("a: 1\na: 2\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        load_yaml_file(tmp_path / "sub" / "p.yaml")
    assert err.value.message == "sub/p.yaml:2:1: duplicate key 'a'"


def test_display_path(tmp_path: Path) -> None:
    assert display_path(tmp_path / "a" / "b.yaml") == os.path.join("a", "b.yaml")
    assert display_path("/definitely/elsewhere.yaml") == "/definitely/elsewhere.yaml"


def test_missing_file() -> None:
    with pytest.raises(InputFileError) as err:
        load_yaml_file("nope.yaml", what="config file")
    assert err.value.message == "nope.yaml: config file not found"


def test_directory_instead_of_a_file() -> None:
    Path("d").mkdir()
    with pytest.raises(InputFileError) as err:
        load_yaml_file("d", what="policy file")
    assert err.value.message == "d: policy file is a directory, expected a file"


def test_unreadable_file() -> None:
    """Root reads through file modes, so the read runs in a child without that capability."""
    Path("secret.yaml").write_text("a: 1\n", encoding="utf-8")
    Path("secret.yaml").chmod(0)
    code = (
        "from scanner.yamlpos import load_yaml_file\n"
        "from scanner.errors import InputFileError\n"
        "try:\n    load_yaml_file('secret.yaml')\n"
        "except InputFileError as e:\n    print(e.message)\n"
    )
    prefix = UNPRIVILEGED if os.geteuid() == 0 else []
    out = subprocess.run(
        [*prefix, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    ).stdout
    assert out.strip() == "secret.yaml: file is not readable (permission denied)"


def test_non_utf8_file() -> None:
    Path("latin1.yaml").write_bytes(b"owner: caf\xe9\n")
    with pytest.raises(InputFileError) as err:
        load_yaml_file("latin1.yaml", what="attestations file")
    assert err.value.message == "latin1.yaml: attestations file is not UTF-8 text (byte 10)"


def test_oversized_file() -> None:
    Path("big.yaml").write_text("a: " + "x" * 200 + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        load_yaml_file("big.yaml", max_bytes=100)
    assert err.value.message == "big.yaml: file is larger than 100 bytes; refusing to parse it"
    Path("fits.yaml").write_text("a: " + "x" * 96 + "\n", encoding="utf-8")  # exactly 100 bytes
    assert load_yaml_file("fits.yaml", max_bytes=100).data == {"a": "x" * 96}
    assert read_text("fits.yaml", what="file", max_bytes=100) == "a: " + "x" * 96 + "\n"


def test_load_yaml_file_returns_positions() -> None:
    Path("p.yaml").write_text(DOC, encoding="utf-8")
    loaded = load_yaml_file("p.yaml")
    assert isinstance(loaded, LoadedYaml)
    assert loaded.error_line(("tags", 1), "bad tag") == "p.yaml:7:11: bad tag"
