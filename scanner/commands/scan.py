"""`modelward scan`: collect the sources, evaluate the policies, write the outputs, gate."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from scanner.commands.arguments import (
    add_common,
    add_framework_selection,
    add_policy_selection,
    examples,
    format_list_help,
)
from scanner.commands.evidence_pack import add_flags as add_evidence_flags
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import UsageError
from scanner.gate import FAIL_ON_CHOICES

NAME = "scan"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    scan = subparsers.add_parser(
        NAME,
        help="collect, evaluate, report and gate",
        description="Read the sources (from --source, or the config's), evaluate the built-in "
        "policy pack and any --policies on what they hold, map the results to the frameworks, "
        "write the outputs and exit with the gate's verdict: 0 passed, 1 findings at or above "
        "--fail-on, 2 usage or configuration error, 3 a source failed or a check could not be "
        "evaluated.",
        epilog=examples(
            "modelward scan --source path:./models",
            "modelward scan --source path:./models --source attestations:./evidence.yaml "
            "-o out --format html,md,sarif",
            "modelward scan -c modelward.yaml --fail-on critical --baseline out/results.json",
            "modelward scan --source path:./models --no-builtin-policies --policies ./my-policies",
            "modelward scan -c modelward.yaml --shard 2/4 -o shard-2  # then modelward merge",
            "modelward scan -c modelward.yaml --model fraud-detector/7",
            notes=(
                "Sources (repeatable --source, or `sources:` in modelward.yaml): path:DIR "
                "(model files), mlflow:URI, aws:[KEY=VALUE,...], attestations:FILE, logs:PATH. "
                "`modelward init` writes a starter modelward.yaml.",
            ),
        ),
    )
    common(scan)
    add_config(scan)
    scan.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SPEC",
        help="a source: path:DIR, attestations:FILE, aws:[KEY=VALUE,...], logs:PATH, "
        "mlflow:URI, oci:REGISTRY[/REPO[:TAG]], oci-layout:DIR, docker-archive:FILE "
        "(repeatable; replaces the config's sources)",
    )
    scan.add_argument(
        "--shard",
        metavar="K/N",
        help="scan the K-th of N shares of the accounts and sources (stable: a shard keeps its "
        "share as the estate grows); combine the N results with `modelward merge`",
    )
    scan.add_argument(
        "--model",
        metavar="NAME[/VERSION]",
        help="a targeted scan: only what this model's versions touch (files, bucket and its "
        "readers, endpoints), judged by the policies for those",
    )
    scan.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="ID",
        help="a targeted scan of this resource id (s3://bucket, an endpoint ARN...; repeatable)",
    )
    add_judging(scan)


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: ./modelward.yaml when present)",
    )


def add_judging(scan: argparse.ArgumentParser) -> None:
    """What turns an inventory into results: policies, frameworks, gate, outputs (the
    arguments `merge` takes too, since it judges the merged inventory again)."""
    add_policy_selection(scan)
    scan.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="ID",
        help="only these policies: id, wildcard (MW-STO-*) or severity (repeatable)",
    )
    scan.add_argument(
        "--skip-policy",
        action="append",
        default=[],
        metavar="ID",
        help="skip these policies: id, wildcard or severity (repeatable)",
    )
    scan.add_argument(
        "--framework",
        action="append",
        default=[],
        metavar="ID",
        help="report only these frameworks (repeatable)",
    )
    add_framework_selection(scan)
    scan.add_argument("-o", "--output-dir", metavar="DIR", help="write outputs here")
    scan.add_argument("--format", metavar="LIST", help=format_list_help("json, with -o"))
    scan.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        help="lowest severity that fails the gate (default: high)",
    )
    scan.add_argument(
        "--hard-fail-on",
        action="append",
        default=[],
        metavar="LIST",
        help="policy ids, wildcards (MW-STO-*) or severities whose failures always fail the "
        "gate (comma-separated, repeatable; see docs/ci-gating.md for the precedence)",
    )
    scan.add_argument(
        "--soft-fail-on",
        action="append",
        default=[],
        metavar="LIST",
        help="policy ids, wildcards or severities whose failures are reported but do not fail "
        "the gate (comma-separated, repeatable)",
    )
    scan.add_argument(
        "--soft-fail",
        action="store_true",
        default=None,
        help="report failures without failing the gate, except those --hard-fail-on names "
        "(a failed source still exits 3)",
    )
    scan.add_argument(
        "--allow-partial",
        action="store_true",
        default=None,
        help="do not fail the gate because a source failed",
    )
    scan.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="time limit for reading the sources (default: 3600): no request starts after it, "
        "and what could not be read is unknown (exit 3)",
    )
    scan.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[ID.]NAME=VALUE",
        help="override a policy param (repeatable)",
    )
    scan.add_argument(
        "--as-of",
        metavar="DATE",
        help="evaluate date conditions as of this date (ISO 8601), e.g. for an audit period",
    )
    scan.add_argument(
        "--bom-with-findings",
        action="store_true",
        default=None,
        help="in the cyclonedx output, attach failing findings about models as vulnerabilities",
    )
    scan.add_argument(
        "--waivers",
        metavar="FILE",
        help="waivers file: governed, expiring exceptions (see docs/ci-gating.md)",
    )
    scan.add_argument(
        "--baseline",
        metavar="FILE",
        help="a baseline or an earlier results.json: fail only on findings not in it",
    )
    scan.add_argument(
        "--create-baseline",
        metavar="FILE",
        help="write the findings that fail now to FILE, as a baseline for later scans",
    )
    add_evidence_flags(scan)


def run(args: argparse.Namespace) -> int:
    from scanner.config import load_config, resolve_source, with_trust
    from scanner.scan import run_with_inventory
    from scanner.sources.registry import parse_spec
    from scanner.sources.shards import Shard
    from scanner.targeting import Target

    config = load_config(args.config)
    cwd = Path.cwd()
    sources = (
        tuple(with_trust(resolve_source(parse_spec(s), cwd), config.trust) for s in args.source)
        or config.sources
    )
    if not sources:
        raise UsageError(
            "no sources: give --source SPEC (e.g. path:./models) or list sources in modelward.yaml"
        )
    target = None
    if args.model is not None or args.resource:
        if args.model is not None and not args.model.strip("/ "):
            raise UsageError("--model needs a model name (NAME or NAME/VERSION)")
        if args.shard:
            raise UsageError("--shard and a targeted scan (--model, --resource) do not combine")
        target = Target(
            model=args.model.strip() if args.model else None,
            resources=frozenset(r.strip() for r in args.resource if r.strip()),
        )
    shard = Shard.parse(args.shard) if args.shard else None
    return judge(args, config, sources, run_with_inventory, shard=shard, target=target)


def judge(
    args: argparse.Namespace,
    config: Any,
    sources: tuple[Any, ...],
    produce: Callable[[Any, Any], Any],
    *,
    shard: Any = None,
    target: Any = None,
) -> int:
    """Prepare from config and flags (every input checked before any work), let `produce`
    make the results document (a scan, or a merge of shard results), then write and gate."""
    from scanner import baseline as baselines
    from scanner.commands import evidence_pack
    from scanner.commands.documents import bom_options, check_contract, render, whole, write_all
    from scanner.commands.gate_settings import gate_settings
    from scanner.outputs.interface import prepare_output_dir, write_atomically
    from scanner.outputs.registry import parse_formats
    from scanner.policy import params as param_overrides
    from scanner.progress import make_reporter
    from scanner.scan import DEFAULT_TIMEOUT, ScanRequest, prepare
    from scanner.terminal import print_scan_summary, safe
    from scanner.waivers import DEFAULT_MAX_DAYS

    overrides = param_overrides.merge(config.params, param_overrides.from_flags(args.param))
    formats = parse_formats(args.format if args.format else (config.formats or ["json"]))
    request = ScanRequest(
        sources=sources,
        policy_dirs=(*config.policy_dirs, *(Path(p) for p in args.policies)),
        builtin_policies=config.builtin_policies and not args.no_builtin_policies,
        include=(*config.include, *args.policy),
        exclude=(*config.exclude, *args.skip_policy),
        params=overrides,
        framework_files=(*config.framework_files, *(Path(p) for p in args.framework_file)),
        builtin_frameworks=config.builtin_frameworks,
        frameworks=tuple(args.framework) or config.frameworks,
        gate=gate_settings(args, config),
        as_of=_as_of(args.as_of),
        waivers=Path(args.waivers) if args.waivers else config.waivers,
        waiver_max_days=config.waiver_max_days or DEFAULT_MAX_DAYS,
        baseline=Path(args.baseline) if args.baseline else config.baseline,
        timeout=args.timeout or config.timeout or DEFAULT_TIMEOUT,
        shard=shard,
        target=target,
        collect_everything=bool({"cyclonedx", "spdx"} & set(formats)),
    )
    out_dir_arg = args.output_dir or config.output_dir
    if (args.format or config.formats) and not out_dir_arg:
        what = "--format" if args.format else f"{config.file}: output.formats"
        raise UsageError(f"{what} needs an output directory (-o DIR or output.dir)")
    prepared = prepare(request)
    out_dir = prepare_output_dir(out_dir_arg) if out_dir_arg else None
    create_baseline = Path(args.create_baseline) if args.create_baseline else None
    if create_baseline is not None:
        prepare_output_dir(create_baseline.parent)
    pack_job = evidence_pack.start(args)
    reporter = make_reporter(args.quiet, args.verbose)
    if not prepared.policies:
        reporter.note("no policies loaded: nothing will be evaluated")
    try:
        outcome = produce(prepared, reporter)
    finally:
        reporter.close()
    document = outcome.document
    check_contract(document)
    with_findings = bool(
        args.bom_with_findings if args.bom_with_findings is not None else config.bom_with_findings
    )
    options = bom_options(with_findings)
    pack = None
    if pack_job is not None:  # the reports show the pack's digest and signer
        pack = evidence_pack.collect(pack_job, outcome, request, config, formats, with_findings)
        options.update(pack.report_options)
    files: Mapping[str, bytes | Iterable[bytes]] = (
        render(formats, document, options) if out_dir is not None else {}
    )
    baseline = (
        {create_baseline.name: baselines.dumps(baselines.create(document))}
        if create_baseline is not None
        else {}
    )
    sealed = None
    if pack is not None:
        # The pack holds the very bytes written, so streamed outputs are joined first. Signed
        # before anything is written: a pack that cannot be signed leaves no outputs behind.
        files = whole(files)
        sealed = pack.seal(document, files, baseline, options)
    # results.json (the set's index, with the others' digests) is renamed into place last.
    written = write_all(out_dir, files) if out_dir is not None else []
    if create_baseline is not None:
        written += write_atomically(create_baseline.parent, baseline)
    if sealed is not None:
        written += sealed.write()
    if not args.quiet:
        print_scan_summary(document, sys.stdout)
        for path in written:
            print(f"wrote {path}")
    elif not document["gate"]["passed"]:
        for reason in document["gate"]["reasons"]:
            print(f"modelward: {safe(reason, 400)}", file=sys.stderr)
    return int(document["gate"]["exit_code"])


def run_with_config(config: Path) -> int:
    """`modelward scan -c CONFIG` with every other flag at its default (the demo's scan)."""
    parser = argparse.ArgumentParser(prog="modelward")
    add_parser(parser.add_subparsers(dest="command"), add_common)
    return run(parser.parse_args([NAME, "-c", str(config)]))


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 604800:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
    return seconds


def _as_of(text: str | None) -> dt.datetime | None:
    from scanner.policy.conditions import as_datetime

    if text is None:
        return None
    moment = as_datetime(text)
    if moment is None:
        raise UsageError(f"--as-of {text!r} is not an ISO 8601 date")
    return moment
