"""The wire-fault matrix for the `azure:` source: no fault at the wire makes a verdict cleaner.

The twin estate (`scanner/demo/azure_estate.py`: Azurite for the Blob data plane, the ARM shape
server for the management plane) is scanned with the built-in policies once without faults,
then once per cell with one ARM operation answering with one fault kind (the kinds of
`scanner/demo/fault_bodies.py`, injected by the shape server itself: bearer tokens are only
sent over TLS, so the plain-HTTP proxy cannot sit in front of ARM). The property is the one
the AWS and MLflow matrix checks (`tests.wire_faults.violations`): no finding moves from fail
to pass or not_applicable, none disappears unless the source reports its failure, and no
computed attribute turns from something into a definite empty or false. Each cell must also
say what went wrong in a problem line naming the operation or the permission it needed.

The per-account operations are faulted on `mwbad`, the account with failing findings, where a
fault that read as "nothing there" would turn a fail into a pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from scanner.demo import azure_estate as est
from scanner.demo.arm_shapes import ArmShapeServer, arm_shape_server
from scanner.demo.azurite import azurite, make_tls, missing
from scanner.demo.fault_bodies import KINDS
from scanner.demo.servers import environment
from scanner.progress import Reporter
from scanner.scan import ScanRequest, prepare
from scanner.scan import run as run_scan
from scanner.sources.registry import parse_spec
from tests.integration.test_azure_source import AZURE_VARIABLES
from tests.standards import in_ci
from tests.wire_faults import problems, violations

pytestmark = [pytest.mark.slow, pytest.mark.shape]

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
_ACCT = r"/storageAccounts/mwbad"
# One representative ARM call per API family the source uses: (path pattern, what a problem
# line must name: the operation, or for a denial the permission).
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "storage-accounts": (
        r"/providers/Microsoft\.Storage/storageAccounts$",
        ("Storage Accounts - List", "Microsoft.Storage/storageAccounts/read"),
    ),
    "blob-service": (
        rf"{_ACCT}/blobServices/default$",
        ("Blob Services - Get Service Properties (mwbad)", "blobServices/read"),
    ),
    "containers": (
        rf"{_ACCT}/blobServices/default/containers$",
        ("Blob Containers - List (mwbad)", "blobServices/containers/read"),
    ),
    "diagnostic-settings": (
        rf"{_ACCT}/blobServices/default/providers/Microsoft\.Insights/diagnosticSettings$",
        ("Diagnostic Settings - List (mwbad", "Microsoft.Insights/diagnosticSettings/read"),
    ),
    "defender": (
        rf"{_ACCT}/providers/Microsoft\.Security/defenderForStorageSettings/current$",
        ("Defender for Storage - Get (mwbad)", "defenderForStorageSettings/read"),
    ),
    "role-assignments": (
        r"/providers/Microsoft\.Authorization/roleAssignments$",
        ("Role Assignments - List For Subscription", "roleAssignments/read"),
    ),
    "role-definitions": (
        r"/providers/Microsoft\.Authorization/roleDefinitions/",
        ("Role Definitions - Get By Id", "roleDefinitions/read"),
    ),
}
# Short timeouts, so that a stall costs seconds: one retry, then Unknown.
OPTIONS = {"timeout": 1, "max_attempts": 2}


class AzureEstate:
    def __init__(self, arm: ArmShapeServer) -> None:
        self.arm = arm
        self.baseline: dict[str, Any] = {}

    def scan(self) -> dict[str, Any]:
        options = {"subscription": est.SUBSCRIPTION, "arm_endpoint": self.arm.base, **OPTIONS}
        spec = parse_spec("azure:", name="azure-estate", options=options)
        return run_scan(prepare(ScanRequest(sources=(spec,), as_of=NOW)), Reporter())


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureEstate]:
    message = missing()
    if message is not None:  # CI must run these (.ci/run installs npm)
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    tls = make_tls(tmp_path_factory.mktemp("tls"))
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(azurite(tmp_path_factory.mktemp("azurite"), tls, est.KEYS))
        arm = stack.enter_context(arm_shape_server(est.arm_estate(server.url), tls))
        arm.stall_seconds = 3.0  # past the source's 1 s read timeout
        stack.enter_context(
            environment(
                {
                    **dict.fromkeys(AZURE_VARIABLES),
                    **arm.env(),
                    "REQUESTS_CA_BUNDLE": str(tls.cert),
                }
            )
        )
        est.seed(server.connection_string)
        faulted = AzureEstate(arm)
        faulted.baseline = faulted.scan()
        (source,) = faulted.baseline["scan"]["sources"]
        assert source["status"] == "ok", source
        yield faulted


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_fault_makes_a_verdict_cleaner(estate, family, kind):
    pattern, names = FAMILIES[family]
    estate.arm.clear()
    estate.arm.inject(kind, pattern)
    try:
        document = estate.scan()
    finally:
        estate.arm.clear()
    found = violations(estate.baseline, document)
    assert not found, (family, kind, found)
    assert document["gate"]["exit_code"] == 3
    said = problems(document)
    assert any(name in line for line in said for name in names), said


def test_a_fault_on_the_first_try_alone_is_retried_away(estate):
    """A transient fault (one reset) costs nothing: the retry reads the same answer."""
    pattern, _ = FAMILIES["containers"]
    estate.arm.clear()
    estate.arm.inject("reset", pattern, times=1)
    try:
        document = estate.scan()
    finally:
        estate.arm.clear()
    (source,) = document["scan"]["sources"]
    assert source["status"] == "ok", source
    found = violations(estate.baseline, document)
    assert not found, found


def test_unlisted_containers_leave_the_accounts_defender_finding_standing(estate):
    """Defender for Storage matters where models are stored. With mwbad's containers not
    listed, whether it holds models is unknown: its Defender finding must not become
    not_applicable (the account reports no storage, which is not "no models")."""
    pattern, _ = FAMILIES["containers"]
    estate.arm.clear()
    estate.arm.inject("html", pattern)
    try:
        document = estate.scan()
    finally:
        estate.arm.clear()
    resources = {r["id"]: r for r in document["resources"]}
    holds = resources["azure-defender://mwbad"]["attributes"]["holds_models"]
    assert isinstance(holds, dict) and "containers of mwbad are unreadable" in holds["$unknown"]
    found = {(f["policy_id"], f["resource_id"]): f["status"] for f in document["findings"]}
    assert found[("MW-NET-03", "azure-defender://mwbad")] in ("fail", "error")
