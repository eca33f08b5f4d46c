"""The Azure source's calls under the scan's time limit, and an account whose reads broke off."""

from __future__ import annotations

import threading

import pytest

from scanner.inventory import Unknown
from scanner.sources.azure.facts import AccountFacts, ContainerFacts
from scanner.sources.azure.faults import AzureSourceFailed, Calls
from scanner.sources.objectstore import Listing, StoreContents
from scanner.sources.watch import CallWatch, Deadline

OPERATION = "Blob Containers - List (acct1)"
ACTION = "Microsoft.Storage/storageAccounts/blobServices/containers/read"
LATE = f"not read: the scan's time limit passed before {OPERATION}"


def past_deadline() -> CallWatch:
    return CallWatch(Deadline(0, clock=lambda: 0.0))


def test_no_call_is_made_after_the_time_limit():
    calls = Calls(past_deadline())
    asked: list[str] = []
    value = calls.call(ACTION, OPERATION, lambda: asked.append("sent"))
    assert value == Unknown(LATE)
    assert asked == []
    assert calls.problems == [LATE]  # the source's status is error: the scan exits 3


def test_an_opening_call_after_the_time_limit_fails_the_source():
    with pytest.raises(AzureSourceFailed, match="time limit passed before"):
        Calls(past_deadline()).call(ACTION, OPERATION, lambda: [], fatal=True)


def test_a_call_in_flight_is_named_for_the_progress():
    watch = CallWatch()
    calls = Calls(watch)
    started, release = threading.Event(), threading.Event()
    seen: list[list[tuple[str, float]]] = []

    def slow() -> list[str]:
        started.set()
        release.wait(5)
        return []

    worker = threading.Thread(target=lambda: calls.call(ACTION, OPERATION, slow))
    worker.start()
    started.wait(5)
    seen.append(watch.waiting())
    release.set()
    worker.join(5)
    assert [what for what, _ in seen[0]] == [OPERATION]
    assert watch.waiting() == []


def account() -> AccountFacts:
    return AccountFacts(
        name="acct1",
        subscription="s",
        resource_group="rg",
        region="westeurope",
        arm_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
        blob_url="https://acct1.blob.core.windows.net/",
        properties={},
        tags={},
    )


def test_an_account_whose_reads_broke_off_keeps_no_default():
    """The defaults mean "none" ([] diagnostic settings, no containers, an empty listing):
    after a failure part-way, each must be the failure instead."""
    facts = account()
    reason = Unknown("not read after a failure: acct1: RuntimeError: boom")
    facts.unreadable(reason)
    assert facts.containers == reason
    assert facts.diagnostics == facts.defender == facts.blob_service == reason
    assert facts.service_properties == reason


def test_containers_listed_before_the_failure_stay_with_unknown_contents():
    facts = account()
    listed = ContainerFacts("acct1", "models", arm={"publicAccess": "None"})
    listed.contents = StoreContents(Listing(()))
    facts.containers = [listed]
    reason = Unknown("not read after a failure: acct1: RuntimeError: boom")
    facts.unreadable(reason)
    assert facts.containers == [listed]
    assert listed.contents.objects == reason
    assert listed.data == reason
    assert listed.arm == {"publicAccess": "None"}
