"""Argument groups several commands share, so that a flag reads the same in every command."""

from __future__ import annotations

import argparse


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
        help="extra policy directory or file (repeatable)",
    )
    p.add_argument(
        "--no-builtin-policies", action="store_true", help="do not load the built-in policy pack"
    )


def add_framework_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--framework-file",
        action="append",
        default=[],
        metavar="FILE",
        help="an extra framework mapping file (repeatable)",
    )
