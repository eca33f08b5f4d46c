"""`modelward report`: render outputs from a results.json, without scanning again."""

from __future__ import annotations

import argparse
import sys

from scanner.commands.arguments import examples, format_list_help
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_OK, InputFileError, UsageError

NAME = "report"
STDOUT = "-"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    rep = subparsers.add_parser(
        NAME,
        help="render outputs from a results.json (no rescanning)",
        description="Render a results.json that scan wrote into other formats, without "
        "contacting any source: the HTML gap report for a meeting, Markdown for a pull "
        "request, SARIF for code scanning. The output is the same as scan's would have been. "
        "One format without -o (or with -o -) goes to standard output; several go to files "
        "in a directory.",
        epilog=examples(
            "modelward report out/results.json --format md",
            "modelward report out/results.json --format html,md,csv -o out/reports",
            "modelward report out/results.json --format sarif -o - > results.sarif",
        ),
    )
    rep.add_argument("results", metavar="RESULTS.json", help="a results.json written by scan")
    rep.add_argument("--format", default="json", metavar="LIST", help=format_list_help("json"))
    rep.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="the directory to write the files into; - or none: standard output (one format)",
    )
    rep.add_argument(
        "--check",
        action="store_true",
        help="check that the files beside RESULTS.json are the ones it was written with (a "
        "run killed while writing leaves a mixed set): exit 2 naming the others; without -o, "
        "only check",
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
    from scanner.commands.documents import bom_options, render_all, render_one
    from scanner.outputs.interface import mismatched_outputs, prepare_output_dir
    from scanner.outputs.registry import parse_formats

    formats = parse_formats(args.format)
    to_stdout = args.output_dir in (None, STDOUT)
    if to_stdout and len(formats) > 1:
        raise UsageError(
            f"{len(formats)} formats need a directory to write them into: give -o DIR "
            f"(standard output takes one format)"
        )
    document = results.load(args.results)
    if args.check:
        index = Path(args.results)
        mixed = mismatched_outputs(index.parent, index.name)
        if mixed:
            summary = f"{index}: the files beside it are not the set it was written with"
            raise InputFileError(summary, details=[summary, *mixed])
        if args.output_dir is None:
            if not args.quiet:
                listed = len(document["scan"].get("outputs", []))
                print(f"{index}: consistent with the {listed} other file(s) it was written with")
            return EXIT_OK
    options = bom_options(args.bom_with_findings)
    if to_stdout:
        for piece in render_one(formats[0], document, options):
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
        return EXIT_OK
    out_dir = prepare_output_dir(args.output_dir)
    for path in render_all(out_dir, formats, document, options):
        if not args.quiet:
            print(f"wrote {path}")
    return EXIT_OK
