"""The Azure source's rules on answers as the APIs document them: what a setting means, who a
role lets read, which answers are malformed. (The servers are exercised in
tests/integration/test_azure_source.py; these are the corner cases.)"""

from __future__ import annotations

from typing import Any

import pytest

from scanner.inventory import Unknown
from scanner.sources.azure import rbac, settings
from scanner.sources.azure.access import container_grants
from scanner.sources.azure.build import public
from scanner.sources.azure.facts import AccountFacts, ContainerFacts
from scanner.sources.azure.faults import Calls, MalformedAnswer, check_arm_body, is_collection

ACCOUNT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1"
CONTAINER_ID = f"{ACCOUNT_ID}/blobServices/default/containers/models"


def account(**properties: Any) -> AccountFacts:
    return AccountFacts(
        name="acct1",
        subscription="s",
        resource_group="rg",
        region="westeurope",
        arm_id=ACCOUNT_ID,
        blob_url=None,
        properties=properties,
        tags={},
    )


def container(level: str | None) -> ContainerFacts:
    arm: dict[str, Any] = {} if level is None else {"publicAccess": level}
    return ContainerFacts("acct1", "models", arm=arm)


# -- public access ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allow", "level", "expected", "reason"),
    [
        (True, "Container", True, "the account allows anonymous access"),
        (None, "Blob", True, "allowBlobPublicAccess is not set"),  # pre-2023 accounts: allowed
        (False, "Container", False, "the account forbids anonymous access"),
        (True, "None", False, None),
        (True, None, False, None),  # ARM leaves publicAccess out when it is None
    ],
)
def test_public_access_is_the_container_level_and_the_account_switch(
    allow, level, expected, reason
):
    props = {} if allow is None else {"allowBlobPublicAccess": allow}
    conf = settings.AccountSettings(account(**props), Calls())
    value, reasons, _ = public(conf, container(level), management=True)
    assert value is expected
    if reason:
        assert any(reason in r for r in reasons)


def test_an_unknown_public_level_is_unknown():
    conf = settings.AccountSettings(account(allowBlobPublicAccess=True), Calls())
    value, _, _ = public(conf, container("Anonymous"), management=True)
    assert isinstance(value, Unknown)


# -- TLS, network, keys, logging, Defender ----------------------------------------------------


@pytest.mark.parametrize(
    ("props", "tls_only"),
    [
        ({}, False),  # unset minimum: TLS 1.0 by Azure's documented default
        ({"minimumTlsVersion": "TLS1_2"}, True),  # unset https-only: true since 2019-04-01
        ({"minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": False}, False),
        ({"minimumTlsVersion": "TLS1_3", "supportsHttpsTrafficOnly": True}, True),
    ],
)
def test_tls_only_needs_https_and_tls_1_2(props, tls_only):
    assert settings.AccountSettings(account(**props), Calls()).tls()[0] is tls_only


@pytest.mark.parametrize(
    ("props", "restricted", "reason"),
    [
        ({}, False, "default action is Allow"),
        ({"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "1.2.3.4"}]}}, False,
         "allows 1 public IP range"),
        ({"networkAcls": {"defaultAction": "Deny"}}, True, "denies by default"),
        ({"publicNetworkAccess": "Disabled"}, True, "only private endpoints"),
    ],
)  # fmt: skip
def test_network_restricted(props, restricted, reason):
    value, reasons, _ = settings.AccountSettings(account(**props), Calls()).network()
    assert value is restricted
    assert reason in reasons[0]


def test_shared_key_unset_means_allowed():
    assert settings.AccountSettings(account(), Calls()).shared_key() is True
    assert (
        settings.AccountSettings(account(allowSharedKeyAccess=False), Calls()).shared_key() is False
    )


def test_a_malformed_setting_is_unknown_and_a_problem():
    calls = Calls()
    conf = settings.AccountSettings(account(allowSharedKeyAccess="no"), calls)
    value = conf.shared_key()
    assert (
        isinstance(value, Unknown) and "allowSharedKeyAccess is str, not a boolean" in value.reason
    )
    assert calls.problems == [value.reason]


@pytest.mark.parametrize(
    ("logs", "destination", "logged"),
    [
        ([{"category": "StorageRead", "enabled": True}], True, True),
        ([{"categoryGroup": "allLogs", "enabled": True}], True, True),
        ([{"categoryGroup": "audit", "enabled": True}], True, False),  # writes and deletes only
        ([{"category": "StorageRead", "enabled": False}], True, False),
        ([{"category": "StorageRead", "enabled": True}], False, False),  # sent nowhere
    ],
)
def test_storage_read_logs(logs, destination, logged):
    props: dict[str, Any] = {"logs": logs}
    if destination:
        props["workspaceId"] = "/subscriptions/s/.../workspaces/w"
    assert settings.reads_logged(props) is logged


@pytest.mark.parametrize(
    ("own", "plan", "enabled"),
    [
        (None, "Standard", True),  # the subscription's plan covers the account
        (None, "Free", False),
        ({"isEnabled": False, "overrideSubscriptionLevelSettings": True}, "Standard", False),
        ({"isEnabled": True, "overrideSubscriptionLevelSettings": True}, "Free", True),
    ],
)
def test_defender_account_setting_and_subscription_plan(own, plan, enabled):
    facts = account()
    facts.defender = {"properties": own} if own else None
    value, _ = settings.defender(facts, {"properties": {"pricingTier": plan}})
    assert value is enabled


def test_defender_unknown_when_the_plan_is_unreadable():
    facts = account()
    value, _ = settings.defender(facts, Unknown("denied: Microsoft.Security/pricings/read"))
    assert isinstance(value, Unknown) and "pricings/read" in value.reason


# -- roles and scopes -------------------------------------------------------------------------


def role(actions=(), not_actions=(), data=(), not_data=()) -> rbac.Role:
    return rbac.Role(
        "r",
        "custom",
        (
            {
                "actions": list(actions),
                "notActions": list(not_actions),
                "dataActions": list(data),
                "notDataActions": list(not_data),
            },
        ),
    )


@pytest.mark.parametrize(
    ("r", "reads"),
    [
        (role(data=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"]), True),
        (role(data=["microsoft.storage/*"]), True),  # case-insensitive wildcard
        (role(data=["*"], not_data=["Microsoft.Storage/*/blobs/read"]), False),
        (
            role(data=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"]),
            False,
        ),
        (role(actions=["*"]), False),  # Owner/Contributor: no data actions
    ],
)
def test_blob_read_data_action(r, reads):
    assert bool(r.allows(rbac.BLOB_READ, data=True)) is reads


@pytest.mark.parametrize(
    ("scope", "covered"),
    [
        ("/", True),
        ("/providers/Microsoft.Management/managementGroups/root", True),
        ("/subscriptions/s", True),
        ("/subscriptions/S/resourceGroups/RG", True),  # ARM ids are case-insensitive
        (ACCOUNT_ID, True),
        (CONTAINER_ID, True),
        (f"{ACCOUNT_ID}/blobServices/default/containers/other", False),
        ("/subscriptions/s/resourceGroups/rg2", False),
        (f"{ACCOUNT_ID}2", False),  # a prefix that is not a path segment
    ],
)
def test_scopes(scope, covered):
    assert rbac.covers(scope, CONTAINER_ID) is covered


def grants_for(assignment_role: rbac.Role | Unknown, scope: str, shared_key: bool) -> Any:
    assignment = rbac.Assignment("/x/ra1", "p1", "User", "/roles/r", scope, None)
    access = rbac.Rbac(assignments=[assignment], roles={"/roles/r": assignment_role})
    return container_grants(access, ACCOUNT_ID, CONTAINER_ID, "azure://acct1/models", shared_key)


def test_list_keys_reads_only_where_shared_keys_are_allowed():
    contributor = role(actions=["*"], not_actions=["Microsoft.Authorization/*/Write"])
    (grant,) = grants_for(contributor, "/subscriptions/s", True)
    assert (grant.via, grant.wildcard_action, grant.wildcard_resource) == (
        "account_key",
        True,
        True,
    )
    assert grants_for(contributor, "/subscriptions/s", False) == []
    # keys are listed on the account: an assignment on one container cannot list them
    assert grants_for(contributor, CONTAINER_ID, True) == []


def test_an_unreadable_role_makes_the_readers_unknown():
    value = grants_for(
        Unknown("denied: Microsoft.Authorization/roleDefinitions/read"), "/subscriptions/s", True
    )
    assert isinstance(value, Unknown) and "roleDefinitions/read" in value.reason


# -- answers' shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "collection"),
    [
        ("/subscriptions/s/providers/Microsoft.Storage/storageAccounts", True),
        (f"{ACCOUNT_ID}/blobServices/default/containers", True),
        (f"{ACCOUNT_ID}/blobServices/default", False),
        ("/subscriptions/s/providers/Microsoft.Security/pricings/StorageAccounts", False),
        (
            f"{ACCOUNT_ID}/blobServices/default/providers/Microsoft.Insights/diagnosticSettings",
            True,
        ),
        (f"{ACCOUNT_ID}/providers/Microsoft.Security/defenderForStorageSettings/current", False),
        ("/subscriptions/s/resources", True),
    ],
)
def test_collections_are_told_from_resources(path, collection):
    assert is_collection(path) is collection


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/subscriptions/s/providers/Microsoft.Storage/storageAccounts", "{}"),
        ("/subscriptions/s/providers/Microsoft.Storage/storageAccounts", '{"value": [1]}'),
        (
            "/subscriptions/s/providers/Microsoft.Storage/storageAccounts",
            '{"value": [], "nextLink": 3}',
        ),
        (f"{ACCOUNT_ID}/blobServices/default", '{"properties": []}'),
        (f"{ACCOUNT_ID}/blobServices/default", "[]"),
        (f"{ACCOUNT_ID}/blobServices/default", "<html>"),
        (f"{ACCOUNT_ID}/blobServices/default", ""),
    ],
)
def test_malformed_bodies_are_refused(path, body):
    with pytest.raises(MalformedAnswer):
        check_arm_body(f"https://management.azure.com{path}?api-version=x", body)


class _Http:
    def __init__(self, method: str, url: str, status: int = 200, body: bytes = b"") -> None:
        self.method, self.url, self.status_code, self._body = method, url, status, body
        self.request = self

    def body(self) -> bytes:
        return self._body


class _Pipeline:
    def __init__(self, http: _Http) -> None:
        self.http_response = self.http_request = http


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>Sign in to the proxy</html>", b'<?xml version="1.0"?><Error/>'],
)
def test_a_blob_listing_that_is_not_enumeration_results_is_refused(body):
    from scanner.sources.azure.faults import check_blob_response

    response = _Pipeline(
        _Http("GET", "https://a.blob.core.windows.net/c?restype=container&comp=list", body=body)
    )
    with pytest.raises(MalformedAnswer):
        check_blob_response(response)
    good = b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="x">'
    check_blob_response(_Pipeline(_Http("GET", response.http_response.url, body=good)))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "PATCH"])
def test_writes_are_refused_before_they_are_sent(method):
    from scanner.sources.azure.faults import WriteRefused, refuse_writes

    with pytest.raises(WriteRefused):
        refuse_writes(_Pipeline(_Http(method, "https://a.blob.core.windows.net/c/b")))
    refuse_writes(_Pipeline(_Http("GET", "https://a.blob.core.windows.net/c/b")))
