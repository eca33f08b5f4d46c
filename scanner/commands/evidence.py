"""`modelward evidence verify PACK.zip`: an auditor's check of a signed evidence pack, offline.

Exit 0 only when everything matches: the archive is a well-formed pack, the signature
verifies with the trust given, every member has its signed digest (none missing, none
added), results.json agrees with the signed statement, and judging the archived resources
again with the archived policies, mappings, settings and evaluation date gives back exactly
the archived findings, controls, maturity and gate. Exit 1 when the pack does not verify
(one line per reason, `FAIL ...`), 2 when it cannot be read as a pack at all (not a zip,
truncated, or built to attack its reader) or the flags are wrong.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_FINDINGS, EXIT_OK, ModelwardError, UsageError

if TYPE_CHECKING:
    from scanner.evidence.check import Opened
    from scanner.evidence.dsse import Trust

NAME = "evidence"
PROBLEM_PREFIX = "FAIL "


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    evidence = subparsers.add_parser(
        NAME,
        help="verify a signed evidence pack (scan --evidence-pack), offline",
        description="Evidence packs are written by `modelward scan --evidence-pack`.",
        epilog=examples(
            "modelward evidence verify evidence-pack.zip --key acme-audit.pub",
            "modelward evidence verify evidence-pack.zip --certificate-chain ca.pem "
            "--certificate-identity ml-scanner",
        ),
    )
    actions = evidence.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check a pack's signature and digests, and re-evaluate its verdicts",
        description="Exit 0 only when the signature verifies with the trust given, every "
        "member has its signed digest, and re-evaluating the archived resources with the "
        "archived policies reproduces every archived verdict; 1 when the pack does not verify "
        "(one FAIL line per reason); 2 when it cannot be read as a pack or the flags are wrong. "
        "Nothing is extracted and nothing goes to the network.",
        epilog=examples(
            "modelward evidence verify evidence-pack.zip --key acme-audit.pub",
            "modelward evidence verify evidence-pack.zip --key acme-audit.pub --json",
        ),
    )
    verify.add_argument("pack", metavar="PACK.zip", help="the evidence pack")
    trust = verify.add_argument_group("trust (exactly one kind)")
    trust.add_argument("--key", metavar="PUB.pem", help="the signer's public key (PEM)")
    trust.add_argument(
        "--certificate-chain",
        metavar="CA.pem",
        help="the CA certificates the signing certificate must chain to (never the system's "
        "web-PKI roots)",
    )
    trust.add_argument(
        "--certificate-identity",
        metavar="NAME",
        help="with --certificate-chain: the signing certificate must name this (SAN or CN)",
    )
    trust.add_argument(
        "--identity",
        metavar="ID",
        help="Sigstore keyless: the signer's identity (for GitHub Actions, the workflow URL "
        "https://github.com/OWNER/REPO/.github/workflows/FILE@REF)",
    )
    trust.add_argument("--issuer", metavar="URL", help="the OIDC issuer of --identity")
    trust.add_argument(
        "--trust-root",
        metavar="FILE",
        help="with --identity: a pinned Sigstore trusted_root.json (default: the public-good "
        "root shipped with the installed sigstore package; never fetched)",
    )
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    common(verify)


def run(args: argparse.Namespace) -> int:
    return _verify(args)


def trust_from_flags(args: argparse.Namespace) -> Trust:
    from scanner.evidence.dsse import ChainTrust, IdentityTrust, KeyTrust

    kinds = [bool(args.key), bool(args.certificate_chain), bool(args.identity)]
    if sum(kinds) != 1:
        raise UsageError(
            "give exactly one kind of trust: --key PUB.pem, --certificate-chain CA.pem, or "
            "--identity ID --issuer URL"
        )
    if args.certificate_identity and not args.certificate_chain:
        raise UsageError("--certificate-identity goes with --certificate-chain")
    if (args.issuer or args.trust_root) and not args.identity:
        raise UsageError("--issuer and --trust-root go with --identity")
    for flag, value in (
        ("--key", args.key),
        ("--certificate-chain", args.certificate_chain),
        ("--trust-root", args.trust_root),
    ):
        if value and not Path(value).is_file():
            raise UsageError(f"{flag} {value}: no such file")
    if args.key:
        return KeyTrust(Path(args.key))
    if args.certificate_chain:
        return ChainTrust(Path(args.certificate_chain), args.certificate_identity)
    if not args.issuer:
        raise UsageError("--identity needs --issuer (the OIDC issuer that vouched for it)")
    return IdentityTrust(
        args.identity, args.issuer, Path(args.trust_root) if args.trust_root else None
    )


def _verify(args: argparse.Namespace) -> int:
    from scanner.evidence import compare
    from scanner.evidence.check import NotVerified, open_pack
    from scanner.terminal import safe

    trust = trust_from_flags(args)
    try:
        opened = open_pack(args.pack, trust)  # archive.PackError (exit 2) passes through
    except NotVerified as exc:
        return _report(args, None, exc.problems, [])
    try:
        differences = compare.differences(opened.document, rejudge(opened))
    except ModelwardError as exc:  # the archived policies, mappings or inputs do not load
        return _report(args, None, [f"the archived scan cannot be judged again: {exc}"], [])
    if not args.json and not args.quiet:
        p = opened.predicate
        scan = p["scan"]
        print(f"signature: verified, signed by {safe(opened.signer)}")
        print(
            f"members: {len(opened.manifest.entries) + 1}, each with its signed SHA-256 "
            f"(evidence digest {opened.manifest.evidence_digest})"
        )
        print(
            f"scan {safe(scan['id'])}: {scan['started_at']} to {scan['finished_at']}, "
            f"as of {scan.get('as_of')}; modelward {safe(p['tool']['version'])}"
        )
        for source in p["sources"]:
            print(
                f"  source {safe(source['name'])} ({safe(source['type'])}): {source['status']}, "
                f"{source['resource_count']} resources"
            )
        gate = "passed" if p["gate"]["passed"] else f"failed (exit {p['gate']['exit_code']})"
        print(f"gate: {gate}; policy pack sha256 {p['policy_pack']['sha256']}")
    return _report(args, opened, [], differences)


def _report(
    args: argparse.Namespace, opened: Opened | None, problems: list[str], differences: list[str]
) -> int:
    from scanner.commands.printing import dump_json
    from scanner.terminal import safe

    verified = opened is not None and not problems and not differences
    if args.json:
        doc: dict[str, Any] = {"pack": args.pack, "verified": verified, "problems": problems}
        if opened is not None:
            doc.update(
                signer=opened.signer,
                evidence_digest=opened.manifest.evidence_digest,
                statement=dict(opened.predicate),
                members=[e.to_dict() for e in opened.manifest.entries],
                differences=differences,
            )
        dump_json(doc)
        return EXIT_OK if verified else EXIT_FINDINGS
    for problem in problems:
        print(f"{PROBLEM_PREFIX}{safe(args.pack)}: {safe(problem, 600)}")
    for difference in differences:
        print(f"{PROBLEM_PREFIX}re-evaluation: {safe(difference, 600)}")
    if verified:
        if not args.quiet:
            findings = len(opened.document["findings"]) if opened is not None else 0
            print(
                f"re-evaluation: {findings} findings judged again as of the archived date: "
                "every verdict matches"
            )
            print(f"verified {safe(args.pack)}")
        return EXIT_OK
    if not args.quiet:
        what = "verdicts differ" if opened is not None else "pack refused"
        count = len(problems) + len(differences)
        print(f"{count} problem(s): {safe(args.pack)} NOT verified ({what})")
    return EXIT_FINDINGS


def rejudge(opened: Opened) -> dict[str, Any]:
    """The archived scan judged again: the archived resources, policies (selected and with
    params as recorded), mappings, waivers, baseline and gate, as of the archived date. The
    files the loaders read are written to a private temporary directory, under the names the
    pack's (already checked) manifest gives them, and deleted afterwards."""
    from scanner import results
    from scanner.inventory import Inventory, Resource, from_jsonable
    from scanner.merge import collected_inventory
    from scanner.progress import Reporter
    from scanner.scan import ScanRequest, judge, prepare
    from scanner.targeting import Target

    settings = opened.settings
    document = opened.document
    recorded_target = document["scan"].get("target")
    # A targeted scan judged only what its target touches: judged again the same way.
    scan_target = (
        Target(
            model=recorded_target.get("model"),
            resources=frozenset(recorded_target.get("resources", ())),
        )
        if recorded_target is not None
        else None
    )
    with tempfile.TemporaryDirectory(prefix="modelward-evidence-") as tmp:
        root = Path(tmp)
        for name, data in opened.files.items():
            target = root.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

        def local(member: str) -> Path:
            return root.joinpath(*member.split("/"))

        request = ScanRequest(
            sources=(),
            policy_dirs=tuple(local(r.member) for r in settings.policy_roots),
            builtin_policies=False,
            include=settings.include,
            exclude=settings.exclude,
            params=settings.params,
            framework_files=tuple(local(m.member) for m in settings.mappings),
            builtin_frameworks=False,
            frameworks=settings.frameworks,
            gate=settings.gate,
            as_of=_moment(settings.as_of),
            waivers=local(settings.waivers.member) if settings.waivers else None,
            waiver_max_days=settings.waiver_max_days,
            baseline=local(settings.baseline.member) if settings.baseline else None,
            target=scan_target,
        )
        try:
            prepared = prepare(request)
        except ModelwardError as exc:  # name the files as the scan read them, not our copies
            raise type(exc)(_as_archived(exc.message, _origins(opened, root))) from None
        inventory = Inventory(
            Resource(
                id=r["id"],
                type=r["type"],
                name=r["name"],
                source=r["source"],
                # the BOM completeness score is added after evaluation: no policy saw it
                attributes=from_jsonable(
                    {k: v for k, v in r["attributes"].items() if k != "bom_completeness"}
                ),
            )
            for r in document["resources"]
        )
        started = _moment(document["scan"]["started_at"])
        statuses = list(document["scan"]["sources"])
        # Results 1.2 record what rebuilds the collected inventory (`resources[].collected`);
        # given it, the re-evaluated document records the same, and differs if it was edited.
        collected = (
            collected_inventory([document], [s["name"] for s in statuses])
            if str(document.get("schema_version")) not in ("1.0", "1.1")
            else None
        )
        again = judge(
            prepared,
            inventory,
            statuses,
            Reporter(),
            started=started,
            extra={k: document["scan"][k] for k in ("shard",) if k in document["scan"]},
            collected=collected,
        )
        # `plain`: the judged document's resources and findings are converted when read
        archived: dict[str, Any] = _as_archived(results.plain(again), _origins(opened, root))
        return archived


def _moment(text: str) -> dt.datetime:
    from scanner.policy.conditions import as_datetime

    moment = as_datetime(text)
    if moment is None:
        raise UsageError(f"the pack's date {text!r} is not ISO 8601")
    return moment


def _origins(opened: Opened, root: Path) -> dict[str, str]:
    """Each archived file's temporary path (in every spelling results may use) → where the
    scan read it, so the two documents compare word for word."""
    from scanner.yamlpos import display_path

    settings = opened.settings
    pairs = [(f.member, f.origin) for r in settings.policy_roots for f in r.files]
    pairs += [(m.member, m.origin) for m in settings.mappings]
    pairs += [(f.member, f.origin) for f in (settings.waivers, settings.baseline) if f]
    out: dict[str, str] = {}
    for member, origin in pairs:
        local = root.joinpath(*member.split("/"))
        for spelling in (str(local.resolve()), str(local), display_path(local)):
            out[spelling] = origin
    return out


def _as_archived(value: Any, origins: dict[str, str]) -> Any:
    """`value` with every temporary path replaced by its origin, also inside messages."""
    if isinstance(value, str):
        for spelling in sorted(origins, key=len, reverse=True):
            if spelling in value:
                value = value.replace(spelling, origins[spelling])
        return value
    if isinstance(value, dict):
        return {k: _as_archived(v, origins) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_archived(v, origins) for v in value]
    return value
