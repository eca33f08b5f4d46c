"""Command line: the top-level parser, dispatch to the command modules, errors to exit codes.

What each command does, and its arguments, live in its module in `scanner.commands`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from scanner import __version__
from scanner.commands import (
    bom,
    demo,
    diff,
    evidence,
    frameworks,
    logs,
    policies,
    report,
    scan,
    verify,
)
from scanner.commands.arguments import add_common
from scanner.commands.interface import Command
from scanner.errors import EXIT_SOURCE, EXIT_USAGE, ModelwardError

PROG = "modelward"

# In the order `modelward --help` lists them.
COMMANDS: tuple[Command, ...] = (
    scan,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Policy-as-code compliance scanner for machine-learning model IP protection.",
        epilog="Exit codes: 0 gate passed, 1 findings at or above the threshold, "
        "2 usage/config/policy error, 3 a source failed or a check could not be evaluated.",
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
