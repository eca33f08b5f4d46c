"""Command line: parse arguments, call the layer that does the work, print, exit. No logic here."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from scanner import __version__
from scanner.errors import EXIT_SOURCE, EXIT_USAGE, ModelwardError, NotImplementedYetError
from scanner.gate import FAIL_ON_CHOICES

PROG = "modelward"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing but errors and, when the gate fails, why",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="more detail (and tracebacks)")


def _add_policy_selection(p: argparse.ArgumentParser) -> None:
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


def _add_framework_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--framework-file",
        action="append",
        default=[],
        metavar="FILE",
        help="an extra framework mapping file (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Policy-as-code compliance scanner for machine-learning model IP protection.",
        epilog="Exit codes: 0 gate passed, 1 findings at or above the threshold, "
        "2 usage/config/policy error, 3 a source failed or a check could not be evaluated.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser(
        "scan",
        help="collect, evaluate, report and gate",
        description="Scan the configured sources and evaluate the policies.",
    )
    _add_common(scan)
    scan.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: ./modelward.yaml when present)",
    )
    scan.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SPEC",
        help="a source: path:DIR, attestations:FILE, aws:[KEY=VALUE,...], logs:PATH, "
        "mlflow:URI (repeatable; replaces the config's sources)",
    )
    _add_policy_selection(scan)
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
    _add_framework_selection(scan)
    scan.add_argument("-o", "--output-dir", metavar="DIR", help="write outputs here")
    scan.add_argument(
        "--format", metavar="LIST", help="output formats, comma-separated (default: json)"
    )
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

    pol = sub.add_parser("policies", help="list, show, validate and test policies")
    pol_sub = pol.add_subparsers(dest="policies_command", metavar="ACTION", required=True)
    p_list = pol_sub.add_parser("list", help="list the policies")
    _add_policy_selection(p_list)
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_show = pol_sub.add_parser("show", help="show one policy")
    p_show.add_argument("policy_id", metavar="ID")
    _add_policy_selection(p_show)
    p_val = pol_sub.add_parser("validate", help="validate policy files (exit 2 on any error)")
    p_val.add_argument("dirs", nargs="+", metavar="DIR")
    p_test = pol_sub.add_parser("test", help="run policy unit tests (*_test.yaml)")
    p_test.add_argument("dir", metavar="DIR")
    p_test.add_argument(
        "--policies",
        action="append",
        default=[],
        metavar="DIR",
        help="more policy directories the tests may use",
    )
    p_test.add_argument(
        "--with-builtin", action="store_true", help="the tests may also use the built-in pack"
    )
    pol_sub.add_parser(
        "schema",
        help="print the policy JSON Schema (for editors: yaml-language-server, IDEs)",
    )
    for p in (p_list, p_show, p_val, p_test):
        _add_common(p)

    frw = sub.add_parser("frameworks", help="list and show framework mappings")
    frw_sub = frw.add_subparsers(dest="frameworks_command", metavar="ACTION", required=True)
    f_list = frw_sub.add_parser("list", help="list the frameworks")
    f_show = frw_sub.add_parser("show", help="show a framework's controls and their policies")
    f_show.add_argument("framework_id", metavar="ID")
    for p in (f_list, f_show):
        _add_framework_selection(p)
        _add_policy_selection(p)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        _add_common(p)

    rep = sub.add_parser("report", help="render outputs from a results.json (no rescanning)")
    rep.add_argument("results", metavar="RESULTS.json")
    rep.add_argument("--format", default="json", metavar="LIST", help="comma-separated formats")
    rep.add_argument("-o", "--output-dir", required=True, metavar="DIR")
    rep.add_argument(
        "--bom-with-findings",
        action="store_true",
        help="in the cyclonedx output, attach failing findings about models as vulnerabilities",
    )
    _add_common(rep)

    _add_bom(sub)
    ver = sub.add_parser(
        "verify",
        help="verify a model's signature and serialization safety (the gate before deploy)",
        description="Exit 0 only when the model's signature verifies with the given trust and "
        "no file would run code when loaded; 1 otherwise, one line per problem.",
    )
    ver.add_argument("model", metavar="MODEL_PATH", help="a model directory or a single file")
    ver.add_argument(
        "--key", action="append", default=[], metavar="PUB.pem", help="trusted public key"
    )
    ver.add_argument(
        "--certificate-chain",
        action="append",
        default=[],
        metavar="CA.pem",
        help="your CA's certificates (the system's web-PKI roots are never used)",
    )
    ver.add_argument("--identity", metavar="ID", help="Sigstore keyless signer identity")
    ver.add_argument("--issuer", metavar="URL", help="OIDC issuer of --identity")
    ver.add_argument(
        "--trust-root", metavar="FILE", help="pinned Sigstore trusted_root.json for --identity"
    )
    ver.add_argument(
        "--signature", metavar="FILE", help="the signature (default: MODEL/model.sig, FILE.sig)"
    )
    ver.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="take the trust from integrity.trust (default: ./modelward.yaml when present)",
    )
    ver.add_argument(
        "--max-bytes",
        metavar="SIZE",
        default="2G",
        help="s3:// models: download at most this much (e.g. 500M, 2G; default 2G); "
        "a bigger model is not verified (exit 3)",
    )
    ver.add_argument(
        "--serialization-only",
        action="store_true",
        help="check only what the files would run when loaded; no signature, no trust needed",
    )
    ver.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(ver)
    from scanner.logs_command import add_parser as add_logs_parser

    add_logs_parser(sub, _add_common)

    dif = sub.add_parser(
        "diff",
        help="compare two results files: new, fixed and still-failing findings",
        description="Compare two results files. Findings are matched by policy id and "
        "resource id. Exits 0, or 1 with --fail-on-new when a new failing finding appears.",
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
    _add_common(dif)

    demo = sub.add_parser(
        "demo",
        help="start a local demo estate (MLflow + emulated AWS), scan it, write every output",
    )
    demo.add_argument("-o", "--output-dir", default="out/demo", metavar="DIR")
    _add_common(demo)
    return parser


def _add_bom(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bom = sub.add_parser(
        "bom",
        help="write an AI-BOM (CycloneDX 1.6 or SPDX 3.0.1) of the configured sources",
        description="Collect the sources as scan does and write the models, datasets and their "
        "provenance as an AI Bill of Materials. Exits 0 when written, 3 when a source failed "
        "(the BOM is still written; --allow-partial exits 0). Findings never change the exit "
        "code: gate with scan.",
    )
    _add_common(bom)
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
    _add_policy_selection(bom)
    _add_framework_selection(bom)
    bom.add_argument(
        "--allow-partial",
        action="store_true",
        default=None,
        help="exit 0 even when a source failed (the BOM then lacks what it holds)",
    )


def _print_error(exc: ModelwardError, verbose: bool) -> None:
    print(f"{PROG}: error: {exc.message}", file=sys.stderr)
    for line in exc.details[1:] if len(exc.details) > 1 else ():
        print(f"  {line}", file=sys.stderr)
    if verbose and exc.__cause__ is not None:
        traceback.print_exception(exc.__cause__, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbose = getattr(args, "verbose", False)
    try:
        return _dispatch(args)
    except ModelwardError as exc:
        _print_error(exc, verbose)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # fail closed with something actionable, never a silent 0
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} (re-run with -v for the "
            f"traceback, and please report it)",
            file=sys.stderr,
        )
        if verbose:
            traceback.print_exc()
        return EXIT_SOURCE


def _dispatch(args: argparse.Namespace) -> int:
    from scanner import commands

    if args.command == "scan":
        return commands.scan(args)
    if args.command == "policies":
        return commands.policies(args)
    if args.command == "frameworks":
        return commands.frameworks(args)
    if args.command == "report":
        return commands.report(args)
    if args.command == "bom":
        return commands.bom(args)
    if args.command == "diff":
        return commands.diff(args)
    if args.command == "demo":
        from scanner.demo.command import run_demo

        return run_demo(Path(args.output_dir))
    if args.command == "verify":
        return commands.verify(args)
    if args.command == "logs":
        from scanner import logs_command

        return logs_command.analyze(args)
    raise NotImplementedYetError(f"'{args.command}' is not implemented yet in {PROG} {__version__}")
