"""The management plane (Azure Resource Manager) of one subscription: what each storage account,
its Blob service and its containers are configured to do.

Calls, with the permission each needs (docs/sources/azure.md has the whole table):
- Storage Accounts - List (`Microsoft.Storage/storageAccounts/read`): every account setting;
- Blob Services - Get Service Properties (`.../blobServices/read`): versioning, soft delete;
- Blob Containers - List (`.../blobServices/containers/read`): public access levels,
  immutability, default encryption scopes;
- Encryption Scopes - Get (`.../encryptionScopes/read`): a non-default scope's key source;
- Diagnostic Settings - List on `blobServices/default`
  (`Microsoft.Insights/diagnosticSettings/read`): whether blob reads are logged;
- Defender for Storage - Get (`Microsoft.Security/defenderForStorageSettings/read`) and
  Pricings - Get `StorageAccounts` (`Microsoft.Security/pricings/read`): Defender for
  Storage on the account and on the subscription.

Answers are kept in their documented REST shape (`as_dict()` of the generated models keeps
the REST names): `build.py` reads them with type checks, because the generated models coerce
(`allowBlobPublicAccess: "no"` reads as true through the model's attribute).
"""

from __future__ import annotations

import re
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.azure.clients import Arm
from scanner.sources.azure.facts import AccountFacts, ContainerFacts
from scanner.sources.azure.faults import AzureSourceFailed, Calls
from scanner.sources.azure.options import AzureOptions

API_DIAGNOSTICS = "2021-05-01-preview"
API_DEFENDER = "2025-01-01"
API_PRICING = "2024-01-01"
ACCOUNTS_READ = "Microsoft.Storage/storageAccounts/read"
_RESOURCE_GROUP = re.compile(r"/resourceGroups/([^/]+)/", re.IGNORECASE)


def list_accounts(arm: Arm, calls: Calls, opts: AzureOptions) -> list[AccountFacts]:
    """The subscription's storage accounts (only those named by `accounts=`, each of which
    must exist). The source's opening call: unreachable or unauthenticated fails the source."""
    operation = f"Storage Accounts - List (subscription {arm.subscription})"
    listed = calls.call(
        ACCOUNTS_READ,
        operation,
        lambda: [a.as_dict() for a in arm.storage.storage_accounts.list()],
        fatal=True,
    )
    if isinstance(listed, Unknown):  # nothing else can be read without the list
        raise AzureSourceFailed(f"cannot list the storage accounts ({listed.reason})")
    out: list[AccountFacts] = []
    for item in listed or []:
        facts = _account(item, calls, arm.subscription, operation)
        if facts is None:
            continue
        if opts.accounts is None or facts.name in opts.accounts:
            out.append(facts)
    if opts.accounts is not None:
        missing = sorted(set(opts.accounts) - {f.name for f in out})
        for name in missing:
            calls.problems.append(
                f"storage account {name!r} (option accounts) is not in subscription "
                f"{arm.subscription}, or not visible to the credential"
            )
    return sorted(out, key=lambda f: f.name)


def _account(item: Any, calls: Calls, subscription: str, operation: str) -> AccountFacts | None:
    name = calls.field(item, "name", str, operation)
    arm_id = calls.field(item, "id", str, operation)
    if not isinstance(name, str) or not isinstance(arm_id, str):
        if not isinstance(name, Unknown) and not isinstance(arm_id, Unknown):
            calls.malformed(operation, "a storage account without its name or id")
        return None
    properties = calls.field(item, "properties", dict, operation)
    if properties is None:
        properties = calls.malformed(operation, f"{name} has no properties")
    location = calls.field(item, "location", str, operation)
    tags = calls.field(item, "tags", dict, operation)
    group = _RESOURCE_GROUP.search(arm_id)
    endpoints = properties.get("primaryEndpoints") if isinstance(properties, dict) else None
    blob = endpoints.get("blob") if isinstance(endpoints, dict) else None
    return AccountFacts(
        name=name,
        subscription=subscription,
        resource_group=group.group(1) if group else calls.malformed(operation, f"id {arm_id}"),
        region=location if location is not None else calls.malformed(operation, "no location"),
        arm_id=arm_id.rstrip("/"),
        blob_url=blob if isinstance(blob, str) and blob.startswith("https://") else None,
        properties=properties,
        tags=tags if tags is not None else {},
    )


def read_account(arm: Arm, calls: Calls, facts: AccountFacts) -> None:
    """The account's Blob service, containers, diagnostic settings and Defender setting."""
    rg, name = facts.resource_group, facts.name
    if isinstance(rg, Unknown):
        facts.blob_service = facts.containers = facts.diagnostics = rg
        facts.defender = rg
        return
    service = calls.call(
        "Microsoft.Storage/storageAccounts/blobServices/read",
        f"Blob Services - Get Service Properties ({name})",
        lambda: arm.storage.blob_services.get_service_properties(rg, name).as_dict(),
    )
    facts.blob_service = service if service is not None else {}
    containers = calls.call(
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        f"Blob Containers - List ({name})",
        lambda: [c.as_dict() for c in arm.storage.blob_containers.list(rg, name)],
    )
    facts.containers = (
        containers if isinstance(containers, Unknown) else _containers(containers, calls, name)
    )
    diagnostics = calls.call(
        "Microsoft.Insights/diagnosticSettings/read",
        f"Diagnostic Settings - List ({name}/blobServices/default)",
        lambda: list(
            arm.pages(
                f"{facts.arm_id}/blobServices/default/providers/"
                "Microsoft.Insights/diagnosticSettings",
                API_DIAGNOSTICS,
            )
        ),
    )
    facts.diagnostics = diagnostics if diagnostics is not None else []
    facts.defender = calls.call(
        "Microsoft.Security/defenderForStorageSettings/read",
        f"Defender for Storage - Get ({name})",
        lambda: arm.get(
            f"{facts.arm_id}/providers/Microsoft.Security/defenderForStorageSettings/current",
            API_DEFENDER,
        ),
        absent=True,
    )
    if isinstance(facts.containers, list):
        _encryption_scopes(arm, calls, facts, rg)


def _containers(items: Any, calls: Calls, account: str) -> list[ContainerFacts] | Unknown:
    operation = f"Blob Containers - List ({account})"
    out: list[ContainerFacts] = []
    for item in items or []:
        name = calls.field(item, "name", str, operation)
        if not isinstance(name, str):
            return name if isinstance(name, Unknown) else calls.malformed(operation, "no name")
        properties = calls.field(item, "properties", dict, operation)
        out.append(ContainerFacts(account, name, arm=properties if properties is not None else {}))
    return sorted(out, key=lambda c: c.name)


def _encryption_scopes(arm: Arm, calls: Calls, facts: AccountFacts, rg: str) -> None:
    """A container whose default encryption scope is not the account's key: read the scope's
    key source once per scope."""
    assert isinstance(facts.containers, list)
    seen: dict[str, Any] = {}
    for container in facts.containers:
        scope = (
            container.arm.get("defaultEncryptionScope") if isinstance(container.arm, dict) else None
        )
        if not isinstance(scope, str) or scope in ("", "$account-encryption-key"):
            continue
        if scope not in seen:
            seen[scope] = _encryption_scope(arm, calls, rg, facts.name, scope)
        container.encryption_scope = seen[scope]


def _encryption_scope(arm: Arm, calls: Calls, rg: str, account: str, scope: str) -> Any:
    def get() -> dict[str, Any]:
        answer: dict[str, Any] = arm.storage.encryption_scopes.get(rg, account, scope).as_dict()
        return answer

    return calls.call(
        "Microsoft.Storage/storageAccounts/encryptionScopes/read",
        f"Encryption Scopes - Get ({account}/{scope})",
        get,
    )


def defender_plan(arm: Arm, calls: Calls) -> dict[str, Any] | Unknown | None:
    """The subscription's Defender for Storage plan (`pricings/StorageAccounts`)."""
    answer = calls.call(
        "Microsoft.Security/pricings/read",
        f"Pricings - Get StorageAccounts (subscription {arm.subscription})",
        lambda: arm.get(
            f"/subscriptions/{arm.subscription}/providers/Microsoft.Security/pricings/StorageAccounts",
            API_PRICING,
        ),
        absent=True,
    )
    return answer
