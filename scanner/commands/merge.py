"""`modelward merge`: the results of every shard of a scan → one results document."""

from __future__ import annotations

import argparse

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.commands.scan import add_config, add_judging, judge
from scanner.errors import UsageError

NAME = "merge"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    merge = subparsers.add_parser(
        NAME,
        help="combine the results of a sharded scan (--shard K/N) into one",
        description="Combine the results.json of every shard of a scan into the document one "
        "scan of the whole estate would have written: readers across accounts, registry "
        "versions and the buckets holding them, frameworks, maturity and the gate are judged "
        "again over everything. Give it the shards' config and policy flags.",
        epilog=examples(
            "modelward merge shard-*/results.json -c modelward.yaml -o results",
            "modelward merge s1/results.json s2/results.json -o merged --format json,html "
            "--fail-on critical",
            notes=(
                "Each shard ran `modelward scan --shard K/N`; every shard 1..N must be given "
                "exactly once. docs/sharding.md has recipes for CI matrices and Kubernetes.",
            ),
        ),
    )
    common(merge)
    merge.add_argument("results", nargs="+", metavar="RESULTS", help="every shard's results.json")
    add_config(merge)
    add_judging(merge)


def run(args: argparse.Namespace) -> int:
    from scanner.config import load_config
    from scanner.merge import merge

    if args.evidence_pack:
        # A pack archives the sources' answers, which shard results do not carry.
        raise UsageError(
            "merge does not write evidence packs (not implemented yet): the shards' results do "
            "not carry the sources' answers a pack archives"
        )
    config = load_config(args.config)
    return judge(
        args, config, (), lambda prepared, reporter: merge(prepared, args.results, reporter)
    )
