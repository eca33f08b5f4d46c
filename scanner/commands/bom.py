"""`modelward bom`: the configured sources' models and datasets as an AI-BOM (CycloneDX, SPDX)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanner.commands.arguments import add_framework_selection, add_policy_selection, examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import UsageError

NAME = "bom"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    bom = subparsers.add_parser(
        NAME,
        help="write an AI-BOM (CycloneDX 1.6 or SPDX 3.0.1) of the configured sources",
        description="Collect the sources as scan does and write the models, datasets and their "
        "provenance as an AI Bill of Materials. Exits 0 when written, 3 when a source failed "
        "(the BOM is still written; --allow-partial exits 0). Findings never change the exit "
        "code: gate with scan.",
        epilog=examples(
            "modelward bom --source path:./models -o bom.cdx.json",
            "modelward bom -c modelward.yaml --format spdx -o out/bom.spdx.json",
            "modelward bom --source mlflow:http://mlflow:5000 -o - | jq .components",
        ),
    )
    common(bom)
    bom.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: ./modelward.yaml when present)",
    )
    bom.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SPEC",
        help="a source, as for scan (repeatable; replaces the config's sources)",
    )
    bom.add_argument(
        "--format",
        choices=("cyclonedx", "spdx"),
        help="cyclonedx (default) or spdx; when omitted, a FILE ending in .spdx.json means spdx",
    )
    bom.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the BOM file to write (- for stdout)"
    )
    bom.add_argument(
        "--with-findings",
        action="store_true",
        default=None,
        help="evaluate the policies and attach failing findings about models as CycloneDX "
        "vulnerabilities (policy id, severity, framework controls)",
    )
    add_policy_selection(bom)
    add_framework_selection(bom)
    bom.add_argument(
        "--allow-partial",
        action="store_true",
        default=None,
        help="exit 0 even when a source failed (the BOM then lacks what it holds)",
    )


def run(args: argparse.Namespace) -> int:
    """The scan pipeline for its inventory: policies are loaded and evaluated only when
    findings are to be attached, and the gate never looks at findings (`fail_on: none`), so
    the exit code says only whether every source could be read."""
    from scanner.bom.estate import read_estate
    from scanner.commands.documents import check_contract
    from scanner.config import load_config, resolve_source, with_trust
    from scanner.gate import GateSettings
    from scanner.outputs.cyclonedx_writer import CycloneDxWriter
    from scanner.outputs.interface import prepare_output_dir, write_atomically
    from scanner.outputs.spdx_writer import SpdxWriter
    from scanner.progress import make_reporter
    from scanner.scan import DEFAULT_TIMEOUT, ScanRequest, prepare
    from scanner.scan import run as run_scan
    from scanner.sources.registry import parse_spec
    from scanner.terminal import safe
    from scanner.waivers import DEFAULT_MAX_DAYS

    config = load_config(args.config)
    sources = tuple(
        with_trust(resolve_source(parse_spec(s), Path.cwd()), config.trust) for s in args.source
    )
    sources = sources or config.sources
    if not sources:
        raise UsageError(
            "no sources: give --source SPEC (e.g. path:./models) or list sources in modelward.yaml"
        )
    with_findings = bool(
        args.with_findings if args.with_findings is not None else config.bom_with_findings
    )
    fmt = args.format or (
        "spdx" if args.output.endswith((".spdx.json", ".spdx.jsonld")) else "cyclonedx"
    )
    if with_findings and fmt != "cyclonedx":
        raise UsageError("--with-findings applies to the cyclonedx format only")
    allow_partial = bool(
        args.allow_partial if args.allow_partial is not None else config.allow_partial
    )
    request = ScanRequest(
        sources=sources,
        policy_dirs=(*config.policy_dirs, *(Path(p) for p in args.policies))
        if with_findings
        else (),
        builtin_policies=with_findings and config.builtin_policies and not args.no_builtin_policies,
        include=config.include if with_findings else (),
        exclude=config.exclude if with_findings else (),
        params=config.params if with_findings else {},
        framework_files=(*config.framework_files, *(Path(p) for p in args.framework_file))
        if with_findings
        else (),
        builtin_frameworks=with_findings and config.builtin_frameworks,
        frameworks=config.frameworks if with_findings else (),
        gate=GateSettings(fail_on="none", allow_partial=allow_partial),
        # a waived finding is not a vulnerability to report; baselines are for gating only
        waivers=config.waivers if with_findings else None,
        waiver_max_days=config.waiver_max_days or DEFAULT_MAX_DAYS,
        timeout=config.timeout or DEFAULT_TIMEOUT,
        collect_everything=True,  # the BOM lists every model, whatever the policies read
    )
    target = None if args.output == "-" else Path(args.output)
    if target is not None:
        if target.is_dir():
            raise UsageError(f"-o {args.output}: is a directory; give the BOM's file name")
        prepare_output_dir(target.parent)
    prepared = prepare(request)
    reporter = make_reporter(args.quiet, args.verbose)
    try:
        document = run_scan(prepared, reporter)
    finally:
        reporter.close()
    check_contract(document)
    writer = CycloneDxWriter(with_findings) if fmt == "cyclonedx" else SpdxWriter()
    content = next(iter(writer.render(document).values()))
    if target is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        write_atomically(target.parent, {target.name: content})
    if not args.quiet:
        estate = read_estate(document)
        findings = f", {len(estate.findings)} finding(s)" if with_findings else ""
        print(
            f"wrote {args.output if target is None else target} ({fmt}: {len(estate.models)} "
            f"model(s), {len(estate.datasets)} dataset(s){findings})",
            file=sys.stderr if target is None else sys.stdout,
        )
    for reason in document["gate"]["reasons"]:
        print(f"modelward: {safe(reason, 400)}", file=sys.stderr)
    return int(document["gate"]["exit_code"])
