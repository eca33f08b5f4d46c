"""`modelward diff OLD NEW`: new, fixed and still-failing findings between two results files."""

from __future__ import annotations

import argparse
import sys

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_FINDINGS, EXIT_OK
from scanner.gate import FAIL_ON_CHOICES

NAME = "diff"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    dif = subparsers.add_parser(
        NAME,
        help="compare two results files: new, fixed and still-failing findings",
        description="Compare two results files. Findings are matched by policy id and "
        "resource id. Exits 0, or 1 with --fail-on-new when a new failing finding appears.",
        epilog=examples(
            "modelward diff last-week/results.json out/results.json",
            "modelward diff main/results.json out/results.json --format md >> $GITHUB_STEP_SUMMARY",
            "modelward diff main/results.json out/results.json --fail-on-new high",
        ),
    )
    dif.add_argument("old", metavar="OLD.json")
    dif.add_argument("new", metavar="NEW.json")
    dif.add_argument(
        "--format",
        choices=("text", "md", "json"),
        default="text",
        help="text (default), md (for a pull request) or json (see the diff schema)",
    )
    dif.add_argument(
        "--fail-on-new",
        nargs="?",
        const="info",
        choices=[c for c in FAIL_ON_CHOICES if c != "none"],
        metavar="SEVERITY",
        help="exit 1 when a finding fails (or cannot be evaluated) in NEW that did not in OLD; "
        "with SEVERITY, only at or above it (default: any severity)",
    )
    common(dif)


def run(args: argparse.Namespace) -> int:
    from scanner import diff as diffing
    from scanner import results
    from scanner.commands.printing import dump_json
    from scanner.outputs import diff_render

    old = results.load(args.old)
    new = results.load(args.new)
    document = diffing.diff(old, new, args.old, args.new)
    if args.format == "json":
        dump_json(document)
    elif args.format == "md":
        sys.stdout.write(diff_render.render_markdown(document))
    elif not args.quiet:
        diff_render.render_text(document, sys.stdout)
    if args.fail_on_new:
        worse = diffing.new_at_or_above(document, args.fail_on_new)
        if worse:
            if args.quiet or args.format != "text":
                print(
                    f"modelward: {len(worse)} new failing finding(s) at or above "
                    f"'{args.fail_on_new}'",
                    file=sys.stderr,
                )
            return EXIT_FINDINGS
    return EXIT_OK
