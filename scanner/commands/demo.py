"""`modelward demo`: a local estate (MLflow + emulated AWS), scanned end to end.

The estate itself (servers, seeding, the generated config) is `scanner.demo`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers

NAME = "demo"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    demo = subparsers.add_parser(
        NAME,
        help="start a local demo estate (MLflow + emulated AWS), scan it, write every output",
    )
    demo.add_argument("-o", "--output-dir", default="out/demo", metavar="DIR")
    common(demo)


def run(args: argparse.Namespace) -> int:
    from scanner.commands import scan
    from scanner.demo.runner import run_demo

    return run_demo(Path(args.output_dir), scan.run_with_config)
