"""`modelward verify MODEL`: a model's signature and serialization safety (the deploy gate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import UsageError

NAME = "verify"
PROBLEM_PREFIX = "FAIL "


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    ver = subparsers.add_parser(
        NAME,
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
    ver.add_argument("--json", action="store_true", help="machine-readable output")
    common(ver)


def run(args: argparse.Namespace) -> int:
    from scanner.artefacts.s3fetch import parse_size
    from scanner.artefacts.signatures.trust import TrustConfigError, from_flags
    from scanner.commands.printing import dump_json
    from scanner.config import load_config
    from scanner.terminal import safe
    from scanner.verify import verify_model

    flags = bool(args.key or args.certificate_chain or args.identity)
    if args.identity and not (args.issuer and args.trust_root):
        raise UsageError(
            "--identity needs --issuer and --trust-root (a pinned Sigstore trusted_root.json: "
            "modelward verifies offline)"
        )
    if (args.issuer or args.trust_root) and not args.identity:
        raise UsageError("--issuer and --trust-root go with --identity")
    if flags:
        try:
            trust = from_flags(
                args.key,
                args.certificate_chain,
                args.identity,
                args.issuer,
                args.trust_root,
                Path.cwd(),
            )
        except TrustConfigError as exc:
            raise UsageError(str(exc)) from None
    else:
        config = load_config(args.config)
        if args.model.startswith("s3://"):
            uri = args.model.rstrip("/")
            trust = config.trust.for_model(uri.rsplit("/", 1)[-1], uri)
        else:
            model = Path(args.model).expanduser().absolute()
            trust = config.trust.for_model(model.name, str(model), model.as_uri())
        if not trust:
            raise UsageError(
                "no trust given: pass --key PUB.pem, --certificate-chain CA.pem or --identity ID "
                "--issuer URL --trust-root FILE, or configure integrity.trust (-c FILE)"
            )
    report = verify_model(args.model, trust, args.signature, max_bytes=parse_size(args.max_bytes))
    if args.json:
        dump_json(report.as_json())
        return report.exit_code
    for problem in report.problems:
        print(f"{PROBLEM_PREFIX}{safe(problem, 600)}")
    if report.passed:
        if not args.quiet:
            print(
                f"verified {safe(report.model)}: signed by {safe(report.signature.identity or '')};"
                f" no unsafe serialization in {report.files} file(s)"
            )
    elif not args.quiet:
        verdict = "could not be verified" if report.incomplete else "must not be deployed"
        print(f"{len(report.problems)} problem(s): {safe(report.model)} {verdict}")
    return report.exit_code
