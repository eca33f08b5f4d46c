"""`modelward scan --evidence-pack FILE.zip`: the flags, and the steps the scan command runs.

`start` checks everything about the pack before any source is contacted (a signer that can
sign, a directory that can take the file), like every other user input of a scan. After the
scan, `collect` archives the evidence and gives the stamp the reports are rendered with;
`seal` signs the pack and writes it beside the other outputs. The pack itself is built by
`scanner.evidence`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import UsageError

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.evidence.pack import Evidence
    from scanner.evidence.signers import Signer
    from scanner.scan import Outcome, ScanRequest


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "evidence pack",
        "A signed zip for auditors: results, every output, the policies, mappings and settings "
        "as evaluated, the sources' answers (credentials masked), each member's SHA-256 and "
        "an in-toto statement over them (see docs/evidence.md).",
    )
    group.add_argument("--evidence-pack", metavar="FILE.zip", help="write a signed evidence pack")
    group.add_argument(
        "--evidence-key",
        metavar="KEY.pem",
        help="sign with this private key (EC P-256/P-384/P-521 or Ed25519, PEM; a passphrase "
        "comes from MODELWARD_EVIDENCE_KEY_PASSPHRASE)",
    )
    group.add_argument(
        "--evidence-certificate",
        metavar="CERT.pem",
        help="the certificate of --evidence-key: the pack carries it and its chain",
    )
    group.add_argument(
        "--evidence-certificate-chain",
        metavar="CHAIN.pem",
        help="intermediate certificates of --evidence-certificate",
    )
    group.add_argument(
        "--evidence-keyless",
        action="store_true",
        help="sign with Sigstore keyless: the CI's OIDC identity (or SIGSTORE_IDENTITY_TOKEN); "
        "needs the network",
    )
    group.add_argument(
        "--evidence-trust-config",
        metavar="FILE",
        help="with --evidence-keyless: a Sigstore client trust config (a private Sigstore "
        "instance) instead of the public-good one",
    )


@dataclass(frozen=True)
class PackJob:
    path: Path
    signer: Signer


def start(args: argparse.Namespace) -> PackJob | None:
    """The pack's signer and location, checked before the scan; None without --evidence-pack."""
    from scanner.evidence.signers import KeylessSigner, key_signer
    from scanner.outputs.interface import prepare_output_dir

    signing = [args.evidence_key, args.evidence_certificate, args.evidence_certificate_chain]
    if not args.evidence_pack:
        if any(signing) or args.evidence_keyless or args.evidence_trust_config:
            raise UsageError("the --evidence-* signing flags need --evidence-pack FILE.zip")
        return None
    path = Path(args.evidence_pack)
    if path.suffix.lower() != ".zip":
        raise UsageError(f"--evidence-pack {path}: the pack is a zip archive; name it *.zip")
    if args.evidence_keyless and args.evidence_key:
        raise UsageError("sign with --evidence-key or with --evidence-keyless, not both")
    if args.evidence_trust_config and not args.evidence_keyless:
        raise UsageError("--evidence-trust-config applies to --evidence-keyless only")
    signer: Signer
    if args.evidence_keyless:
        if args.evidence_certificate or args.evidence_certificate_chain:
            raise UsageError("--evidence-certificate goes with --evidence-key, not keyless")
        trust = Path(args.evidence_trust_config) if args.evidence_trust_config else None
        signer = KeylessSigner(trust)
    elif args.evidence_key:
        signer = key_signer(
            Path(args.evidence_key),
            Path(args.evidence_certificate) if args.evidence_certificate else None,
            Path(args.evidence_certificate_chain) if args.evidence_certificate_chain else None,
        )
    else:
        raise UsageError(
            "--evidence-pack needs a signer: --evidence-key KEY.pem (with --evidence-certificate "
            "for a certificate chain) or --evidence-keyless"
        )
    prepare_output_dir(path.parent if str(path.parent) else Path("."))
    return PackJob(path, signer)


def collect(
    job: PackJob,
    outcome: Outcome,
    request: ScanRequest,
    config: Config,
    formats: list[str],
    bom_with_findings: bool,
) -> PackInProgress:
    """The evidence members of the finished scan, and their digest."""
    from scanner import frameworks as fw
    from scanner.bundled import bundled_dir
    from scanner.evidence import pack
    from scanner.evidence.settings import ScanSettings, describe_sources
    from scanner.outputs.interface import OutputError
    from scanner.yamlpos import display_path

    roots: list[tuple[str, Path]] = []
    if request.builtin_policies:
        roots.append((pack.BUILTIN, bundled_dir("policies")))
    roots += [(display_path(p), p) for p in request.policy_dirs]
    # as `scanner.scan.prepare` chooses them: the built-in mappings go with the built-in pack
    builtin = request.builtin_frameworks and request.builtin_policies
    files = pack.ScanFiles(
        policy_roots=tuple(roots),
        mapping_files=tuple(fw.framework_files(request.framework_files, builtin=builtin)),
        waivers=request.waivers,
        baseline=request.baseline,
        config_file=Path(config.file) if config.file else None,
    )
    sources = [
        {"name": s.name, "kind": s.kind, "target": s.target, "options": s.options}
        for s in request.sources
    ]
    settings = ScanSettings(
        policy_roots=(),
        include=request.include,
        exclude=request.exclude,
        params=request.params,
        mappings=(),
        frameworks=request.frameworks,
        gate=request.gate,
        as_of=str(outcome.document["scan"]["as_of"]),
        waivers=None,
        waiver_max_days=request.waiver_max_days,
        baseline=None,
        sources=tuple(describe_sources(sources)),
        formats=tuple(formats),
        bom_with_findings=bom_with_findings,
    )
    try:
        evidence = pack.collect(
            outcome.document, outcome.inventory, files, settings, job.signer, job.path.name
        )
    except pack.PackInputError as exc:
        raise OutputError(str(exc)) from None
    return PackInProgress(job, evidence)


@dataclass(frozen=True)
class PackInProgress:
    job: PackJob
    evidence: Evidence

    @property
    def report_options(self) -> dict[str, dict[str, Any]]:
        """Writer options that put the pack's digest and signer into the HTML report."""
        return {"html": {"evidence": self.evidence.stamp}}

    def seal(
        self,
        document: Mapping[str, Any],
        outputs: Mapping[str, bytes],
        created_baseline: Mapping[str, bytes],
        options: Mapping[str, Mapping[str, Any]],
    ) -> Sealed:
        """Sign the pack over the evidence, every output (file name → bytes) and the baseline
        the scan created. The HTML report is always in the pack, asked for or not: it is what
        an auditor opens first."""
        from scanner.commands.documents import render, whole
        from scanner.evidence import pack
        from scanner.evidence.manifest import OUTPUT_BASELINE
        from scanner.outputs.html_writer import HtmlWriter

        members = dict(outputs)
        if HtmlWriter.filename not in members:
            members.update(whole(render(["html"], dict(document), options)))
        members.update({f"{OUTPUT_BASELINE}/{n}": data for n, data in created_baseline.items()})
        return Sealed(self.job.path, pack.seal(self.evidence, document, members, self.job.signer))


@dataclass(frozen=True)
class Sealed:
    path: Path
    data: bytes

    def write(self) -> list[Path]:
        from scanner.outputs.interface import write_atomically

        parent = self.path.parent if str(self.path.parent) else Path(".")
        return write_atomically(parent, {self.path.name: self.data})
