"""Argument groups several commands share, so that a flag reads the same in every command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from scanner.outputs.formats import FORMATS


def examples(*lines: str, notes: Sequence[str] = ()) -> str:
    """A command's help epilog: examples one per line, as typed (the parsers keep line breaks),
    then any notes."""
    out = "examples:\n" + "\n".join(f"  {line}" for line in lines)
    return out + "".join(f"\n\n{note}" for note in notes)


def format_list_help(default: str) -> str:
    return f"output formats, comma-separated: {', '.join(FORMATS)} (default: {default})"


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing but errors and, when the gate fails, why",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="more detail (and tracebacks)")


def add_policy_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--policies",
        action="append",
        default=[],
        metavar="DIR",
        help="a policy directory or file, evaluated in addition to the built-in pack "
        "(repeatable; with --no-builtin-policies, instead of it)",
    )
    p.add_argument(
        "--no-builtin-policies",
        action="store_true",
        help="do not load the built-in policy pack (only --policies, or the config's, are used)",
    )


def add_framework_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--framework-file",
        action="append",
        default=[],
        metavar="FILE",
        help="an extra framework mapping file (repeatable)",
    )
