"""The pipeline, one way: sources → inventory → evaluate → frameworks → gate → results.

Everything that can be wrong with the user's inputs (policies, mappings, params, source specs,
output directory) is checked in `prepare`, before any source is contacted, so a typo costs
seconds, not a full scan.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import baseline as baselines
from scanner import frameworks as fw
from scanner import results
from scanner import waivers as waiver_files
from scanner.bom import completeness as bom_completeness
from scanner.bundled import bundled_dir
from scanner.errors import EXIT_SOURCE, ModelwardError, UsageError
from scanner.findings import Finding
from scanner.gate import GateSettings, decide
from scanner.inventory import Inventory, InventoryError, Resource
from scanner.linking import link
from scanner.policy import params as param_overrides
from scanner.policy.evaluate import evaluate_all
from scanner.policy.loader import PolicySet, load_policy_dirs
from scanner.policy.model import Policy
from scanner.progress import Reporter
from scanner.sources.interface import Source, SourceError, SourceSpec
from scanner.sources.registry import build_source, check_local_targets

MAX_PARALLEL_SOURCES = 4


class InventoryConflictError(ModelwardError):
    exit_code = EXIT_SOURCE


@dataclass(frozen=True)
class ScanRequest:
    sources: tuple[SourceSpec, ...]
    policy_dirs: tuple[Path, ...] = ()
    builtin_policies: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    framework_files: tuple[Path, ...] = ()
    builtin_frameworks: bool = True
    frameworks: tuple[str, ...] = ()
    gate: GateSettings = field(default_factory=GateSettings)
    as_of: dt.datetime | None = None
    waivers: Path | None = None
    waiver_max_days: int = waiver_files.DEFAULT_MAX_DAYS
    baseline: Path | None = None


@dataclass(frozen=True)
class Prepared:
    request: ScanRequest
    policies: tuple[Policy, ...]
    pack: PolicySet
    params_changed: dict[str, dict[str, Any]]
    frameworks: tuple[fw.Framework, ...]
    sources: tuple[Source, ...]
    waivers: waiver_files.WaiverSet | None = None
    baseline: baselines.Baseline | None = None


def select_policies(
    policies: Sequence[Policy], include: Sequence[str], exclude: Sequence[str]
) -> list[Policy]:
    """`include`/`exclude` take ids, wildcards (MW-STO-*) or severities."""

    def hit(policy: Policy, patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(policy.id, p) or p == policy.severity for p in patterns)

    chosen = [p for p in policies if (not include or hit(p, include)) and not hit(p, exclude)]
    if policies and not chosen:
        raise UsageError("the include/exclude filters select no policy")
    return chosen


def load_pack(request: ScanRequest) -> PolicySet:
    dirs = [bundled_dir("policies")] if request.builtin_policies else []
    return load_policy_dirs([*dirs, *request.policy_dirs])


def prepare(request: ScanRequest) -> Prepared:
    pack = load_pack(request)
    chosen = select_policies(pack.policies, request.include, request.exclude)
    effective, changed = param_overrides.apply(chosen, request.params)
    # The built-in mappings describe the built-in pack: without it they would name policies
    # that are not loaded, so they come and go together.
    builtin = request.builtin_frameworks and request.builtin_policies
    files = fw.framework_files(request.framework_files, builtin=builtin)
    loaded = fw.load_frameworks(files, [p.id for p in pack.policies])
    selected = fw.select(loaded, request.frameworks)
    names = [s.name for s in request.sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"source {dupes[0]!r} is given more than once")
    check_local_targets(request.sources)
    sources = tuple(build_source(spec) for spec in request.sources)
    request.gate.check_patterns([p.id for p in pack.policies])
    waivers = (
        waiver_files.load_waivers(
            request.waivers, request.as_of or dt.datetime.now(dt.UTC), request.waiver_max_days
        )
        if request.waivers is not None
        else None
    )
    baseline = baselines.load_baseline(request.baseline) if request.baseline is not None else None
    return Prepared(
        request,
        tuple(effective),
        PolicySet(tuple(effective)),
        changed,
        selected,
        sources,
        waivers,
        baseline,
    )


def _collect_one(source: Source, reporter: Reporter) -> tuple[dict[str, Any], list[Resource]]:
    name = source.spec.name
    reporter.source_started(name)
    started = time.monotonic()
    resources: list[Resource] = []
    problems: list[str] = []
    error: str | None = None
    try:
        collection = source.collect(lambda message: reporter.source_progress(name, message))
        resources = list(collection.resources)
        problems = list(collection.problems)
        if problems:
            more = f" (+{len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            error = problems[0] + more
    except SourceError as exc:
        error = exc.message
    except ModelwardError:
        raise  # the user's input to the source is invalid (e.g. a malformed evidence file): exit 2
    except Exception as exc:  # a bug in a source must fail closed, not crash the scan
        error = f"internal error in source: {type(exc).__name__}: {exc}"
        reporter.note(traceback.format_exc())
    status = "error" if error else "ok"
    reporter.source_done(name, status, len(resources), time.monotonic() - started, error)
    entry: dict[str, Any] = {
        "name": name,
        "type": source.spec.kind,
        "status": status,
        "error": error,
        "resource_count": len(resources),
    }
    if problems:
        entry["problems"] = problems
    return entry, resources


def collect(
    sources: Sequence[Source], reporter: Reporter
) -> tuple[Inventory, list[dict[str, Any]]]:
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_SOURCES, len(sources)))) as pool:
        outcomes = list(pool.map(lambda s: _collect_one(s, reporter), sources))
    inventory = Inventory()
    try:
        for _, resources in outcomes:
            for resource in resources:
                inventory.add(resource)
    except InventoryError as exc:
        raise InventoryConflictError(f"sources disagree: {exc}") from None
    return inventory, [entry for entry, _ in outcomes]


def evaluate(
    prepared: Prepared, inventory: Inventory, now: dt.datetime, reporter: Reporter
) -> list[Finding]:
    reporter.policies_started(len(prepared.policies))
    findings = evaluate_all(
        prepared.policies, inventory, now, on_policy=lambda p: reporter.policy_done(p.id)
    )
    return fw.attach_controls(findings, prepared.frameworks)


def _gate(
    prepared: Prepared, findings: list[Finding], statuses: list[dict[str, Any]], now: dt.datetime
) -> tuple[list[Finding], dict[str, Any]]:
    """Waivers first (they change statuses, which the roll-up and every output then see), then
    the baseline comparison, then the rules. Returns the findings as waived, and the gate."""
    notes: list[str] = []
    waiver_summary = None
    if prepared.waivers is not None:
        findings, waiver_summary, waiver_notes = waiver_files.apply(findings, prepared.waivers, now)
        notes += waiver_notes
    known: frozenset[tuple[str, str]] = frozenset()
    baseline_summary = None
    if prepared.baseline is not None:
        known = prepared.baseline.keys
        baseline_summary, baseline_notes = baselines.summarise(prepared.baseline, findings)
        notes += baseline_notes
    gate = decide(findings, statuses, prepared.request.gate, known)
    gate["notes"] = [*gate["notes"], *notes]
    if waiver_summary is not None:
        gate["waivers"] = waiver_summary
    if baseline_summary is not None:
        gate["baseline"] = baseline_summary
    return findings, gate


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Outcome:
    """A scan's results document, and the linked inventory it was judged on (whose resources
    keep the raw source answers that results.json leaves out: evidence packs archive them)."""

    document: dict[str, Any]
    inventory: Inventory


def run(prepared: Prepared, reporter: Reporter) -> dict[str, Any]:
    return run_with_inventory(prepared, reporter).document


def run_with_inventory(prepared: Prepared, reporter: Reporter) -> Outcome:
    started = dt.datetime.now(dt.UTC)
    collected, statuses = collect(prepared.sources, reporter)
    inventory = link(collected)
    return Outcome(judge(prepared, inventory, statuses, reporter, started=started), inventory)


def judge(
    prepared: Prepared,
    inventory: Inventory,
    statuses: list[dict[str, Any]],
    reporter: Reporter,
    *,
    started: dt.datetime,
) -> dict[str, Any]:
    """Everything after collection: a pure function of the linked inventory, the prepared
    policies, mappings, waivers, baseline and gate settings, and the evaluation date (plus the
    scan's id and clock times). `modelward evidence verify` runs it again on an archived scan.

    The evaluation date is kept to the second, as results record it (`scan.as_of`), so an
    archived scan re-evaluated as of its recorded date sees the same instant."""
    now = (prepared.request.as_of or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    findings = evaluate(prepared, inventory, now, reporter)
    findings, gate = _gate(prepared, findings, statuses, now)
    scan = {
        "id": str(uuid.uuid4()),
        "started_at": iso(started),
        "finished_at": iso(dt.datetime.now(dt.UTC)),
        "sources": statuses,
        "as_of": iso(now),
        "policy_pack": {"count": len(prepared.pack.policies), "sha256": prepared.pack.sha256},
        "params": prepared.params_changed,
    }
    document = results.build(
        scan=scan,
        policies=prepared.policies,
        resources=list(inventory),
        findings=findings,
        frameworks=fw.roll_up(prepared.frameworks, findings, inventory.of_type("attestation"), now),
        maturity=fw.maturity(prepared.policies, findings),
        gate=gate,
    )
    # After evaluation on purpose: a summary for reports, not an input to policies.
    return bom_completeness.annotate(document)
