"""Who can read a container's blobs: Azure role assignments, their role definitions, and the
account's shared-key switch.

A principal reads blobs in two ways:
- **a data action**: a role whose `dataActions` match
  `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read` (and whose
  `notDataActions` do not), assigned at the container, the account, its resource group, the
  subscription or above: Storage Blob Data Reader / Contributor / Owner, and custom roles;
- **the account key**: a role whose `actions` match
  `Microsoft.Storage/storageAccounts/listKeys/action` (Owner, Contributor, Storage Account
  Contributor, Reader and Data Access, custom roles) can fetch the keys and read everything,
  unless the account refuses shared-key authorization (`allowSharedKeyAccess: false`).

Calls (docs/sources/azure.md has the permissions):
- Role Assignments - List For Subscription: every assignment at, above and below it;
- Role Definitions - Get By Id, once per assigned role: what each role allows;
- Role Assignment Schedule Instances - List For Scope: assignments activated just in time
  through Privileged Identity Management;
- Resources - List and User Assigned Identities - List: which service principals are
  managed identities.

Principal kinds: a user is `human`; a group is `human` too, because its members are not read
(that needs Microsoft Graph) and a group of people with standing access must not pass as a
non-person; a service principal or managed identity is `service`; a foreign group (another
tenant) is `external`. Deny assignments and ABAC conditions are not evaluated: a conditional
assignment is a reader with its condition recorded (`restricted_by: [other]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.azure.clients import Arm
from scanner.sources.azure.faults import Calls

BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
LIST_KEYS = "Microsoft.Storage/storageAccounts/listKeys/action"
ASSIGN_ROLES = "Microsoft.Authorization/roleAssignments/write"
API_RESOURCES = "2021-04-01"
API_IDENTITIES = "2023-01-31"

KINDS = {
    "user": "human",
    "group": "human",
    "serviceprincipal": "service",
    "foreigngroup": "external",
}
TYPES = {
    "user": "user",
    "group": "group",
    "serviceprincipal": "service_principal",
    "foreigngroup": "foreign_group",
    "device": "device",
}


@dataclass(frozen=True)
class Assignment:
    id: str
    principal: str
    principal_type: str  # as Azure names it: User, Group, ServicePrincipal, ForeignGroup
    role_id: str
    scope: str
    condition: str | None

    @property
    def key(self) -> str:
        return self.id.lower()


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    permissions: tuple[dict[str, Any], ...]

    def allows(self, action: str, *, data: bool) -> str | None:
        """The pattern that grants `action` (a data action when `data`), or None."""
        key, not_key = ("dataActions", "notDataActions") if data else ("actions", "notActions")
        for permission in self.permissions:
            granted = next((p for p in permission.get(key) or () if _match(p, action)), None)
            if granted and not any(_match(p, action) for p in permission.get(not_key) or ()):
                return str(granted)
        return None


@dataclass
class Rbac:
    """One subscription's role assignments and what they mean."""

    assignments: list[Assignment] | Unknown = field(default_factory=list)
    roles: dict[str, Role | Unknown] = field(default_factory=dict)
    activated: set[str] | Unknown = field(default_factory=set)  # PIM-activated assignment ids
    managed_identities: set[str] | Unknown = field(default_factory=set)

    def role(self, assignment: Assignment) -> Role | Unknown:
        return self.roles.get(assignment.role_id.lower(), Unknown("role definition not read"))


def _match(pattern: Any, action: str) -> bool:
    if not isinstance(pattern, str):
        return False
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def covers(scope: str, resource_id: str) -> bool:
    """Does an assignment at `scope` apply to `resource_id`? Scopes are resource ids; the
    tenant root `/` and management groups (returned for the subscription because they contain
    it) apply to everything listed."""
    scope, rid = scope.rstrip("/").lower(), resource_id.rstrip("/").lower()
    if not scope or scope.startswith("/providers/microsoft.management/managementgroups/"):
        return True
    return rid == scope or rid.startswith(scope + "/")


def above_account(scope: str) -> bool:
    """A scope wider than one resource group: every storage account under it is granted."""
    scope = scope.rstrip("/").lower()
    return "/resourcegroups/" not in scope


def load(arm: Arm, calls: Calls, pool_map: Any) -> Rbac:
    rbac = Rbac()
    sub = arm.subscription
    listed = calls.call(
        "Microsoft.Authorization/roleAssignments/read",
        f"Role Assignments - List For Subscription ({sub})",
        lambda: [
            a.serialize(keep_readonly=True)
            for a in arm.authorization.role_assignments.list_for_subscription()
        ],
    )
    rbac.assignments = (
        listed if isinstance(listed, Unknown) else _assignments(listed or [], calls, sub)
    )
    if isinstance(rbac.assignments, list):
        role_ids = sorted({a.role_id for a in rbac.assignments}, key=str.lower)
        roles = pool_map(lambda rid: _role(arm, calls, rid), role_ids)
        rbac.roles = {rid.lower(): role for rid, role in zip(role_ids, roles, strict=True)}
    rbac.activated = _activated(arm, calls, sub)
    rbac.managed_identities = _managed_identities(arm, calls, sub)
    return rbac


def _assignments(items: list[Any], calls: Calls, sub: str) -> list[Assignment] | Unknown:
    operation = f"Role Assignments - List For Subscription ({sub})"
    out: list[Assignment] = []
    for item in items:
        props = calls.field(item, "properties", dict, operation)
        values = {
            key: calls.field(props, key, str, operation)
            for key in ("principalId", "principalType", "roleDefinitionId", "scope")
        }
        aid = calls.field(item, "id", str, operation)
        missing = [k for k, v in {**values, "id": aid}.items() if not isinstance(v, str)]
        if missing:
            # One unreadable assignment makes every reader list unknown: it may be a reader.
            return calls.malformed(operation, f"an assignment without {', '.join(missing)}")
        condition = calls.field(props, "condition", str, operation)
        out.append(
            Assignment(
                id=aid,
                principal=values["principalId"],
                principal_type=values["principalType"],
                role_id=values["roleDefinitionId"],
                scope=values["scope"],
                condition=condition if isinstance(condition, str) else None,
            )
        )
    return out


def _role(arm: Arm, calls: Calls, role_id: str) -> Role | Unknown:
    operation = f"Role Definitions - Get By Id ({role_id.rsplit('/', 1)[-1]})"
    answer = calls.call(
        "Microsoft.Authorization/roleDefinitions/read",
        operation,
        lambda: arm.authorization.role_definitions.get_by_id(role_id).serialize(keep_readonly=True),
    )
    if isinstance(answer, Unknown):
        return answer
    props = calls.field(answer, "properties", dict, operation)
    permissions = (
        calls.field(props, "permissions", list, operation) if isinstance(props, dict) else props
    )
    if not isinstance(permissions, list):
        return (
            permissions
            if isinstance(permissions, Unknown)
            else calls.malformed(operation, "no permissions")
        )
    for permission in permissions:
        for key in ("actions", "notActions", "dataActions", "notDataActions"):
            value = permission.get(key) if isinstance(permission, dict) else None
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                return calls.malformed(operation, f"{key} is not a list of strings")
    name = props.get("roleName") if isinstance(props, dict) else None
    return Role(role_id, name if isinstance(name, str) else role_id, tuple(permissions))


def _activated(arm: Arm, calls: Calls, sub: str) -> set[str] | Unknown:
    operation = f"Role Assignment Schedule Instances - List For Scope ({sub})"
    listed = calls.call(
        "Microsoft.Authorization/roleAssignmentScheduleInstances/read",
        operation,
        lambda: [
            i.serialize(keep_readonly=True)
            for i in arm.authorization.role_assignment_schedule_instances.list_for_scope(
                f"subscriptions/{sub}"
            )
        ],
    )
    if isinstance(listed, Unknown):
        return listed
    out: set[str] = set()
    for item in listed or []:
        props = calls.field(item, "properties", dict, operation)
        if not isinstance(props, dict):
            return (
                props if isinstance(props, Unknown) else calls.malformed(operation, "no properties")
            )
        kind = props.get("assignmentType")
        origin = props.get("originRoleAssignmentId")
        if kind == "Activated" and isinstance(origin, str):
            out.add(origin.lower())
    return out


def _managed_identities(arm: Arm, calls: Calls, sub: str) -> set[str] | Unknown:
    """Principal ids of managed identities: system-assigned ones of every resource, and
    user-assigned ones (which may be attached to nothing, e.g. a CI workload identity)."""
    resources = calls.call(
        "Microsoft.Resources/subscriptions/resources/read",
        f"Resources - List ({sub})",
        lambda: list(arm.pages(f"/subscriptions/{sub}/resources", API_RESOURCES)),
    )
    identities = calls.call(
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        f"User Assigned Identities - List ({sub})",
        lambda: list(
            arm.pages(
                f"/subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
                API_IDENTITIES,
            )
        ),
    )
    if isinstance(resources, Unknown):
        return resources
    if isinstance(identities, Unknown):
        return identities
    out: set[str] = set()
    for resource in resources or []:
        identity = resource.get("identity")
        if not isinstance(identity, dict):
            continue
        if isinstance(identity.get("principalId"), str):
            out.add(identity["principalId"].lower())
        for attached in (identity.get("userAssignedIdentities") or {}).values():
            if isinstance(attached, dict) and isinstance(attached.get("principalId"), str):
                out.add(attached["principalId"].lower())
    for uai in identities or []:
        props = uai.get("properties")
        if isinstance(props, dict) and isinstance(props.get("principalId"), str):
            out.add(props["principalId"].lower())
    return out


def principal_type(assignment: Assignment, rbac: Rbac) -> str | Unknown:
    raw = assignment.principal_type.lower()
    if raw != "serviceprincipal":
        return TYPES.get(raw, raw)
    identities = rbac.managed_identities
    if isinstance(identities, Unknown):
        return Unknown(f"a service principal or a managed identity: {identities.reason}")
    return "managed_identity" if assignment.principal.lower() in identities else "service_principal"


def kind(assignment: Assignment) -> str:
    # Anything Azure adds later is taken for a person: a policy about people fails closed.
    return KINDS.get(assignment.principal_type.lower(), "human")
