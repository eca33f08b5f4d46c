"""Command line: the top-level parser, dispatch to the command modules, errors to exit codes.

What each command does, and its arguments, live in its module in `scanner.commands`.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from scanner import __version__
from scanner.commands import (
    bom,
    demo,
    diff,
    evidence,
    frameworks,
    init,
    logs,
    merge,
    policies,
    report,
    scan,
    verify,
)
from scanner.commands.arguments import add_common, examples
from scanner.commands.interface import Command
from scanner.errors import EXIT_SOURCE, EXIT_USAGE, ModelwardError

PROG = "modelward"

# In the order `modelward --help` lists them.
COMMANDS: tuple[Command, ...] = (
    scan,
    merge,
    init,
    policies,
    frameworks,
    report,
    bom,
    verify,
    evidence,
    logs,
    diff,
    demo,
)
RUN: dict[str, Callable[[argparse.Namespace], int]] = {c.NAME: c.run for c in COMMANDS}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs filled paragraph by paragraph (paragraphs are separated by a
    blank line), except paragraphs with lines indented by two spaces: examples, kept as typed
    so they can be copied (argparse either fills everything or nothing)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith("  ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


class Parser(argparse.ArgumentParser):
    """Every parser of the command line (the commands' parsers are made by this class too,
    through `add_subparsers`): help keeps the line breaks of each command's examples, and an
    unknown flag names the flag that was probably meant.

    argparse reports an unknown flag from the top-level parser, which knows nothing of the
    command's flags, and suggests nothing before Python 3.14; the parser of the command that
    received it knows its flags, so it reports it, with the closest one (difflib).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        flags = [e for e in extras if e.startswith("-") and e != "-"]
        if flags:
            self.unknown_flag(flags[0])
        return parsed, extras

    def unknown_flag(self, given: str) -> NoReturn:
        name = given.partition("=")[0]
        known = [o for o in self._option_string_actions if o.startswith("--")]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else f" (see {self.prog} --help)"
        self.error(f"unknown option {name}{hint}")


def build_parser() -> argparse.ArgumentParser:
    # Typed as the base class: the commands' `add_parser` take argparse's subparsers action.
    parser: argparse.ArgumentParser = Parser(
        prog=PROG,
        description="Policy-as-code compliance scanner for machine-learning model IP protection.",
        epilog=examples(
            "modelward demo                      # a local estate, scanned end to end",
            "modelward init                      # a starter modelward.yaml for this machine",
            "modelward scan --source path:./models -o out --format html",
            notes=(
                "Exit codes: 0 gate passed, 1 findings at or above the threshold, 2 usage, "
                "config or policy error, 3 a source failed or a check could not be evaluated.",
                "Help on a command: modelward COMMAND --help",
            ),
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers, add_common)
    return parser


def _print_error(exc: ModelwardError, verbose: bool) -> None:
    print(f"{PROG}: error: {exc.message}", file=sys.stderr)
    for line in exc.details[1:] if len(exc.details) > 1 else ():
        print(f"  {line}", file=sys.stderr)
    if verbose and exc.__cause__ is not None:
        traceback.print_exception(exc.__cause__, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbose = getattr(args, "verbose", False)
    try:
        return _dispatch(args)
    except ModelwardError as exc:
        _print_error(exc, verbose)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # fail closed with something actionable, never a silent 0
        # One line, bounded: an exception's text can quote whatever a server answered.
        text = " ".join(str(exc).split())
        text = text if len(text) <= 300 else text[:299] + "…"
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {text} (re-run with -v for the "
            f"traceback, and please report it)",
            file=sys.stderr,
        )
        if verbose:
            traceback.print_exc()
        return EXIT_SOURCE


def _dispatch(args: argparse.Namespace) -> int:
    # argparse accepts only the names of COMMANDS, and each has its `run` in RUN
    return RUN[args.command](args)
