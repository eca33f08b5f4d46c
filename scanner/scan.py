"""The pipeline, one way: sources → inventory → evaluate → frameworks → gate → results.

Everything that can be wrong with the user's inputs (policies, mappings, params, source specs,
output directory) is checked in `prepare`, before any source is contacted, so a typo costs
seconds, not a full scan.

Collection runs against a time limit (`--timeout`, `ScanRequest.timeout`): each source gets
the deadline with its progress callback (`scanner.sources.watch`), makes no request after it
and returns what it read; while the scan waits, the progress names the requests that have
been in flight longest. A source still running `DEADLINE_GRACE` seconds after the limit is
abandoned: its status is an error naming what it was waiting on, and the scan goes on to
write its outputs without it (exit 3).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gc
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
from scanner.inventory import Gap, Inventory, InventoryError, Resource
from scanner.linking import link
from scanner.policy import params as param_overrides
from scanner.policy.evaluate import evaluate_all
from scanner.policy.loader import PolicySet, load_policy_dirs
from scanner.policy.model import Policy
from scanner.progress import Reporter
from scanner.sources.interface import (
    Divisible,
    Narrowable,
    Narrowing,
    Source,
    SourceError,
    SourceSpec,
    produced_types,
    source_provider,
    summary,
)
from scanner.sources.registry import build_source, check_local_targets
from scanner.sources.shards import Shard, source_unit
from scanner.sources.watch import CallWatch, Deadline, SourceProgress
from scanner.targeting import Target, judged_ids, needed_types, seeds

MAX_PARALLEL_SOURCES = 4
# The whole collection's time limit, in seconds, unless the user gives one (`--timeout`).
DEFAULT_TIMEOUT = 3600.0
# After the limit, sources have this long to return what they read (their requests in
# flight end within their read timeout) before they are abandoned.
DEADLINE_GRACE = 30.0
# While waiting, a request in flight longer than WAIT_NOTICE seconds is named, every
# HEARTBEAT seconds.
HEARTBEAT = 10.0
WAIT_NOTICE = 5.0


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
    timeout: float | None = DEFAULT_TIMEOUT  # seconds for the whole collection; None: none
    shard: Shard | None = None
    target: Target | None = None
    # Read every API family, whatever the selected policies read (a BOM lists every model).
    collect_everything: bool = False


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


@dataclass
class _Outcome:
    entry: dict[str, Any]
    resources: list[Resource]
    gaps: list[Gap]


def _collect_one(source: Source, reporter: Reporter, watch: CallWatch) -> _Outcome:
    name = source.spec.name
    reporter.source_started(name)
    started = time.monotonic()
    resources: list[Resource] = []
    problems: list[str] = []
    gaps: list[Gap] = []
    accounts: list[dict[str, Any]] = []
    error: str | None = None
    progress = SourceProgress(lambda message: reporter.source_progress(name, message), watch)
    try:
        collection = source.collect(progress)
        resources = list(collection.resources)
        problems = list(collection.problems)
        gaps = list(collection.gaps)
        accounts = [a.to_dict() for a in collection.accounts]
        error = summary(problems)
    except SourceError as exc:
        error = exc.message
    except ModelwardError:
        raise  # the user's input to the source is invalid (e.g. a malformed evidence file): exit 2
    except Exception as exc:  # a bug in a source must fail closed, not crash the scan
        error = f"internal error in source: {type(exc).__name__}: {exc}"
        reporter.debug(traceback.format_exc())
    if error is not None and not resources:
        gaps.append(
            Gap(
                produced_types(source),
                f"source {name} failed: {error}",
                provider=source_provider(source),
            )
        )
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
    if accounts:
        entry["accounts"] = accounts
    return _Outcome(entry, resources, _recorded(entry, gaps))


def _recorded(entry: dict[str, Any], gaps: Sequence[Gap]) -> list[Gap]:
    """The source's gaps, in a stable order, also in its status entry (`gaps`): results keep
    them, so `merge` links the shards' union with the same gaps one scan would have."""
    ordered = sorted(dict.fromkeys(gaps), key=Gap.order)
    if ordered:
        entry["gaps"] = [gap.to_dict() for gap in ordered]
    return ordered


def _abandoned(source: Source, reporter: Reporter, watch: CallWatch, timeout: float) -> _Outcome:
    """A source still running after the time limit: an error naming what it waits on."""
    name = source.spec.name
    waiting = watch.waiting()
    what = f"; waiting on {waiting[0][0]} for {waiting[0][1]:.0f} s" if waiting else ""
    error = f"did not finish within the scan's time limit ({timeout:g} s){what}"
    reporter.source_done(name, "error", 0, timeout, error)
    entry = {
        "name": name,
        "type": source.spec.kind,
        "status": "error",
        "error": error,
        "resource_count": 0,
    }
    return _Outcome(
        entry,
        [],
        _recorded(
            entry,
            [
                Gap(
                    produced_types(source),
                    f"source {name}: {error}",
                    provider=source_provider(source),
                )
            ],
        ),
    )


class _Collector:
    """Runs the sources (at most MAX_PARALLEL_SOURCES at once) in daemon threads, so a source
    stuck past the time limit can be left behind without holding the process open."""

    def __init__(self, sources: Sequence[Source], reporter: Reporter, deadline: Deadline):
        # One deadline for the whole collection: a targeted scan's second round of sources
        # gets what the first left of it.
        self.sources = list(sources)
        self.reporter = reporter
        self.timeout = deadline.seconds
        self.watches = [CallWatch(deadline) for _ in self.sources]
        self.deadline = deadline
        self.outcomes: list[_Outcome | BaseException | None] = [None] * len(self.sources)
        self._slots = threading.Semaphore(MAX_PARALLEL_SOURCES)
        self._done = threading.Condition()

    def _run(self, index: int) -> None:
        with self._slots:
            try:
                if self.deadline.passed():
                    result: _Outcome | BaseException = _abandoned(
                        self.sources[index], self.reporter, self.watches[index], self.timeout or 0
                    )
                else:
                    result = _collect_one(self.sources[index], self.reporter, self.watches[index])
            except BaseException as exc:  # re-raised on the scan's thread
                result = exc
        with self._done:
            self.outcomes[index] = result
            self._done.notify_all()

    def run(self) -> list[_Outcome]:
        for index in range(len(self.sources)):
            threading.Thread(target=self._run, args=(index,), daemon=True).start()
        remaining = self.deadline.remaining()
        give_up = None if remaining is None else time.monotonic() + remaining + DEADLINE_GRACE
        with self._done:
            while any(o is None for o in self.outcomes):
                wait = HEARTBEAT
                if give_up is not None:
                    wait = min(wait, max(0.0, give_up - time.monotonic()))
                    if wait == 0.0:
                        break
                self._done.wait(wait)
                self._report_waiting()
        out: list[_Outcome] = []
        for index, outcome in enumerate(self.outcomes):
            if isinstance(outcome, BaseException):
                raise outcome
            if outcome is None:
                assert self.timeout is not None
                outcome = _abandoned(
                    self.sources[index], self.reporter, self.watches[index], self.timeout
                )
            out.append(outcome)
        return out

    def _report_waiting(self) -> None:
        for source, watch, outcome in zip(self.sources, self.watches, self.outcomes, strict=True):
            if outcome is None:
                longest = watch.waiting(WAIT_NOTICE)
                if longest:
                    what, seconds = longest[0]
                    more = f" (+{len(longest) - 1} more)" if len(longest) > 1 else ""
                    self.reporter.waiting(source.spec.name, f"{what}{more}", seconds)


def _run_sources(
    sources: Sequence[Source], reporter: Reporter, deadline: Deadline
) -> list[_Outcome]:
    if not sources:
        return []
    return _Collector(sources, reporter, deadline).run()


def inventory_of(parts: Sequence[Sequence[Resource]]) -> Inventory:
    """One inventory from the sources' resources, added in source order (the first known value
    of an attribute wins, so the order is part of the result)."""
    inventory = Inventory()
    try:
        for resources in parts:
            for resource in resources:
                inventory.add(resource)
    except InventoryError as exc:
        raise InventoryConflictError(f"sources disagree: {exc}") from None
    return inventory


def _share(sources: Sequence[Source], shard: Shard | None) -> list[Source]:
    """The sources this shard runs: its share of the accounts of every source that divides
    by account, and every other source the shard owns."""
    if shard is None:
        return list(sources)
    chosen: list[Source] = []
    for source in sources:
        if isinstance(source, Divisible):
            source.divide(shard)
            chosen.append(source)
        elif shard.owns(source_unit(source.spec.name)):
            chosen.append(source)
    return chosen


def collect(
    sources: Sequence[Source],
    reporter: Reporter,
    shard: Shard | None = None,
    narrowing: Narrowing | None = None,
    timeout: float | None = None,
) -> tuple[Inventory, list[dict[str, Any]], list[Gap]]:
    """Run the sources (this shard's share of them) and merge what they report, with the
    gaps they left (`Gap`: resources that may exist unreported). `timeout` bounds the whole
    collection, both rounds of a targeted scan together.

    A targeted scan runs in two rounds: first every source that can find the target by itself
    (registries name the model's versions and the URIs of its files), then the sources that
    need those ids to know which bucket to read (`Narrowable.needs_seeds`).
    """
    chosen = _share(sources, shard)
    first = list(chosen)
    second: list[Source] = []
    if narrowing is not None:
        for source in chosen:
            if isinstance(source, Narrowable):
                source.narrow(narrowing)
                if narrowing.targeted and source.needs_seeds:
                    second.append(source)
        first = [s for s in chosen if s not in second]
    deadline = Deadline(timeout)
    outcomes = dict(zip(map(id, first), _run_sources(first, reporter, deadline), strict=True))
    if second:
        assert narrowing is not None
        found = inventory_of([o.resources for o in outcomes.values()])
        seeded = Narrowing(narrowing.types, narrowing.model, narrowing.ids | seeds(found))
        for source in second:
            assert isinstance(source, Narrowable)
            source.narrow(seeded)
        outcomes.update(zip(map(id, second), _run_sources(second, reporter, deadline), strict=True))
    ordered = [outcomes[id(s)] for s in chosen]
    inventory = inventory_of([o.resources for o in ordered])
    gaps = [gap for o in ordered for gap in o.gaps]
    return inventory, [o.entry for o in ordered], gaps


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


def narrowing_for(prepared: Prepared) -> Narrowing:
    """What the sources must read: the types the selected policies need, and the target."""
    target = prepared.request.target
    policies = prepared.policies
    if target is not None:
        policies = tuple(p for p in policies if p.resource in target.TYPES)
    return Narrowing(
        types=None if prepared.request.collect_everything else needed_types(policies),
        model=target.model if target is not None else None,
        ids=target.resources if target is not None else frozenset(),
    )


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
    request = prepared.request
    collected, statuses, gaps = collect(
        prepared.sources, reporter, request.shard, narrowing_for(prepared), request.timeout
    )
    extra: dict[str, Any] = {}
    if request.shard is not None:
        extra["shard"] = {
            "index": request.shard.index,
            "count": request.shard.count,
            "sources": [s.spec.name for s in prepared.sources],
        }
    return finish(
        prepared,
        collected,
        statuses,
        started=started,
        extra=extra,
        reporter=reporter,
        gaps=gaps,
    )


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Linking, evaluation and the document allocate millions of small objects that form
    almost no reference cycles (a few hundred per 300,000 findings, measured), while CPython's
    cycle collector would walk every live object of a large inventory again and again: about
    a third of evaluation time at 100,000 resources (benchmarks/bench_scale.py). It is paused
    here and runs once afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()


def finish(
    prepared: Prepared,
    collected: Inventory,
    statuses: list[dict[str, Any]],
    *,
    started: dt.datetime,
    extra: Mapping[str, Any],
    reporter: Reporter,
    as_of: dt.datetime | None = None,
    finished: dt.datetime | None = None,
    gaps: Sequence[Gap] = (),
) -> Outcome:
    """Everything after collection, from the collected inventory: link, then `judge`. A scan
    calls it with what its sources read and the gaps they left; `merge` with the inventory
    rebuilt from shard results, so both judge the same estate the same way."""
    with cycle_collection_paused():
        inventory = link(collected, gaps=gaps)
        document = judge(
            prepared,
            inventory,
            statuses,
            reporter,
            started=started,
            extra=extra,
            as_of=as_of,
            finished=finished,
            collected=collected,
        )
        return Outcome(document, inventory)


def judge(
    prepared: Prepared,
    inventory: Inventory,
    statuses: list[dict[str, Any]],
    reporter: Reporter,
    *,
    started: dt.datetime,
    extra: Mapping[str, Any] | None = None,
    as_of: dt.datetime | None = None,
    finished: dt.datetime | None = None,
    collected: Inventory | None = None,
) -> dict[str, Any]:
    """Everything after linking: a pure function of the linked inventory, the prepared
    policies, mappings, waivers, baseline and gate settings, the target, and the evaluation
    date (plus the scan's id and clock times). `modelward evidence verify` runs it again on an
    archived scan. With `collected` (the inventory before linking), every resource records
    what rebuilds it, so shard results can be merged and linked again.

    The evaluation date is kept to the second, as results record it (`scan.as_of`), so an
    archived scan re-evaluated as of its recorded date sees the same instant."""
    now = (prepared.request.as_of or as_of or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    policies = prepared.policies
    target = prepared.request.target
    judged: frozenset[str] | None = None
    scan_extra = dict(extra or {})
    if target is not None:
        judged = judged_ids(inventory, target)
        policies = tuple(p for p in policies if p.resource in target.TYPES)
        scan_extra["target"] = {
            "model": target.model,
            "resources": sorted(target.resources),
            "judged": sorted(judged),
        }
        prepared = replace(prepared, policies=policies)
    reporter.policies_started(len(policies))
    findings = evaluate_all(
        policies, inventory, now, on_policy=lambda p: reporter.policy_done(p.id), only=judged
    )
    findings = fw.attach_controls(findings, prepared.frameworks)
    findings, gate = _gate(prepared, findings, statuses, now)
    scan = {
        "id": str(uuid.uuid4()),
        "started_at": iso(started),
        "finished_at": iso(finished or dt.datetime.now(dt.UTC)),
        "sources": statuses,
        "as_of": iso(now),
        "policy_pack": {"count": len(prepared.pack.policies), "sha256": prepared.pack.sha256},
        "params": prepared.params_changed,
        **scan_extra,
    }
    document = results.build(
        scan=scan,
        policies=policies,
        resources=list(inventory),
        findings=findings,
        frameworks=fw.roll_up(prepared.frameworks, findings, inventory.of_type("attestation"), now),
        maturity=fw.maturity(policies, findings),
        gate=gate,
        collected=collected,
    )
    # After evaluation on purpose: a summary for reports, not an input to policies.
    return bom_completeness.annotate(document)
