"""What a newcomer meets first: each command's help (a description, the choices, examples that
run), a misspelt flag that names the right one, `report` to standard output, `policies show`."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from scanner.cli import build_parser
from scanner.outputs.formats import FORMATS
from scanner.outputs.registry import WRITERS
from tests.helpers import pickle_model, policy_pack, safe_model


def _commands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


COMMANDS = list(_commands(build_parser()))


@pytest.mark.parametrize("command", [c for c, _ in COMMANDS], ids=" ".join)
def test_every_command_has_a_description_and_examples_of_itself(cli, command):
    r = cli(*command, "--help")
    assert r.code == 0
    body = r.out.split("\n\n", 1)[1]  # after the usage block
    assert not body.startswith(("options:", "positional arguments:")), "no description"
    examples = r.out.split("examples:\n", 1)[1].split("\n\n")[0].splitlines()
    assert examples, f"{' '.join(command)} --help shows no example"
    for line in examples:
        assert _invocations(line)[0][: 1 + len(command)] == ["modelward", *command]


def _invocations(line: str) -> list[list[str]]:
    """The modelward commands of one example line, without comments, pipes and redirections."""
    lexer = shlex.shlex(line.split("  #")[0], posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if set(word) <= set("|&;<>"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c[:1] == ["modelward"]]


@pytest.mark.parametrize("command", [c for c, _ in COMMANDS], ids=" ".join)
def test_every_example_parses(command):
    """The examples use flags and choices the commands have: argparse accepts each one."""
    parser = build_parser()
    help_text = dict(COMMANDS)[command].format_help()
    for line in help_text.split("examples:\n", 1)[1].split("\n\n")[0].splitlines():
        for words in _invocations(line):
            if "--help" not in words:
                parser.parse_args(words[1:])  # SystemExit (exit 2) on an unknown flag or choice


def test_scan_help_lists_the_formats_and_says_policies_add_to_the_pack(cli):
    r = cli("scan", "--help")
    flat = " ".join(r.out.split())
    assert f"comma-separated: {', '.join(FORMATS)}" in flat
    assert "in addition to the built-in pack" in flat
    assert "--no-builtin-policies" in flat and "instead of it" in flat
    assert "{critical,high,medium,low,info,none}" in flat  # --fail-on's choices


def test_the_format_names_are_the_writers():
    assert tuple(WRITERS) == FORMATS


def test_help_keeps_example_lines_whole_and_fills_prose(cli):
    r = cli("scan", "--help")
    long_example = next(line for line in r.out.splitlines() if "--format html,md,sarif" in line)
    assert long_example.startswith("  modelward scan --source path:./models --source")
    prose = r.out.split("\n\n")[1].splitlines()
    assert len(prose) > 1 and all(len(line) <= 100 for line in prose)


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("scan", "--sorce", "path:."), "unknown option --sorce; did you mean --source?"),
        (("scan", "--fail-onn=high"), "unknown option --fail-onn; did you mean --fail-on?"),
        (("report", "r.json", "--fromat", "md"), "unknown option --fromat; did you mean --format?"),
        (("policies", "list", "--jsn"), "unknown option --jsn; did you mean --json?"),
        (("scan", "--zzzzzz"), "unknown option --zzzzzz (see modelward scan --help)"),
    ],
)
def test_a_misspelt_flag_names_the_right_one(cli, args, suggestion):
    r = cli(*args)
    assert r.code == 2
    prog = "modelward policies list" if args[0] == "policies" else f"modelward {args[0]}"
    assert r.err.splitlines()[-1] == f"{prog}: error: {suggestion}"


@pytest.fixture
def scanned(cli, tmp_path: Path) -> Path:
    safe_model(tmp_path / "models", "clean")
    pickle_model(tmp_path / "models", "legacy")
    out = tmp_path / "out"
    r = cli(
        "scan",
        "-q",
        "--source",
        f"path:{tmp_path / 'models'}",
        "--no-builtin-policies",
        "--policies",
        str(policy_pack(tmp_path / "pack")),
        "-o",
        str(out),
    )
    assert r.code in (0, 1), r.err
    return out / "results.json"


@pytest.mark.parametrize("output", [None, "-"])
def test_report_writes_one_format_to_stdout(cli, scanned, tmp_path, output, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("report", str(scanned), "--format", "md", *(["-o", output] if output else []))
    assert r.code == 0, r.err
    assert r.out.startswith("## modelward: gate failed")
    assert r.err == ""
    assert not (tmp_path / "-").exists()
    r = cli("report", str(scanned), "--format", "json")
    assert json.loads(r.out)["summary"]["total"] > 0


def test_report_of_several_formats_needs_a_directory(cli, scanned, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("report", str(scanned), "--format", "md,html", "-o", "-")
    assert r.code == 2
    assert r.err.strip() == (
        "modelward: error: 2 formats need a directory to write them into: give -o DIR "
        "(standard output takes one format)"
    )
    assert not (tmp_path / "-").exists() and r.out == ""
    r = cli("report", str(scanned), "--format", "md,html", "-o", str(tmp_path / "r"))
    assert r.code == 0
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["report.html", "report.md"]


def test_policies_show_prints_snippets_as_the_file_has_them(cli):
    r = cli("policies", "show", "MW-STO-01")
    assert r.code == 0
    assert "\\n" not in r.out
    # the AWS steps sit under remediation.providers.aws
    assert '      terraform: |-\n        resource "aws_s3_bucket_public_access_block"' in r.out
    shown = yaml.safe_load(r.out)
    source = yaml.safe_load(Path(r.out.splitlines()[0].removeprefix("# ")).read_text())
    assert shown == source
