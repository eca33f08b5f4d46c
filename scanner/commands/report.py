"""`modelward report`: render outputs from a results.json, without scanning again."""

from __future__ import annotations

import argparse

from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_OK, InputFileError, UsageError

NAME = "report"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    rep = subparsers.add_parser(NAME, help="render outputs from a results.json (no rescanning)")
    rep.add_argument("results", metavar="RESULTS.json")
    rep.add_argument("--format", default="json", metavar="LIST", help="comma-separated formats")
    rep.add_argument("-o", "--output-dir", metavar="DIR", help="write the outputs here")
    rep.add_argument(
        "--check",
        action="store_true",
        help="check that the files beside RESULTS.json are the ones it was written with (a "
        "run killed while writing leaves a mixed set): exit 2 naming the others",
    )
    rep.add_argument(
        "--bom-with-findings",
        action="store_true",
        help="in the cyclonedx output, attach failing findings about models as vulnerabilities",
    )
    common(rep)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from scanner import results
    from scanner.commands.documents import bom_options, render_all
    from scanner.outputs.interface import mismatched_outputs, prepare_output_dir
    from scanner.outputs.registry import parse_formats

    if not args.output_dir and not args.check:
        raise UsageError("report needs an output directory (-o DIR), or --check")
    formats = parse_formats(args.format)
    document = results.load(args.results)
    if args.check:
        index = Path(args.results)
        mixed = mismatched_outputs(index.parent, index.name)
        if mixed:
            summary = f"{index}: the files beside it are not the set it was written with"
            raise InputFileError(summary, details=[summary, *mixed])
        if not args.quiet:
            listed = len(document["scan"].get("outputs", []))
            print(f"{index}: consistent with the {listed} other file(s) it was written with")
        if not args.output_dir:
            return EXIT_OK
    out_dir = prepare_output_dir(args.output_dir)
    for path in render_all(out_dir, formats, document, bom_options(args.bom_with_findings)):
        if not args.quiet:
            print(f"wrote {path}")
    return EXIT_OK
