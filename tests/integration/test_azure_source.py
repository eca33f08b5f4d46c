"""The `azure:` source against real parts: Azurite for the Blob data plane, and the ARM shape
server for the management plane.

Tests marked `shape` read the management plane from `scanner/demo/arm_shapes.py` (responses
shaped as the documented REST API: no emulator exists for it); the data plane is always
Azurite, read with a token over HTTPS in subscription mode exactly as in Azure, or with a
connection string in account mode. The estate is `scanner/demo/azure_estate.py`: two twin accounts,
one with every misconfiguration and one with each fixed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from scanner.demo import azure_estate as est
from scanner.demo.arm_shapes import arm_shape_server
from scanner.demo.azurite import azurite, make_tls, missing
from scanner.demo.clouds import AZURE_VARIABLES
from scanner.demo.servers import environment
from scanner.inventory import Resource, Unknown
from scanner.sources.azure.access import ANYONE
from scanner.sources.interface import SourceError
from scanner.sources.registry import build_source, parse_spec
from tests.helpers import REPO, load_results
from tests.standards import in_ci

pytestmark = pytest.mark.slow

READ_DATA = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def blobs(tls, tmp_path_factory):
    """Azurite, seeded once; `before` is its state before any scan."""
    message = missing()
    if message is not None:  # CI must run these (.ci/run installs npm)
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with (
        azurite(tmp_path_factory.mktemp("azurite"), tls, est.KEYS) as server,
        environment({"REQUESTS_CA_BUNDLE": str(tls.cert)}),  # the seeding client trusts it too
    ):
        est.seed(server.connection_string)
        yield server, est.snapshot(server.connection_string)


@pytest.fixture(scope="module")
def arm(blobs, tls):
    server, _ = blobs
    with arm_shape_server(est.arm_estate(server.url), tls) as shapes:
        yield shapes


@pytest.fixture(autouse=True)
def azure_env(arm, monkeypatch):
    """Tokens come from the shape server's managed-identity endpoint, never from the
    machine's own Azure set-up (and never from the instance metadata address)."""
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for key, value in arm.env().items():
        monkeypatch.setenv(key, value)
    arm.clear()
    yield
    arm.clear()
    arm.page_size = 1


def subscription_spec(arm, **extra: Any) -> str:
    options = {"subscription": est.SUBSCRIPTION, "arm_endpoint": arm.base, "max_attempts": 2}
    options.update(extra)
    return "azure:" + ",".join(f"{k}={v}" for k, v in options.items())


CALLED: set[str] = set()  # every permission a scan in this module needed


def collect(spec: str) -> tuple[dict[str, Resource], tuple[str, ...]]:
    source = build_source(parse_spec(spec))
    collection = source.collect(lambda _: None)
    CALLED.update(source.calls.calls)  # type: ignore[attr-defined]
    return {r.id: r for r in collection.resources}, collection.problems


@pytest.fixture(scope="module")
def scanned(arm, blobs):
    """One clean subscription scan of the twin estate, shared by the read-only checks."""
    arm.clear()
    env: dict[str, str | None] = {name: None for name in AZURE_VARIABLES}
    env.update(arm.env())
    with environment(env):
        resources, problems = collect(subscription_spec(arm))
        requests = list(arm.requests)
    return resources, problems, requests


def attr(resource: Resource, path: str) -> Any:
    value: Any = resource.attributes
    for part in path.split("."):
        value = value[part]
    return value


BAD = "azure://mwbad/models"
GOOD = "azure://mwgood/models"


# -- each misconfiguration and its fixed twin (shape tests: ARM from the shape server) --------


@pytest.mark.shape
@pytest.mark.parametrize(
    ("path", "bad", "good"),
    [
        ("public", True, False),
        ("public_access_level", "container", "none"),
        ("shared_key_access", True, False),
        ("sas.key_signed", True, False),
        ("tls_only", False, True),
        ("minimum_tls_version", "TLS1_0", "TLS1_2"),
        ("network_restricted", False, True),
        ("encryption.customer_managed_key", False, True),
        ("encryption.kms_key", None, "https://mw-keys.vault.azure.net/models-key"),
        ("versioning", False, True),
        ("soft_delete.blobs.enabled", False, True),
        ("soft_delete.containers.enabled", False, True),
        ("object_lock", False, True),
        ("immutability.retention_policy", False, True),
        ("access_logging.read_events", False, True),
        ("holds_models", True, True),
    ],
)
def test_each_misconfiguration_and_its_fixed_twin(scanned, path, bad, good):
    resources, problems, _ = scanned
    assert problems == ()
    assert attr(resources[BAD], path) == bad
    assert attr(resources[GOOD], path) == good


def test_classic_read_logging_comes_from_the_data_plane(scanned):
    """Storage Analytics logging is set on Azurite itself (reads on for the good twin)."""
    resources, _, _ = scanned
    assert attr(resources[BAD], "access_logging.server_access") is False
    assert attr(resources[GOOD], "access_logging.server_access") is True


@pytest.mark.shape
def test_public_says_why_in_words(scanned):
    resources, _, _ = scanned
    assert resources[BAD].attributes["public_reasons"] == [
        "container public access level 'container': anyone can read and list its blobs",
        "the account allows anonymous access (allowBlobPublicAccess: true)",
    ]
    assert (
        resources[GOOD]
        .attributes["network_reasons"][0]
        .startswith(
            "the firewall denies by default and allows only virtual networks and private endpoints"
        )
    )
    assert resources[BAD].attributes["network_reasons"] == [
        "the firewall's default action is Allow: any network reaches it"
    ]


@pytest.mark.shape
def test_defender_for_storage_on_and_off(scanned):
    resources, _, _ = scanned
    bad, good = resources["azure-defender://mwbad"], resources["azure-defender://mwgood"]
    assert (bad.type, bad.attributes["enabled"], bad.attributes["storage_protection"]) == (
        "threat_detection",
        False,
        False,
    )
    assert bad.attributes["decided_by"] == "subscription"  # no own setting: the Free plan
    assert good.attributes["enabled"] is True and good.attributes["malware_scanning"] is True
    assert (good.attributes["account"], good.attributes["region"]) == ("mwgood", est.REGION)


@pytest.mark.shape
def test_storage_read_diagnostic_settings_are_audit_trails(scanned):
    resources, _, _ = scanned
    trails = {r.attributes["account"]: r for r in resources.values() if r.type == "audit_trail"}
    assert trails["mwgood"].attributes["enabled"] is True
    assert {ref.id for ref in trails["mwgood"].attributes["read_events_on"]} == {
        "azure://mwgood/data",
        GOOD,
    }
    assert trails["mwbad"].attributes["enabled"] is False  # StorageWrite only
    assert trails["mwbad"].attributes["categories"] == ["StorageWrite"]


@pytest.mark.shape
def test_who_can_read_model_blobs(scanned):
    """A user with Storage Blob Data Reader at the account; a group with Contributor at the
    resource group (the account key, only where shared keys are allowed); a managed identity
    and a PIM-activated user at the container of the good twin."""
    resources, _, _ = scanned
    user = f"azure-principal://{est.READER_USER}"
    group = f"azure-principal://{est.ADMIN_GROUP}"
    mi = f"azure-principal://{est.INFERENCE_MI}"
    oncall = f"azure-principal://{est.ONCALL_USER}"
    bad_readers = {r.id for r in resources[BAD].attributes["readers"]}
    good_readers = {r.id for r in resources[GOOD].attributes["readers"]}
    assert bad_readers == {ANYONE, user, group}
    assert good_readers == {mi, oncall}  # no account key: allowSharedKeyAccess is false
    grants = {g["principal"].id: g for g in resources[BAD].attributes["access_grants"]}
    assert (grants[user]["via"], grants[user]["role"]) == (
        "data_action",
        "Storage Blob Data Reader",
    )
    assert (grants[group]["via"], grants[group]["wildcard_action"]) == ("account_key", True)
    assert grants[ANYONE]["via"] == "public_access"

    kinds = {
        pid: (resources[pid].attributes["kind"], resources[pid].attributes["principal_type"])
        for pid in (user, group, mi, oncall)
    }
    assert kinds == {
        user: ("human", "user"),
        group: ("human", "group"),  # members unread: taken for people
        mi: ("service", "managed_identity"),
        oncall: ("human", "user"),
    }
    assert resources[user].attributes["just_in_time"] is False  # standing assignment
    assert resources[oncall].attributes["just_in_time"] is True  # activated through PIM
    assert resources[ANYONE].attributes["kind"] == "anonymous"
    assert resources[group].attributes["admin"] is False  # Contributor cannot assign roles


def test_model_files_found_by_content_with_governance_from_metadata(scanned):
    resources, _, _ = scanned
    artefact = resources["azure://mwbad/models/fraud/v3"]
    attrs = artefact.attributes
    assert attrs["storage"].id == BAD
    assert {f["path"]: f["format"] for f in attrs["files"]}["model.pkl"] == "pickle"
    assert attrs["serialization"]["pickle_based"] is True
    assert attrs["serialization"]["unsafe"] == []  # scanned whole: a dict of floats
    # Blob metadata over the container's (Azure metadata names match in any case).
    assert (attrs["owner"], attrs["classification"], attrs["ip_value"]) == (
        "fraud-team",
        "confidential",
        "high",
    )
    assert not [r for r in resources if r.startswith("azure://mwbad/data/")]
    assert resources["azure://mwbad/data"].attributes["holds_models"] is False


# -- read-only, paging, and every kind of failure ----------------------------------------------


def test_a_scan_changes_nothing(scanned, blobs):
    server, before = blobs
    _, _, requests = scanned
    assert est.snapshot(server.connection_string) == before
    assert {method for method, _ in requests} == {"GET"}


def test_the_documented_role_grants_every_permission_a_scan_needs(scanned):
    """docs/azure-role.json is the minimal read-only role: every action or data action the
    source asked for is in it, and nothing that lists keys or writes."""
    role = json.loads((REPO / "docs" / "azure-role.json").read_text(encoding="utf-8"))
    granted = set(role["Actions"]) | set(role["DataActions"])
    assert CALLED
    assert not CALLED - granted, sorted(CALLED - granted)
    assert not [a for a in granted if a.endswith(("/write", "/delete", "/action"))]


@pytest.mark.shape
def test_listings_follow_next_link(scanned):
    _, _, requests = scanned
    account_pages = [p for _, p in requests if "/storageAccounts?" in p]
    container_pages = [p for _, p in requests if "/mwbad/blobServices/default/containers" in p]
    assert len(account_pages) == 2 and "$skipToken=1" in account_pages[1]
    assert len(container_pages) == 2


@pytest.mark.shape
def test_a_denied_call_is_unknown_naming_the_permission(arm):
    arm.fail(r"/mwbad/blobServices/default$", 403, code="AuthorizationFailed")
    resources, problems = collect(subscription_spec(arm))
    versioning = resources[BAD].attributes["versioning"]
    assert versioning == Unknown("denied: Microsoft.Storage/storageAccounts/blobServices/read")
    assert resources[GOOD].attributes["versioning"] is True  # one call costs only its values
    assert resources[BAD].attributes["public"] is True
    assert any("denied: Microsoft.Storage/storageAccounts/blobServices/read" in p for p in problems)


@pytest.mark.shape
def test_denied_role_assignments_make_readers_unknown_not_empty(arm):
    arm.fail(r"/roleAssignments$", 403, code="AuthorizationFailed")
    resources, problems = collect(subscription_spec(arm))
    readers = resources[GOOD].attributes["readers"]
    assert isinstance(readers, Unknown)
    assert "denied: Microsoft.Authorization/roleAssignments/read" in readers.reason
    assert isinstance(resources[GOOD].attributes["reader_count"], Unknown)
    assert problems


@pytest.mark.shape
def test_throttling_is_retried_after_the_pause_it_asks_for(arm):
    arm.fail(r"/mwgood/blobServices/default/containers$", 429, code="TooManyRequests",
             times=1, headers={"Retry-After": "1"})  # fmt: skip
    resources, problems = collect(subscription_spec(arm))
    assert problems == ()
    assert resources[GOOD].attributes["public"] is False


@pytest.mark.shape
def test_throttled_past_retries_is_unknown(arm):
    arm.fail(r"/mwgood/providers/Microsoft.Security/defenderForStorageSettings", 429,
             code="TooManyRequests", headers={"Retry-After": "0"})  # fmt: skip
    resources, problems = collect(subscription_spec(arm))
    enabled = resources["azure-defender://mwgood"].attributes["enabled"]
    assert enabled == Unknown(
        "throttled past retries: Microsoft.Security/defenderForStorageSettings/read"
    )
    assert problems


@pytest.mark.shape
@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>Proxy login</body></html>", b'{"value": [{"name": "models"', b"{}"],
    ids=["empty", "html", "cut", "no-value"],
)
def test_a_malformed_listing_is_never_empty(arm, body):
    arm.fail(r"/mwgood/blobServices/default/containers$", 200, body)
    resources, problems = collect(subscription_spec(arm))
    assert GOOD not in resources  # the containers are not known, so not reported as none
    assert any("malformed answer from Blob Containers - List (mwgood)" in p for p in problems), (
        problems
    )
    assert any("mwgood: containers unreadable" in p for p in problems)


@pytest.mark.shape
def test_a_setting_of_the_wrong_type_is_unknown_not_coerced(arm):
    """The generated model would read "false" (a string) as True: values are type-checked."""
    account = json.loads(json.dumps(arm.estate.accounts[0]))
    account["properties"]["allowBlobPublicAccess"] = "false"
    arm.page_size = 10
    arm.fail(r"/storageAccounts$", 200, json.dumps({"value": [account]}).encode())
    resources, problems = collect(subscription_spec(arm, accounts="mwbad"))
    public = resources[BAD].attributes["public"]
    assert isinstance(public, Unknown) and "allowBlobPublicAccess is str" in public.reason
    assert isinstance(resources[BAD].attributes["readers"], Unknown)
    assert problems


@pytest.mark.shape
def test_the_account_list_unreadable_fails_the_source(arm):
    arm.fail(r"/storageAccounts$", 403, code="AuthorizationFailed")
    with pytest.raises(SourceError, match=r"denied: Microsoft\.Storage/storageAccounts/read"):
        collect(subscription_spec(arm))


def test_unreachable_management_endpoint_fails_the_source(arm):
    from scanner.demo.servers import free_port

    spec = subscription_spec(arm, arm_endpoint=f"https://127.0.0.1:{free_port()}")
    with pytest.raises(SourceError, match="cannot reach the endpoint for Storage Accounts"):
        collect(spec)


@pytest.mark.shape
def test_no_credential_fails_the_source(arm):
    arm.identity_up = False
    with pytest.raises(SourceError, match="credentials rejected"):
        collect(subscription_spec(arm))


@pytest.mark.shape
def test_a_rejected_token_fails_the_source(arm):
    arm.fail(r"/storageAccounts$", 401, code="InvalidAuthenticationToken")
    with pytest.raises(SourceError, match="credentials rejected"):
        collect(subscription_spec(arm))


@pytest.mark.shape
@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"/storageAccounts$", "the source fails"),
        (r"/mwgood/blobServices/default$", "one denied call: a problem, never a pass"),
    ],
)
def test_a_denied_provider_exits_3(arm, cli, tmp_path, pattern, why):
    arm.fail(pattern, 403, code="AuthorizationFailed")
    result = cli("scan", "--source", subscription_spec(arm), "-o", str(tmp_path), "-q")
    assert result.code == 3, (why, result.err)
    assert "denied: Microsoft.Storage/storageAccounts" in result.err


def test_an_unreachable_provider_exits_3(arm, cli, tmp_path):
    from scanner.demo.servers import free_port

    spec = subscription_spec(arm, arm_endpoint=f"https://127.0.0.1:{free_port()}")
    result = cli("scan", "--source", spec, "-o", str(tmp_path), "-q")
    assert result.code == 3
    assert "cannot reach the endpoint" in result.err


# -- account mode: one account's data plane (Azurite alone) ------------------------------------


def account_scan(blobs, monkeypatch, account: str, conn: str | None = None):
    server, _ = blobs
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn or server.connection_string(account))
    return collect(f"azure:account={account},max_attempts=2")


def test_account_mode_finds_public_containers_by_asking_anonymously(blobs, monkeypatch):
    resources, problems = account_scan(blobs, monkeypatch, "mwbad")
    assert problems == ()
    models = resources[BAD].attributes
    assert models["public"] is True
    assert models["public_reasons"][1] == "an anonymous List Blobs request was answered"
    assert resources["azure://mwbad/data"].attributes["public"] is False
    assert resources["azure://mwbad/models/fraud/v3"].attributes["ip_value"] == "high"
    assert models["access_logging"]["server_access"] is False


def test_account_mode_says_why_management_settings_are_unknown(blobs, monkeypatch):
    resources, _ = account_scan(blobs, monkeypatch, "mwgood")
    attrs = resources[GOOD].attributes
    assert attrs["public"] is False
    assert attrs["access_logging"]["server_access"] is True
    for name in ("tls_only", "network_restricted", "versioning", "readers", "shared_key_access"):
        assert isinstance(attrs[name], Unknown), name
        assert "reads the Blob data plane only" in attrs[name].reason
    defender = resources["azure-defender://mwgood"].attributes["enabled"]
    assert isinstance(defender, Unknown)


def test_account_mode_reads_with_a_token_too(blobs, arm, monkeypatch):
    """No connection string: DefaultAzureCredential's token against the blob endpoint."""
    server, _ = blobs
    resources, problems = collect(
        f"azure:account=mwbad,blob_endpoint={server.url('mwbad')},max_attempts=2"
    )
    assert problems == ()
    assert resources[BAD].attributes["holds_models"] is True


def test_account_mode_wrong_key_fails_the_source(blobs, monkeypatch):
    server, _ = blobs
    wrong = server.connection_string("mwbad").replace(est.KEYS["mwbad"], est.KEYS["mwgood"])
    with pytest.raises(SourceError, match="credentials rejected"):
        account_scan(blobs, monkeypatch, "mwbad", wrong)


def test_a_refused_read_of_model_bytes_is_recorded_on_the_artefact(blobs, monkeypatch):
    """A SAS that may list but not read: the listing works, the sniffing is refused (on the
    private twin: Azurite lets anyone read a public container whatever the SAS says)."""
    import datetime as dt

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    server, _ = blobs
    sas = generate_account_sas(
        "mwgood",
        est.KEYS["mwgood"],
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(list=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    conn = f"BlobEndpoint={server.url('mwgood')};SharedAccessSignature={sas}"
    resources, problems = account_scan(blobs, monkeypatch, "mwgood", conn)
    files = resources["azure://mwgood/models/fraud/v3"].attributes["files"]
    pickle_file = next(f for f in files if f["path"] == "model.pkl")
    assert pickle_file["format"] == Unknown(f"denied: {READ_DATA}")
    # A refused read of content is the artefact's, not a gap in the account's settings (the
    # SAS also refuses the service properties, which is one).
    assert not [p for p in problems if READ_DATA in p]


# -- the built-in pack, end to end, in a real process --------------------------------------------


def test_builtin_policies_judge_the_azure_estate(arm, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in AZURE_VARIABLES and not k.startswith("AZURE_")
    }
    env.update(arm.env(), PYTHONPATH=str(REPO))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            "scan",
            "--source",
            subscription_spec(arm),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    # Exit 3, not 1: with no registry in the scan, whether the stored models are registered
    # (MW-INV-03) cannot be told, and that is never a pass.
    assert proc.returncode == 3, proc.stderr
    results = load_results(out)
    errors = {(f["policy_id"], f["message"]) for f in results["findings"] if f["status"] == "error"}
    assert {policy for policy, _ in errors} == {"MW-INV-03"}
    assert all("no model registry in this scan" in message for _, message in errors)
    (source,) = results["scan"]["sources"]
    assert (source["type"], source["status"]) == ("azure", "ok")
    found = {(f["policy_id"], f["resource_id"]): f for f in results["findings"]}

    def status(policy: str, resource: str) -> str:
        return str(found[(policy, resource)]["status"])

    for policy in ("MW-STO-01", "MW-STO-03", "MW-STO-04", "MW-STO-05", "MW-STO-06"):
        assert (status(policy, BAD), status(policy, GOOD)) == ("fail", "pass"), policy
    assert status("MW-STO-02", GOOD) == "pass"
    defender = ("azure-defender://mwbad", "azure-defender://mwgood")
    assert tuple(status("MW-NET-03", d) for d in defender) == ("fail", "pass")
    assert status("MW-IAM-03", f"azure-principal://{est.ADMIN_GROUP}") == "fail"
    public = found[("MW-STO-01", BAD)]
    assert "holds models and can be read by anyone: " in public["message"]
    assert public["evidence"]["$check"] == (
        "`public` is true, and must not be; "
        '`readers[azure-principal://anonymous]`, whose kind is "anonymous"'
    )
    tls = found[("MW-STO-06", BAD)]
    assert tls["message"].endswith("holds models and accepts unencrypted (non-TLS) connections")
    assert tls["evidence"]["$check"] == "`tls_only` is not true"
    admin = found[("MW-IAM-03", f"azure-principal://{est.ADMIN_GROUP}")]
    assert "reads model storage through a wildcard grant" in admin["message"]
    assert "grants[1].wildcard_action` is true" in admin["evidence"]["$check"]


# -- sharded scans: the azure: source is one unit, merged like any other ------------------------


def test_shards_of_an_azure_and_a_path_source_merge_into_the_unsharded_result(arm, cli, tmp_path):
    """`--shard K/N` runs the azure: source whole in the one shard that owns it (by its name),
    and `merge` gives back the unsharded document byte for byte (scan id and times aside)."""
    from scanner.sources.shards import owner
    from tests.helpers import pickle_model, safe_model

    safe_model(tmp_path / "models", "clean")
    pickle_model(tmp_path / "models", "legacy")
    azure = subscription_spec(arm)
    sources = ("--source", azure, "--source", "path:models")
    common = ("--as-of", "2026-06-01", "-q")
    # the first shard count that puts the two sources in different shards
    count = next(
        n for n in range(2, 64) if owner(f"source:{azure}", n) != owner("source:path:models", n)
    )
    whole = cli("scan", *sources, *common, "-o", "whole", cwd=tmp_path)
    assert whole.code in (1, 3), whole.err  # failures, and Unknowns at high: both gate
    assert all(s["status"] == "ok" for s in load_results(tmp_path / "whole")["scan"]["sources"])
    ran = {}
    for index in range(1, count + 1):
        r = cli("scan", *sources, *common, "--shard", f"{index}/{count}", "-o", f"s{index}")
        assert r.code in (0, 1, 3), r.err
        ran[index] = [s["name"] for s in load_results(tmp_path / f"s{index}")["scan"]["sources"]]
    assert ran[owner(f"source:{azure}", count)] == [azure]
    assert ran[owner("source:path:models", count)] == ["path:models"]
    assert sum(len(names) for names in ran.values()) == 2  # nobody else read either
    shards = [f"s{i}/results.json" for i in range(1, count + 1)]
    merged = cli("merge", *shards, "-q", "-o", "merged")
    assert merged.code == whole.code, merged.err

    def normalised(out: str) -> str:
        document = load_results(tmp_path / out)
        for key in ("id", "started_at", "finished_at"):
            document["scan"][key] = "-"
        return json.dumps(document, indent=2, sort_keys=True)

    assert normalised("merged") == normalised("whole")
