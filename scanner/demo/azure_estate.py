"""A small Azure estate for the tests and the demo: two storage accounts, twins but for settings.

`mwbad` has every misconfiguration the storage policies look for, `mwgood` the fixed twin of
each: a public container vs a private one (with anonymous access forbidden on the account),
shared keys allowed vs refused, TLS 1.0 vs 1.2, a firewall that allows everyone vs one that
denies by default behind a private endpoint, Microsoft-managed vs customer-managed keys,
versioning / soft delete / immutability off vs on, no `StorageRead` logs vs logs to a
workspace, Defender for Storage off vs on, and a user holding Storage Blob Data Reader at the
account vs nobody. Both hold the same model (`fraud/v3`: a pickle and its MLmodel) in a
`models` container, and a non-model file in `data`.

`arm_estate` is the management plane (for `scanner/demo/arm_shapes.py`), `seed` puts the
blobs into Azurite (with the accounts' keys: the scanner itself reads with a token). Both
are plain functions over an Azurite URL, so a demo can reuse them.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from scanner.demo.arm_shapes import ArmEstate

SUBSCRIPTION = "3f2a8c10-0000-4000-8000-00000000a2e5"
GROUP = "rg-ml"
REGION = "westeurope"
BAD, GOOD = "mwbad", "mwgood"
KEYS = {
    BAD: base64.b64encode(b"modelward-test-key-bad-0123456789abcdef").decode(),
    GOOD: base64.b64encode(b"modelward-test-key-good-0123456789abcde").decode(),
}
MODEL_KEYS = ("fraud/v3/model.pkl", "fraud/v3/MLmodel")

# Principals (object ids) and built-in role definition ids.
READER_USER = "11111111-0000-4000-8000-000000000001"  # standing Blob Data Reader on mwbad
ADMIN_GROUP = "22222222-0000-4000-8000-000000000002"  # Contributor on the resource group
INFERENCE_MI = "33333333-0000-4000-8000-000000000003"  # a VM's managed identity
ONCALL_USER = "44444444-0000-4000-8000-000000000004"  # PIM-activated reader on mwgood
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"

SUB_ID = f"/subscriptions/{SUBSCRIPTION}"
RG_ID = f"{SUB_ID}/resourceGroups/{GROUP}"


def account_id(name: str) -> str:
    return f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/{name}"


def container_id(account: str, container: str) -> str:
    return f"{account_id(account)}/blobServices/default/containers/{container}"


def role_id(guid: str) -> str:
    return f"{SUB_ID}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _account(name: str, blob_url: str, good: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "creationTime": "2025-02-03T10:00:00.0000000Z",
        "primaryEndpoints": {"blob": f"{blob_url}/", "dfs": f"{blob_url}/"},
        "primaryLocation": REGION,
        "statusOfPrimary": "available",
        "allowBlobPublicAccess": not good,
        "allowSharedKeyAccess": not good,
        "minimumTlsVersion": "TLS1_2" if good else "TLS1_0",
        "supportsHttpsTrafficOnly": True,
        "publicNetworkAccess": "Enabled",
        "networkAcls": {
            "bypass": "AzureServices",
            "defaultAction": "Deny" if good else "Allow",
            "ipRules": [],
            "virtualNetworkRules": [],
            "resourceAccessRules": [],
        },
        "privateEndpointConnections": [],
        "encryption": {
            "keySource": "Microsoft.Keyvault" if good else "Microsoft.Storage",
            "requireInfrastructureEncryption": False,
            "services": {
                "blob": {
                    "enabled": True,
                    "keyType": "Account",
                    "lastEnabledTime": "2025-02-03T10:00:00Z",
                }
            },
        },
    }
    if good:
        properties["encryption"]["keyvaultproperties"] = {
            "keyname": "models-key",
            "keyvaulturi": "https://mw-keys.vault.azure.net",
            "keyversion": "",
        }
        properties["privateEndpointConnections"] = [
            {
                "id": f"{account_id(name)}/privateEndpointConnections/pe1",
                "name": "pe1",
                "type": "Microsoft.Storage/storageAccounts/privateEndpointConnections",
                "properties": {
                    "privateEndpoint": {
                        "id": f"{RG_ID}/providers/Microsoft.Network/privateEndpoints/pe1"
                    },
                    "privateLinkServiceConnectionState": {
                        "status": "Approved",
                        "description": "Auto-Approved",
                        "actionRequired": "None",
                    },
                    "provisioningState": "Succeeded",
                },
            }
        ]
        properties["sasPolicy"] = {"sasExpirationPeriod": "1.00:00:00", "expirationAction": "Block"}
    return {
        "id": account_id(name),
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "kind": "StorageV2",
        "location": REGION,
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "tags": {"Owner": "ml-platform", "classification": "Internal"},
        "properties": properties,
    }


def _container(account: str, name: str, public: str, good: bool) -> dict[str, Any]:
    return {
        "id": container_id(account, name),
        "name": name,
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": '"0x8DC2B5A0E2C1F00"',
        "properties": {
            "publicAccess": public,
            "hasImmutabilityPolicy": good and name == "models",
            "hasLegalHold": False,
            "leaseState": "Available",
            "leaseStatus": "Unlocked",
            "lastModifiedTime": "2025-02-03T10:05:00Z",
            "defaultEncryptionScope": "$account-encryption-key",
            "denyEncryptionScopeOverride": False,
        },
    }


def _blob_service(account: str, good: bool) -> dict[str, Any]:
    return {
        "id": f"{account_id(account)}/blobServices/default",
        "name": "default",
        "type": "Microsoft.Storage/storageAccounts/blobServices",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "cors": {"corsRules": []},
            "isVersioningEnabled": good,
            "deleteRetentionPolicy": {"enabled": good, "days": 30} if good else {"enabled": False},
            "containerDeleteRetentionPolicy": {"enabled": good, "days": 7}
            if good
            else {"enabled": False},
        },
    }


def _diagnostic(account: str, good: bool) -> dict[str, Any]:
    logs = [
        {
            "category": "StorageRead",
            "enabled": good,
            "retentionPolicy": {"enabled": False, "days": 0},
        },
        {
            "category": "StorageWrite",
            "enabled": True,
            "retentionPolicy": {"enabled": False, "days": 0},
        },
    ]
    return {
        "id": f"{account_id(account)}/blobServices/default/providers"
        "/microsoft.insights/diagnosticSettings/to-workspace",
        "type": "Microsoft.Insights/diagnosticSettings",
        "name": "to-workspace",
        "properties": {
            "workspaceId": f"{RG_ID}/providers/Microsoft.OperationalInsights/workspaces/mw-logs",
            "storageAccountId": None,
            "eventHubAuthorizationRuleId": None,
            "metrics": [
                {
                    "category": "Transaction",
                    "enabled": True,
                    "retentionPolicy": {"enabled": False, "days": 0},
                }
            ],
            "logs": logs,
            "logAnalyticsDestinationType": None,
        },
    }


def _assignment(guid: str, principal: str, kind: str, role: str, scope: str) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role_id(role),
            "principalId": principal,
            "principalType": kind,
            "scope": scope,
            "condition": None,
            "conditionVersion": None,
            "createdOn": "2025-02-03T10:10:00.0000000Z",
            "updatedOn": "2025-02-03T10:10:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
    }


def _role(guid: str, name: str, actions: list[str], data_actions: list[str]) -> dict[str, Any]:
    not_actions = (
        [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ]
        if guid == CONTRIBUTOR
        else []
    )
    return {
        "id": role_id(guid),
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "description": name,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": actions,
                    "notActions": not_actions,
                    "dataActions": data_actions,
                    "notDataActions": [],
                }
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2021-11-11T20:13:47.8628684Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def arm_estate(blob_url: Any) -> ArmEstate:
    """The management plane of the twin accounts; `blob_url(account)` is each one's data-plane
    URL (an Azurite account)."""
    estate = ArmEstate(subscription=SUBSCRIPTION)
    for name, good in ((BAD, False), (GOOD, True)):
        estate.accounts.append(_account(name, blob_url(name), good))
        estate.blob_services[name] = _blob_service(name, good)
        estate.containers[name] = [
            _container(name, "data", "None", good),
            _container(name, "models", "None" if good else "Container", good),
        ]
        estate.diagnostics[name] = [_diagnostic(name, good)]
    estate.defender[GOOD] = {
        "id": f"{account_id(GOOD)}/providers/Microsoft.Security/defenderForStorageSettings/current",
        "name": "current",
        "type": "Microsoft.Security/defenderForStorageSettings",
        "properties": {
            "isEnabled": True,
            "malwareScanning": {
                "onUpload": {"isEnabled": True, "capGBPerMonth": 5000},
                "scanResultsEventGridTopicResourceId": None,
                "operationStatus": {"code": "Succeeded"},
            },
            "sensitiveDataDiscovery": {
                "isEnabled": False,
                "operationStatus": {"code": "Succeeded"},
            },
            "overrideSubscriptionLevelSettings": True,
        },
    }
    estate.pricing = {
        "id": f"{SUB_ID}/providers/Microsoft.Security/pricings/StorageAccounts",
        "name": "StorageAccounts",
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": "Free", "freeTrialRemainingTime": "PT0S"},
    }
    reader_on_bad = _assignment(
        "a0000000-0000-4000-8000-000000000001",
        READER_USER,
        "User",
        BLOB_DATA_READER,
        account_id(BAD),
    )
    oncall_on_good = _assignment(
        "a0000000-0000-4000-8000-000000000004",
        ONCALL_USER,
        "User",
        BLOB_DATA_READER,
        container_id(GOOD, "models"),
    )
    estate.role_assignments = [
        reader_on_bad,
        _assignment(
            "a0000000-0000-4000-8000-000000000002", ADMIN_GROUP, "Group", CONTRIBUTOR, RG_ID
        ),
        _assignment(
            "a0000000-0000-4000-8000-000000000003",
            INFERENCE_MI,
            "ServicePrincipal",
            BLOB_DATA_READER,
            container_id(GOOD, "models"),
        ),
        oncall_on_good,
    ]
    estate.role_definitions = {
        BLOB_DATA_READER: _role(
            BLOB_DATA_READER,
            "Storage Blob Data Reader",
            [
                "Microsoft.Storage/storageAccounts/blobServices/containers/read",
                "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            ],
            ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
        ),
        CONTRIBUTOR: _role(CONTRIBUTOR, "Contributor", ["*"], []),
    }
    estate.schedule_instances = [
        {
            "id": f"{SUB_ID}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances/i1",
            "name": "i1",
            "type": "Microsoft.Authorization/roleAssignmentScheduleInstances",
            "properties": {
                "scope": container_id(GOOD, "models"),
                "roleDefinitionId": role_id(BLOB_DATA_READER),
                "principalId": ONCALL_USER,
                "principalType": "User",
                "roleAssignmentScheduleId": "s1",
                "originRoleAssignmentId": oncall_on_good["id"],
                "status": "Provisioned",
                "startDateTime": "2025-02-03T10:00:00Z",
                "endDateTime": "2099-02-03T18:00:00Z",
                "assignmentType": "Activated",
                "memberType": "Direct",
                "createdOn": "2025-02-03T10:00:00Z",
            },
        },
        {
            "id": f"{SUB_ID}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances/i2",
            "name": "i2",
            "type": "Microsoft.Authorization/roleAssignmentScheduleInstances",
            "properties": {
                "scope": account_id(BAD),
                "roleDefinitionId": role_id(BLOB_DATA_READER),
                "principalId": READER_USER,
                "principalType": "User",
                "originRoleAssignmentId": reader_on_bad["id"],
                "status": "Provisioned",
                "startDateTime": "2025-02-03T10:10:00Z",
                "assignmentType": "Assigned",
                "memberType": "Direct",
            },
        },
    ]
    estate.resources = [
        {
            "id": f"{RG_ID}/providers/Microsoft.Compute/virtualMachines/inference-1",
            "name": "inference-1",
            "type": "Microsoft.Compute/virtualMachines",
            "location": REGION,
            "identity": {"type": "SystemAssigned", "principalId": INFERENCE_MI, "tenantId": "t"},
        },
        {"id": account_id(BAD), "name": BAD, "type": "Microsoft.Storage/storageAccounts"},
    ]
    return estate


def seed(connection_string: Any, service_client: Any = None) -> None:
    """Blobs into Azurite: `connection_string(account)` gives a key-based connection string."""
    from azure.storage.blob import BlobAnalyticsLogging, BlobServiceClient, RetentionPolicy

    model = pickle.dumps({"weights": [0.1, 0.2], "bias": 0.5})
    for name, good in ((BAD, False), (GOOD, True)):
        service = BlobServiceClient.from_connection_string(connection_string(name))
        # Classic Storage Analytics logging (the data plane's own log): reads on for the good
        # twin, off for the other (Azurite's default has them on).
        service.set_service_properties(
            analytics_logging=BlobAnalyticsLogging(
                read=good,
                write=good,
                delete=good,
                retention_policy=RetentionPolicy(good, 30 if good else None),
            ),
            delete_retention_policy=RetentionPolicy(good, 30 if good else None),
        )
        models = service.create_container(
            "models",
            public_access=None if good else "container",
            metadata={"Owner": "fraud-team", "Classification": "Confidential"},
        )
        models.upload_blob(MODEL_KEYS[0], model, metadata={"ip_value": "high"})
        models.upload_blob(MODEL_KEYS[1], b"flavors:\n  sklearn: {}\n")
        data = service.create_container("data")
        data.upload_blob("notes/readme.txt", b"not a model")


def snapshot(connection_string: Any) -> dict[str, Any]:
    """Everything Azurite holds for the twin accounts, to compare before and after a scan."""
    from azure.storage.blob import BlobServiceClient

    out: dict[str, Any] = {}
    for name in (BAD, GOOD):
        service = BlobServiceClient.from_connection_string(connection_string(name))
        logging = service.get_service_properties()["analytics_logging"]
        retention = logging.retention_policy
        out[name] = {
            "logging": (logging.read, logging.write, logging.delete, retention.enabled),
            "containers": {},
        }
        for c in service.list_containers(include_metadata=True):
            client = service.get_container_client(c.name)
            out[name]["containers"][c.name] = {
                "etag": c.etag,
                "public": c.public_access,
                "metadata": dict(c.metadata or {}),
                "blobs": {
                    b.name: (b.etag, b.size, dict(b.metadata or {}), str(b.last_modified))
                    for b in client.list_blobs(include=["metadata"])
                },
            }
    return out
