"""The Blob data plane of one storage account: its containers, blobs, and what anyone can read.

Calls, with the permission each needs under Microsoft Entra ID (docs/sources/azure.md):
- List Containers with metadata (`.../blobServices/containers/read`): the containers and
  their public access level (account mode), container metadata (governance facts);
- Get Blob Service Properties (`.../blobServices/read`): classic Storage Analytics read
  logging, and soft delete in account mode;
- List Blobs with metadata and ranged Get Blob (the data action
  `.../blobServices/containers/blobs/read`): model files (`blob_reader.py`), blob metadata;
- List Blobs or Get Blob Properties *without any credential*: whether a container the data
  plane calls public really is (account mode).

In account mode the anonymous request is the only way to learn whether a container's public
access level takes effect, since the account-level switch (`allowBlobPublicAccess`) is a
management-plane setting: `409 PublicAccessNotPermitted` means the account forbids it.
"""

from __future__ import annotations

from typing import Any

from scanner.inventory import Unknown
from scanner.sources.azure import clients
from scanner.sources.azure.blob_reader import AzureBlobReader
from scanner.sources.azure.facts import AccountFacts, ContainerFacts
from scanner.sources.azure.faults import Calls, classify, error_code
from scanner.sources.azure.options import AzureOptions
from scanner.sources.objectstore import StoreContents

CONTAINERS_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/read"
SERVICE_READ = "Microsoft.Storage/storageAccounts/blobServices/read"
LEVELS = {"container": "container", "blob": "blob", None: "none", "": "none"}


def list_containers(service: Any, calls: Calls, facts: AccountFacts, *, fatal: bool) -> Any:
    """Each container as the data plane lists it: {name, publicAccess, metadata, ...}."""

    def listing() -> list[dict[str, Any]]:
        return [_container(c) for c in service.list_containers(include_metadata=True)]

    return calls.call(CONTAINERS_READ, f"List Containers ({facts.name})", listing, fatal=fatal)


def _container(props: Any) -> dict[str, Any]:
    name = props.name
    if not isinstance(name, str) or not name:
        raise ValueError("a listed container without a name")
    level = props.public_access
    level = getattr(level, "value", level)
    if level not in LEVELS:
        raise ValueError(f"container {name}: unknown public access level {level!r}")
    return {
        "name": name,
        "publicAccess": LEVELS[level],
        "metadata": {str(k): str(v) for k, v in (props.metadata or {}).items()},
        "hasImmutabilityPolicy": bool(props.has_immutability_policy),
        "hasLegalHold": bool(props.has_legal_hold),
        "immutableStorageWithVersioning": bool(props.immutable_storage_with_versioning_enabled),
        "defaultEncryptionScope": getattr(props.encryption_scope, "default_encryption_scope", None),
    }


def service_properties(service: Any, calls: Calls, facts: AccountFacts) -> None:
    def read() -> dict[str, Any]:
        props = service.get_service_properties()
        logging = props.get("analytics_logging")
        retention = props.get("delete_retention_policy")
        if logging is None or retention is None:
            raise ValueError("service properties without logging or delete retention")
        return {
            "logging": {
                "read": bool(logging.read),
                "write": bool(logging.write),
                "delete": bool(logging.delete),
                "retentionDays": getattr(logging.retention_policy, "days", None),
            },
            "deleteRetentionPolicy": {
                "enabled": bool(retention.enabled),
                "days": retention.days,
            },
        }

    facts.service_properties = calls.call(
        SERVICE_READ, f"Get Blob Service Properties ({facts.name})", read
    )


def reader(service: Any, calls: Calls, container: ContainerFacts) -> AzureBlobReader:
    return AzureBlobReader(
        service.get_container_client(container.name),
        calls,
        f"{container.account}/{container.name}",
    )


def list_blobs(service: Any, calls: Calls, container: ContainerFacts, cap: int) -> None:
    blobs = reader(service, calls, container)
    container.contents = StoreContents(blobs.list_objects(cap))
    container.blob_metadata = blobs.metadata


def probe_anonymous(service: Any, container: ContainerFacts, opts: AzureOptions) -> None:
    """Ask as anyone: list a `container`-level container, or read the properties of one listed
    blob of a `blob`-level one (blobs can be read by name there, but not listed)."""
    data = container.data
    level = data.get("publicAccess") if isinstance(data, dict) else None
    if level not in ("container", "blob"):
        return
    anonymous = clients.anonymous_container(service, container.name, opts)
    objects = container.contents.objects
    try:
        if level == "container":
            next(iter(anonymous.list_blobs(results_per_page=1).by_page()), None)
            container.anonymous = True
            container.anonymous_reason = "an anonymous List Blobs request was answered"
            return
        if isinstance(objects, Unknown) or not objects:
            container.anonymous = Unknown(
                "public access level 'blob', but no blob was listed to try reading anonymously"
            )
            return
        anonymous.get_blob_client(objects[0].key).get_blob_properties()
        container.anonymous = True
        container.anonymous_reason = (
            f"an anonymous read of {objects[0].key} was answered: anyone who knows a blob's "
            "name can read it"
        )
    except Exception as exc:
        if (
            getattr(exc, "status_code", None) == 409
            and error_code(exc) == "PublicAccessNotPermitted"
        ):
            container.anonymous = False
            container.anonymous_reason = (
                f"public access level '{level}' does not take effect: the account forbids "
                "anonymous access (an anonymous request was refused: PublicAccessNotPermitted)"
            )
            return
        reason, _kind = classify(exc, "(none: anonymous)", f"anonymous request to {container.id}")
        container.anonymous = Unknown(f"public access level '{level}', {reason}")
