"""`modelward report`: render outputs from a results.json, without scanning again."""

from __future__ import annotations

import argparse

from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_OK

NAME = "report"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    rep = subparsers.add_parser(NAME, help="render outputs from a results.json (no rescanning)")
    rep.add_argument("results", metavar="RESULTS.json")
    rep.add_argument("--format", default="json", metavar="LIST", help="comma-separated formats")
    rep.add_argument("-o", "--output-dir", required=True, metavar="DIR")
    rep.add_argument(
        "--bom-with-findings",
        action="store_true",
        help="in the cyclonedx output, attach failing findings about models as vulnerabilities",
    )
    common(rep)


def run(args: argparse.Namespace) -> int:
    from scanner import results
    from scanner.commands.documents import bom_options, render_all
    from scanner.outputs.interface import prepare_output_dir
    from scanner.outputs.registry import parse_formats

    formats = parse_formats(args.format)
    document = results.load(args.results)
    out_dir = prepare_output_dir(args.output_dir)
    for path in render_all(out_dir, formats, document, bom_options(args.bom_with_findings)):
        if not args.quiet:
            print(f"wrote {path}")
    return EXIT_OK
