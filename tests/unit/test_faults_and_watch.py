"""The shared fault rules (`scanner.sources.faults`) and the scan's time limit and call register
(`scanner.sources.watch`, `scanner.scan`), on their own: fakes stand in for slow sources only
to control time, the pipeline around them is the real one."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from scanner import scan as scan_module
from scanner.inventory import RESOURCE_TYPES, Resource, Unknown
from scanner.progress import Reporter
from scanner.sources.faults import Fault, FaultKind, FaultLog, MalformedAnswer, require
from scanner.sources.interface import Collection, Progress, SourceSpec
from scanner.sources.watch import CallWatch, Deadline, SourceProgress, watch_of


def test_every_fault_kind_reads_as_an_unknown_naming_the_operation() -> None:
    reasons = {kind: Fault(kind, "svc:Op", "detail").reason for kind in FaultKind}
    assert all("svc:Op" in reason for reason in reasons.values())
    assert reasons[FaultKind.MALFORMED] == "malformed answer from svc:Op (detail)"
    assert Fault(FaultKind.DENIED, "s3:GetBucketPolicy").unknown() == Unknown(
        "denied: s3:GetBucketPolicy"
    )


def test_require_names_the_first_missing_or_mistyped_field() -> None:
    assert require({"a": 1, "b": []}, "svc:Op", ("a",), {"b": list}) == {"a": 1, "b": []}
    with pytest.raises(MalformedAnswer, match=r"malformed answer from svc:Op \(no a\)"):
        require({}, "svc:Op", ("a",))
    with pytest.raises(MalformedAnswer, match="b is not a list"):
        require({"b": "x"}, "svc:Op", types={"b": list})
    with pytest.raises(MalformedAnswer, match="not an object"):
        require(["a"], "svc:Op")


def test_the_fault_log_is_one_line_per_reason_with_counts() -> None:
    log = FaultLog()
    for _ in range(3):
        log.record(Fault(FaultKind.DENIED, "s3:GetBucketPolicy"))
    assert log.record(Fault(FaultKind.STALLED, "iam:Op", "5 s")) == Unknown(
        "no answer within 5 s from iam:Op"
    )
    assert log.lines("account 1: ") == [
        "account 1: denied: s3:GetBucketPolicy (3 calls)",
        "account 1: no answer within 5 s from iam:Op (1 call)",
    ]


def test_a_deadline_passes_and_a_missing_one_never_does() -> None:
    now = [100.0]
    deadline = Deadline(5, clock=lambda: now[0])
    assert not deadline.passed() and deadline.remaining() == 5
    now[0] = 105.0
    assert deadline.passed() and deadline.remaining() == 0
    assert not Deadline(None).passed() and Deadline(None).remaining() is None


def test_calls_in_flight_are_listed_longest_first_and_removed_when_done() -> None:
    watch = CallWatch()
    with watch.call("s3:GetBucketAcl a"):
        time.sleep(0.02)
        with watch.call("iam:Op"):
            waiting = watch.waiting()
            assert [what for what, _ in waiting] == ["s3:GetBucketAcl a", "iam:Op"]
            assert watch.waiting(longer_than=60) == []
    assert watch.waiting() == []


def test_a_source_finds_the_watch_in_its_progress_callback() -> None:
    watch = CallWatch(Deadline(1))
    messages: list[str] = []
    progress = SourceProgress(messages.append, watch)
    progress("hello")
    assert messages == ["hello"] and watch_of(progress) is watch
    assert not watch_of(messages.append).deadline.passed()  # a plain function: no limit


class Cooperating:
    """Makes "requests" until the deadline, then returns what it read with an Unknown."""

    produces = frozenset({"network"})

    def __init__(self, name: str) -> None:
        self.spec = SourceSpec("fake", "x", name)

    def collect(self, progress: Progress) -> Collection:
        watch = watch_of(progress)
        while not watch.deadline.passed():
            with watch.call("fake:Slow thing"):
                time.sleep(0.05)
        rid = "net-1"
        late = Fault(FaultKind.DEADLINE, "fake:Slow").unknown()
        resource = Resource(rid, "network", rid, self.spec.name, {"flow_logs": late})
        return Collection((resource,), (late.reason,))


class Stuck:
    """Ignores the deadline: a call that never returns."""

    def __init__(self, name: str, release: threading.Event) -> None:
        self.spec = SourceSpec("fake", "y", name)
        self.release = release

    def collect(self, progress: Progress) -> Collection:
        with watch_of(progress).call("fake:Stuck forever"):
            self.release.wait(30)
        return Collection(())


class Recording(Reporter):
    def __init__(self) -> None:
        self.waits: list[tuple[str, str]] = []

    def waiting(self, name: str, what: str, seconds: float) -> None:
        self.waits.append((name, what))


def test_the_time_limit_keeps_what_cooperating_sources_read_and_abandons_the_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scan_module, "DEADLINE_GRACE", 0.5)
    monkeypatch.setattr(scan_module, "HEARTBEAT", 0.1)
    monkeypatch.setattr(scan_module, "WAIT_NOTICE", 0.1)
    release = threading.Event()
    reporter = Recording()
    sources: list[Any] = [Cooperating("ok-ish"), Stuck("stuck", release)]
    started = time.monotonic()
    try:
        inventory, statuses, gaps = scan_module.collect(sources, reporter, timeout=0.5)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    by_name = {s["name"]: s for s in statuses}
    assert by_name["ok-ish"]["resource_count"] == 1
    assert "time limit" in by_name["ok-ish"]["error"]
    stuck = by_name["stuck"]
    assert stuck["status"] == "error" and stuck["resource_count"] == 0
    assert "did not finish within the scan's time limit (0.5 s)" in stuck["error"]
    assert "waiting on fake:Stuck forever" in stuck["error"]
    assert [g.types for g in gaps] == [frozenset(RESOURCE_TYPES)]  # `Stuck` declares nothing
    assert ("stuck", "fake:Stuck forever") in reporter.waits
    assert len(inventory) == 1
