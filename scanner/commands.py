"""What each CLI command does, in terms of the layers: glue, kept apart from argument parsing."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner import baseline as baselines
from scanner import frameworks as fw
from scanner import results
from scanner.bundled import bundled_dir
from scanner.config import Config, load_config, resolve_source, with_trust
from scanner.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
)
from scanner.gate import GateSettings, Selector
from scanner.outputs.interface import prepare_output_dir, write_atomically
from scanner.outputs.registry import parse_formats, writers_for
from scanner.policy import params as param_overrides
from scanner.policy.conditions import as_datetime
from scanner.policy.loader import PolicySet, load_policy_dirs
from scanner.policy.testing import run_file, test_files
from scanner.progress import make_reporter
from scanner.scan import ScanRequest, prepare, run
from scanner.sources.registry import parse_spec
from scanner.terminal import print_scan_summary, safe
from scanner.waivers import DEFAULT_MAX_DAYS


def _dump_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def _as_of(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    moment = as_datetime(text)
    if moment is None:
        raise UsageError(f"--as-of {text!r} is not an ISO 8601 date")
    return moment


def render_all(
    out_dir: Path,
    formats: Sequence[str],
    document: dict[str, Any],
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Path]:
    """Every format rendered in memory first, then written atomically: all or nothing."""
    files: dict[str, bytes] = {}
    for writer in writers_for(formats, options):
        files.update(writer.render(document))
    return write_atomically(out_dir, files)


def _bom_options(with_findings: bool) -> dict[str, dict[str, Any]]:
    return {"cyclonedx": {"with_findings": with_findings}}


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def _gate_settings(args: argparse.Namespace, config: Config) -> GateSettings:
    """Flags beat the config file; a list given as flags replaces the config's list."""

    def pick(flag: Any, configured: Any, default: Any) -> Any:
        return flag if flag not in (None, []) else configured if configured is not None else default

    return GateSettings(
        fail_on=args.fail_on or config.fail_on or "high",
        allow_partial=bool(pick(args.allow_partial, config.allow_partial, False)),
        hard_fail_on=Selector.parse(pick(_split(args.hard_fail_on), config.hard_fail_on, ())),
        soft_fail_on=Selector.parse(pick(_split(args.soft_fail_on), config.soft_fail_on, ())),
        soft_fail=bool(pick(args.soft_fail, config.soft_fail, False)),
    )


def scan(args: argparse.Namespace) -> int:
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
    overrides = param_overrides.merge(config.params, param_overrides.from_flags(args.param))
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
        gate=_gate_settings(args, config),
        as_of=_as_of(args.as_of),
        waivers=Path(args.waivers) if args.waivers else config.waivers,
        waiver_max_days=config.waiver_max_days or DEFAULT_MAX_DAYS,
        baseline=Path(args.baseline) if args.baseline else config.baseline,
    )
    formats = parse_formats(args.format if args.format else (config.formats or ["json"]))
    out_dir_arg = args.output_dir or config.output_dir
    if (args.format or config.formats) and not out_dir_arg:
        what = "--format" if args.format else f"{config.file}: output.formats"
        raise UsageError(f"{what} needs an output directory (-o DIR or output.dir)")
    prepared = prepare(request)
    out_dir = prepare_output_dir(out_dir_arg) if out_dir_arg else None
    create_baseline = Path(args.create_baseline) if args.create_baseline else None
    if create_baseline is not None:
        prepare_output_dir(create_baseline.parent)
    reporter = make_reporter(args.quiet, args.verbose)
    if not prepared.policies:
        reporter.note("no policies loaded: nothing will be evaluated")
    try:
        document = run(prepared, reporter)
    finally:
        reporter.close()
    _check_contract(document)
    with_findings = bool(
        args.bom_with_findings if args.bom_with_findings is not None else config.bom_with_findings
    )
    written = (
        render_all(out_dir, formats, document, _bom_options(with_findings))
        if out_dir is not None
        else []
    )
    if create_baseline is not None:
        written += write_atomically(
            create_baseline.parent,
            {create_baseline.name: baselines.dumps(baselines.create(document))},
        )
    if not args.quiet:
        print_scan_summary(document, sys.stdout)
        for path in written:
            print(f"wrote {path}")
    elif not document["gate"]["passed"]:
        for reason in document["gate"]["reasons"]:
            print(f"modelward: {safe(reason, 400)}", file=sys.stderr)
    return int(document["gate"]["exit_code"])


def _check_contract(document: dict[str, Any]) -> None:
    """Never write results that break the published contract: that is a bug, caught here."""
    problems = results.problems(document)
    if problems:
        raise RuntimeError(f"results do not match the schema: {problems[0]}")


def _pack(args: argparse.Namespace, extra: Sequence[str] = ()) -> PolicySet:
    dirs = [] if getattr(args, "no_builtin_policies", False) else [bundled_dir("policies")]
    return load_policy_dirs([*dirs, *extra, *getattr(args, "policies", [])])


def policies(args: argparse.Namespace) -> int:
    action = args.policies_command
    if action == "list":
        pack = _pack(args)
        rows = [
            {
                "id": p.id,
                "severity": p.severity,
                "maturity": p.maturity,
                "resource": p.resource,
                "title": p.title,
                "file": p.file,
            }
            for p in pack.policies
        ]
        if args.json:
            _dump_json(rows)
        else:
            _table(["id", "severity", "maturity", "resource", "title"], rows)
            print(f"{len(rows)} policies")
        return EXIT_OK
    if action == "show":
        policy = _pack(args).by_id().get(args.policy_id)
        if policy is None:
            raise UsageError(f"no policy with id '{args.policy_id}'")
        print(f"# {policy.file}")
        import yaml

        print(yaml.safe_dump(dict(policy.document), sort_keys=False, allow_unicode=True), end="")
        return EXIT_OK
    if action == "schema":
        from scanner.schemas import load_schema

        _dump_json(load_schema("policy/schema/policy.schema.json"))
        return EXIT_OK
    if action == "validate":
        pack = load_policy_dirs(args.dirs)
        print(f"{len(pack.policies)} policies valid in {', '.join(args.dirs)}")
        return EXIT_OK
    return _policies_test(args)


def _policies_test(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.exists():
        raise UsageError(f"{args.dir}: no such file or directory")
    dirs = [bundled_dir("policies")] if args.with_builtin else []
    policy_root = root if root.is_dir() else root.parent
    pack = load_policy_dirs([*dirs, policy_root, *args.policies])
    files = test_files(root)
    if not files:
        raise UsageError(f"{args.dir}: no policy test files (*_test.yaml)")
    by_id = pack.by_id()
    outcomes = []
    for file in files:
        outcomes.extend(run_file(file, by_id))
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        if o.ok and not args.verbose:
            continue
        mark = "PASS" if o.ok else "FAIL"
        print(f"{mark} {o.file}:{o.line} {o.policy_id}: {safe(o.name)}")
        for problem in o.problems:
            print(f"     {safe(problem, 600)}")
    tested = sorted({o.policy_id for o in outcomes})
    untested = sorted(
        set(by_id)
        - set(tested)
        - ({p.id for p in load_policy_dirs(dirs).policies} if dirs else set())
    )
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} policy test cases passed "
        f"({len(files)} file(s), {len(tested)} policies tested)"
    )
    if untested:
        print(f"policies without tests: {', '.join(untested)}")
    return EXIT_FINDINGS if failed else EXIT_OK


def frameworks(args: argparse.Namespace) -> int:
    pack = _pack(args)
    files = fw.framework_files(args.framework_file, builtin=not args.no_builtin_policies)
    loaded = fw.load_frameworks(files, [p.id for p in pack.policies])
    if args.frameworks_command == "list":
        rows = [dict(fw.describe_framework(f)) for f in loaded]
        if args.json:
            _dump_json(rows)
        else:
            _table(["id", "title", "version", "controls"], rows)
            print(f"{len(rows)} frameworks")
        return EXIT_OK
    found = fw.select(loaded, [args.framework_id])[0]
    controls = [
        {
            "id": c.id,
            "title": c.title,
            "policies": ", ".join(c.policies)
            or f"manual{f' ({c.attestation})' if c.attestation else ''}",
        }
        for c in found.controls
    ]
    if args.json:
        _dump_json(
            {
                **fw.describe_framework(found),
                "controls": [
                    {
                        "id": c.id,
                        "title": c.title,
                        "policies": list(c.policies),
                        "attestation": c.attestation,
                    }
                    for c in found.controls
                ],
            }
        )
    else:
        print(f"{found.title} ({found.id}{', ' + found.version if found.version else ''})")
        _table(["id", "title", "policies"], controls)
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    document = results.load(args.results)
    out_dir = prepare_output_dir(args.output_dir)
    for path in render_all(out_dir, formats, document, _bom_options(args.bom_with_findings)):
        if not args.quiet:
            print(f"wrote {path}")
    return EXIT_OK


def bom(args: argparse.Namespace) -> int:
    """The scan pipeline for its inventory: policies are loaded and evaluated only when
    findings are to be attached, and the gate never looks at findings (`fail_on: none`), so
    the exit code says only whether every source could be read."""
    from scanner.bom.estate import read_estate
    from scanner.outputs.cyclonedx_writer import CycloneDxWriter
    from scanner.outputs.spdx_writer import SpdxWriter

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
    )
    target = None if args.output == "-" else Path(args.output)
    if target is not None:
        if target.is_dir():
            raise UsageError(f"-o {args.output}: is a directory; give the BOM's file name")
        prepare_output_dir(target.parent)
    prepared = prepare(request)
    reporter = make_reporter(args.quiet, args.verbose)
    try:
        document = run(prepared, reporter)
    finally:
        reporter.close()
    _check_contract(document)
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


def verify(args: argparse.Namespace) -> int:
    from scanner.artefacts.signatures.trust import TrustConfigError, TrustSet, from_flags
    from scanner.verify import verify_model

    flags = bool(args.key or args.certificate_chain or args.identity)
    if args.serialization_only and (flags or args.signature):
        raise UsageError("--serialization-only checks no signature: drop the trust flags")
    if args.identity and not (args.issuer and args.trust_root):
        raise UsageError(
            "--identity needs --issuer and --trust-root (a pinned Sigstore trusted_root.json: "
            "modelward verifies offline)"
        )
    if (args.issuer or args.trust_root) and not args.identity:
        raise UsageError("--issuer and --trust-root go with --identity")
    if args.serialization_only:
        trust = TrustSet()
    elif flags:
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
    from scanner.artefacts.s3fetch import parse_size

    report = verify_model(
        args.model,
        trust,
        args.signature,
        max_bytes=parse_size(args.max_bytes),
        serialization_only=args.serialization_only,
    )
    if args.json:
        _dump_json(report.as_json())
        return report.exit_code
    for problem in report.problems:
        print(f"{PROBLEM_PREFIX}{safe(problem, 600)}")
    if report.passed:
        if not args.quiet:
            signed = (
                "signature not checked"
                if report.serialization_only
                else f"signed by {safe(report.signature.identity or '')}"
            )
            print(
                f"verified {safe(report.model)}: {signed};"
                f" no unsafe serialization in {report.files} file(s)"
            )
    elif not args.quiet:
        verdict = "could not be verified" if report.incomplete else "must not be deployed"
        print(f"{len(report.problems)} problem(s): {safe(report.model)} {verdict}")
    return report.exit_code


PROBLEM_PREFIX = "FAIL "


def diff(args: argparse.Namespace) -> int:
    from scanner import diff as diffing
    from scanner.outputs import diff_render

    old = results.load(args.old)
    new = results.load(args.new)
    document = diffing.diff(old, new, args.old, args.new)
    if args.format == "json":
        _dump_json(document)
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


def _table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(Text(safe(row.get(c, ""))) for c in columns))
    console.print(table)
