"""`modelward logs analyze PATH`: the logs source run on its own, as a table or JSON.

The same analysis a scan runs (`scanner.sources.logs`), printed for a person or a pipeline.
Exit codes follow the scan's: 0 nothing suspicious, 1 suspicious clients or groups found,
2 usage error, 3 the logs could not be read or had malformed records (fail-closed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE, UsageError
from scanner.terminal import safe

NAME = "logs"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    logs = subparsers.add_parser(
        NAME,
        help="analyse inference logs (extraction patterns, rate limits)",
        description="Inference logs on their own: the analysis a scan's logs: source runs, "
        "printed as a table or JSON.",
        epilog=examples("modelward logs analyze ./logs/", "modelward logs analyze --help"),
    )
    logs_sub = logs.add_subparsers(dest="logs_command", metavar="ACTION", required=True)
    p = logs_sub.add_parser(
        "analyze",
        help="analyse logs: suspicious clients, baseline volumes, recommended limits",
        description="Analyse inference logs (JSONL, CSV, Parquet; a file, directory or glob). "
        "Exits 0 when nothing is suspicious, 1 when suspicious clients or groups are found, "
        "3 when the logs could not be read.",
        epilog=examples(
            "modelward logs analyze ./logs/",
            "modelward logs analyze 'captures/**/*.jsonl' --format sagemaker-capture --json",
            "modelward logs analyze access.csv --field client=api_key --endpoint fraud-prod",
        ),
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--options",
        metavar="FILE",
        help="a YAML file with source options (as under `options:` in modelward.yaml)",
    )
    p.add_argument(
        "--format",
        dest="log_format",
        metavar="FORMAT",
        help="auto, jsonl, csv, parquet, sagemaker-capture, apigateway",
    )
    p.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="ROLE=FIELD",
        help="which field holds a role, e.g. client=user.id (repeatable; "
        "input=f0,f1,... for one field per feature)",
    )
    p.add_argument(
        "--endpoint", metavar="NAME_OR_ID", help="the endpoint of records that name none"
    )
    p.add_argument(
        "--endpoint-id",
        action="append",
        default=[],
        metavar="NAME=ID",
        help="map an endpoint name in the logs to its id (ARN) (repeatable)",
    )
    p.add_argument(
        "--endpoint-arn-prefix",
        metavar="PREFIX",
        help="endpoint id = PREFIX + lower-cased name, e.g. "
        "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/",
    )
    p.add_argument("--memory-limit", metavar="SIZE", help="DuckDB memory cap, e.g. 512MB")
    p.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="suspicious clients shown per endpoint in the table (default 20)",
    )
    common(p)


def _options_from(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.options:
        from scanner.yamlpos import load_yaml_file

        data = load_yaml_file(Path(args.options), what="options file").data
        if data is not None and not isinstance(data, Mapping):
            raise UsageError(f"{args.options}: the options file must be a mapping")
        options.update(data or {})
    fields = dict(options.get("fields") or {})
    for item in args.field:
        role, sep, name = item.partition("=")
        if not sep or not role or not name:
            raise UsageError(f"--field {item!r} is not ROLE=FIELD")
        fields[role] = name.split(",") if role == "input" and "," in name else name
    if fields:
        options["fields"] = fields
    endpoints = dict(options.get("endpoints") or {})
    for item in args.endpoint_id:
        name, sep, eid = item.partition("=")
        if not sep or not name or not eid:
            raise UsageError(f"--endpoint-id {item!r} is not NAME=ID")
        endpoints[name] = eid
    if endpoints:
        options["endpoints"] = endpoints
    for key, value in (
        ("format", args.log_format),
        ("endpoint", args.endpoint),
        ("endpoint_arn_prefix", args.endpoint_arn_prefix),
        ("memory_limit", args.memory_limit),
    ):
        if value is not None:
            options[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    """`logs analyze`, the group's one action."""
    from scanner.inventory import to_jsonable
    from scanner.sources.interface import SourceSpec
    from scanner.sources.registry import LOGS_MODULES, require_extra

    require_extra("logs", LOGS_MODULES, "modelward logs")
    from scanner.sources.logs.options import parse_options
    from scanner.sources.logs.source import analyse, traffic_resource

    spec = SourceSpec("logs", args.path, f"logs:{args.path}", _options_from(args))
    options = parse_options(spec)

    def progress(message: str) -> None:
        if args.verbose and not args.quiet:
            print(f"modelward: {safe(message)}", file=sys.stderr)

    report = analyse(args.path, options, progress)
    resources = [traffic_resource(a, report, options, spec.name) for a in report.endpoints]
    flagged = any(
        r.attributes["suspicious_count"] or r.attributes["suspicious_groups"] for r in resources
    )
    if args.json:
        document = {
            "target": args.path,
            "format": report.files.flavour
            if report.files.flavour != "plain"
            else report.files.format,
            "files": len(report.files.files),
            "records": report.records,
            "malformed": dict(report.malformed),
            "problems": list(report.problems),
            "endpoints": [
                {"id": r.id, "name": r.name, **to_jsonable(dict(r.attributes))} for r in resources
            ],
        }
        print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
    elif not args.quiet:
        _print(report.problems, resources, args.limit)
    if report.problems:
        if args.quiet or args.json:  # the table shows them; otherwise stderr must
            for problem in report.problems:
                print(f"modelward: {safe(problem, 400)}", file=sys.stderr)
        return EXIT_SOURCE
    return EXIT_FINDINGS if flagged else EXIT_OK


def _print(problems: Sequence[str], resources: Sequence[Any], limit: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from scanner.inventory import to_jsonable

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    for problem in problems:
        console.print(Text(f"problem: {safe(problem, 400)}"))
    for resource in resources:
        a = to_jsonable(dict(resource.attributes))
        console.print(
            Text(
                f"endpoint {safe(a['endpoint_name'] or '(unnamed)')} ({safe(resource.id)})",
                style="bold",
            )
        )
        window = a["window"]
        console.print(
            Text(
                f"  {a['requests']} requests from {a['clients']} clients, {window['start']} to "
                f"{window['end']} ({window['days']} days)"
            )
        )
        console.print(Text(f"  detectors: {', '.join(a['detectors_ran']) or 'none'}"))
        for skipped in a["detectors_skipped"]:
            console.print(Text(f"  not run: {skipped['detector']}: {safe(skipped['reason'])}"))
        if isinstance(a["baseline"], dict) and "$unknown" not in a["baseline"]:
            b, lim = a["baseline"], a["recommended_limits"]
            console.print(
                Text(
                    f"  per-client volume p50/p90/p99: {b['p50_daily']:g}/{b['p90_daily']:g}/"
                    f"{b['p99_daily']:g} a day, p99 {b['p99_10min']:g} per 10 minutes; "
                    f"recommended limits {lim['daily']}/day, {lim['per_10min']}/10 min"
                )
            )
        else:
            console.print(Text(f"  baseline: {safe(a['baseline']['$unknown'])}"))
        listed = a["suspicious_clients"]
        if not listed and not a["suspicious_groups"]:
            console.print(Text("  no suspicious clients"))
            continue
        table = Table(title=f"{a['suspicious_count']} suspicious client(s)", title_justify="left")
        for col in ("client", "queries", "detectors", "score", "alarm after", "reason"):
            table.add_column(col, overflow="fold")
        for entry in listed[:limit]:
            first = min((al["queries_until_alarm"] or 0 for al in entry["alarms"]), default=0)
            table.add_row(
                Text(safe(entry["client"], 60)),
                Text(str(entry["queries"])),
                Text(", ".join(entry["detectors"])),
                Text(f"{entry['score']:g}"),
                Text(f"{first} queries"),
                Text(safe(entry["reason"], 160)),
            )
        console.print(table)
        if len(listed) > limit:
            console.print(Text(f"  … and {len(listed) - limit} more (--json for all)"))
        for group in a["suspicious_groups"]:
            reason = safe(group["alarms"][0]["reason"], 300)
            console.print(
                Text(
                    f"  group {group['kind']} {safe(group['key'], 80)}: {group['member_count']} "
                    f"members, {group['queries']} queries: {reason}"
                )
            )
