"""Who can read one container's blobs, and whether anyone at all can: the grants behind
`storage.readers`, `access_grants` and `public`, and each principal's `grants`.

Fail-closed rules: an unreadable role assignment list, an unreadable role definition of an
assignment that covers the container, or an undecided public access makes the reader list
Unknown, never a shorter list. Key-based access counts unless the account is known to refuse
shared-key authorization (`allowSharedKeyAccess: false`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scanner.inventory import Ref, Unknown
from scanner.sources.azure import rbac
from scanner.sources.azure.rbac import Assignment, Rbac

# Anyone, through a container's public access level. Not AWS's `*`: the inventory merges
# resources by id, so one `*` would keep only the first source's grants when an estate spans
# both clouds (anonymous readers of S3 buckets and of blob containers are different facts).
ANYONE = "azure-principal://anonymous"


def principal_id(object_id: str) -> str:
    return f"azure-principal://{object_id.lower()}"


@dataclass(frozen=True)
class Grant:
    principal: str  # the principal resource id (ANYONE for anyone)
    storage: str  # the container's storage id
    via: str  # `data_action`, `account_key`, `public_access`
    assignment: str  # the role assignment's id, "" for public access
    role: str  # role name, or the public access level
    scope: str  # the assignment's scope, or the container
    actions: tuple[str, ...]
    condition: str | None
    cross_account: bool
    wildcard_action: bool
    wildcard_resource: bool

    def as_attr(self, key: str, value: Any) -> dict[str, Any]:
        return {
            key: value,
            "via": self.via,
            "role": self.role,
            "scope": self.scope,
            "assignment": self.assignment or None,
            "actions": list(self.actions),
            "conditions": [self.condition] if self.condition else [],
            "restricted_by": ["other"] if self.condition else [],
            "cross_account": self.cross_account,
            "wildcard_action": self.wildcard_action,
            "wildcard_resource": self.wildcard_resource,
            "limited_by_denies": [],
        }


def container_grants(
    access: Rbac,
    account_id: str,
    container_id: str,
    storage: str,
    shared_key: bool | Unknown,
) -> list[Grant] | Unknown:
    """Every role-based way into the container's blobs (`account_id`, `container_id`: ARM ids)."""
    if isinstance(access.assignments, Unknown):
        return Unknown(f"role assignments unreadable ({access.assignments.reason})")
    out: list[Grant] = []
    for a in access.assignments:
        on_container = rbac.covers(a.scope, container_id)
        if not on_container:
            continue
        role = access.role(a)
        if isinstance(role, Unknown):
            return Unknown(
                f"the role of assignment {a.id.rsplit('/', 1)[-1]} to {a.principal} at "
                f"{a.scope} is unreadable ({role.reason})"
            )
        data = role.allows(rbac.BLOB_READ, data=True)
        if data:
            out.append(_grant(a, storage, "data_action", role.name, data))
        keys = role.allows(rbac.LIST_KEYS, data=False)
        if keys and rbac.covers(a.scope, account_id) and shared_key is not False:
            out.append(_grant(a, storage, "account_key", role.name, keys))
    return out


def _grant(a: Assignment, storage: str, via: str, role: str, pattern: str) -> Grant:
    return Grant(
        principal=principal_id(a.principal),
        storage=storage,
        via=via,
        assignment=a.id,
        role=role,
        scope=a.scope,
        actions=(pattern,),
        condition=a.condition,
        cross_account=rbac.kind(a) == "external",
        wildcard_action="*" in pattern,
        wildcard_resource=rbac.above_account(a.scope),
    )


def anonymous_grant(storage: str, level: str) -> Grant:
    return Grant(
        principal=ANYONE,
        storage=storage,
        via="public_access",
        assignment="",
        role=f"public access level {level}",
        scope=storage,
        actions=(rbac.BLOB_READ,),
        condition=None,
        cross_account=True,
        wildcard_action=False,
        wildcard_resource=False,
    )


def readers(grants: list[Grant] | Unknown) -> tuple[Any, Any, Any]:
    """(readers, reader_count, access_grants) attributes of a container."""
    if isinstance(grants, Unknown):
        return grants, grants, grants
    ids = sorted({g.principal for g in grants})
    attrs = [g.as_attr("principal", Ref(g.principal)) for g in grants]
    return [Ref(i) for i in ids], len(ids), attrs
