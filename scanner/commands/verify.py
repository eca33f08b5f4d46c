"""`modelward verify MODEL...`: models' signatures and serialization safety (the deploy gate).

Several models (a pre-commit hook passes every staged model file) are each verified on their
own, with their own trust when it comes from the config, and the command exits with the
highest exit code among them: 0 all verified, 1 one must not be deployed, 3 one could not be
verified at all. Text output is one line per problem and one per model; `--json` prints one
model's object as before, and a list of them for several.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import UsageError

if TYPE_CHECKING:
    from scanner.artefacts.signatures.trust import TrustSet
    from scanner.verify import VerifyReport

NAME = "verify"
PROBLEM_PREFIX = "FAIL "


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    ver = subparsers.add_parser(
        NAME,
        help="verify a model's signature and serialization safety (the gate before deploy)",
        description="Exit 0 only when the model's signature verifies with the given trust and "
        "no file would run code when loaded; 1 otherwise, one line per problem. Several models "
        "are each verified on their own; the highest exit code wins.",
        epilog=examples(
            "modelward verify ./models/fraud-detector --key keys/release.pub.pem",
            "modelward verify s3://acme-models/fraud/3 --certificate-chain ca.pem",
            "modelward verify --serialization-only model.pkl other-model.pt",
        ),
    )
    ver.add_argument(
        "models",
        nargs="+",
        metavar="MODEL_PATH",
        help="a model directory or a single file (several: each is a model of its own)",
    )
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
    common(ver)


def run(args: argparse.Namespace) -> int:
    from scanner.artefacts.s3fetch import parse_size
    from scanner.commands.printing import dump_json
    from scanner.verify import check_target, verify_model

    if args.signature and len(args.models) > 1:
        raise UsageError("--signature names one model's signature: give one MODEL_PATH with it")
    for target in args.models:  # every usage error before any model is verified
        check_target(target)
    max_bytes = parse_size(args.max_bytes)
    trusts = _trusts(args)
    several = len(args.models) > 1
    reports: list[VerifyReport] = []
    for target, trust in zip(args.models, trusts, strict=True):
        report = verify_model(
            target,
            trust,
            args.signature,
            max_bytes=max_bytes,
            serialization_only=args.serialization_only,
        )
        reports.append(report)
        if not args.json:
            _print(report, args.quiet, several)
    if args.json:
        documents: list[dict[str, Any]] = [r.as_json() for r in reports]
        dump_json(documents if several else documents[0])
    return max(r.exit_code for r in reports)


def _trusts(args: argparse.Namespace) -> list[TrustSet]:
    """The trust for each model: the flags' for all of them, or each model's from the config."""
    from scanner.artefacts.signatures.trust import TrustConfigError, TrustSet, from_flags
    from scanner.config import load_config

    flags = bool(args.key or args.certificate_chain or args.identity)
    if args.serialization_only:
        if flags or args.signature:
            raise UsageError("--serialization-only checks no signature: drop the trust flags")
        return [TrustSet()] * len(args.models)
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
        return [trust] * len(args.models)
    config = load_config(args.config)
    trusts = []
    for target in args.models:
        if target.startswith("s3://"):
            uri = target.rstrip("/")
            trust = config.trust.for_model(uri.rsplit("/", 1)[-1], uri)
        else:
            model = Path(target).expanduser().absolute()
            trust = config.trust.for_model(model.name, str(model), model.as_uri())
        if not trust:
            which = f" for {target}" if len(args.models) > 1 else ""
            raise UsageError(
                f"no trust given{which}: pass --key PUB.pem, --certificate-chain CA.pem or "
                "--identity ID --issuer URL --trust-root FILE, or configure integrity.trust "
                "(-c FILE)"
            )
        trusts.append(trust)
    return trusts


def _print(report: VerifyReport, quiet: bool, several: bool) -> None:
    """One line per problem, then one for the model. With several models, each problem line
    names its model too: `-q` prints nothing else."""
    from scanner.terminal import safe

    model = f"{safe(report.model)}: " if several else ""
    for problem in report.problems:
        print(f"{PROBLEM_PREFIX}{model}{safe(problem, 600)}")
    if quiet:
        return
    if report.passed:
        signed = (
            "signature not checked"
            if report.serialization_only
            else f"signed by {safe(report.signature.identity or '')}"
        )
        print(
            f"verified {safe(report.model)}: {signed};"
            f" no unsafe serialization in {report.files} file(s)"
        )
    else:
        verdict = "could not be verified" if report.incomplete else "must not be deployed"
        print(f"{len(report.problems)} problem(s): {safe(report.model)} {verdict}")
