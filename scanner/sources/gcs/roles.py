"""Which IAM roles let a principal read objects (`storage.objects.get`).

A bucket's readers are the members of every binding, on the bucket or above it (project,
folder, organisation), whose role contains `storage.objects.get`. Predefined roles are looked
up in the table below; any other role (a custom role, or a predefined role this table does not
know) is read with the IAM API's `roles.get` (`iam.roles.get`), once per role and scan. A role
that cannot be read is Unknown, never "cannot read".

The table is written from Google's published role definitions: "IAM roles for Cloud Storage"
(cloud.google.com/storage/docs/access-control/iam-roles) and "Cloud Storage roles and
permissions" (cloud.google.com/iam/docs/roles-permissions/storage), as published in late 2026.
Basic roles (Owner, Editor, Viewer) contain no `storage.objects.get`: their holders read
objects through the `projectOwner:`/`projectEditor:`/`projectViewer:` convenience members a
bucket's own policy (or ACL) names, which are evaluated like any other member.
"""

from __future__ import annotations

import threading

from scanner.inventory import Unknown
from scanner.sources.gcp.rest import Rest

READ_PERMISSION = "storage.objects.get"

# role -> (contains storage.objects.get, holds every object permission)
PREDEFINED: dict[str, tuple[bool, bool]] = {
    "roles/storage.admin": (True, True),
    "roles/storage.objectAdmin": (True, True),
    "roles/storage.objectUser": (True, False),
    "roles/storage.objectViewer": (True, False),
    "roles/storage.folderAdmin": (True, False),
    "roles/storage.legacyObjectReader": (True, False),
    "roles/storage.legacyObjectOwner": (True, False),
    "roles/storage.expressModeServiceOutput": (True, False),
    "roles/storage.expressModeUserAccess": (True, False),
    "roles/storage.objectCreator": (False, False),
    "roles/storage.bucketViewer": (False, False),
    "roles/storage.legacyBucketOwner": (False, False),
    "roles/storage.legacyBucketReader": (False, False),
    "roles/storage.legacyBucketWriter": (False, False),
    "roles/storage.hmacKeyAdmin": (False, False),
    "roles/storage.expressModeServiceInput": (False, False),
    "roles/storage.insightsCollectorService": (False, False),
    "roles/owner": (False, False),
    "roles/editor": (False, False),
    "roles/viewer": (False, False),
    "roles/browser": (False, False),
}


class RoleBook:
    """`reads_objects(role)`: the table, else `roles.get`, each role read once per scan."""

    def __init__(self, rest: Rest, iam_root: str) -> None:
        self._rest = rest
        self._root = iam_root
        self._lock = threading.Lock()
        self._known: dict[str, tuple[bool, bool] | Unknown] = {}

    def reads_objects(self, role: str) -> bool | Unknown:
        found = self._lookup(role)
        return found if isinstance(found, Unknown) else found[0]

    def full_control(self, role: str) -> bool | Unknown:
        found = self._lookup(role)
        return found if isinstance(found, Unknown) else found[1]

    def _lookup(self, role: str) -> tuple[bool, bool] | Unknown:
        if role in PREDEFINED:
            return PREDEFINED[role]
        with self._lock:
            if role in self._known:
                return self._known[role]
        result = self._read(role)
        with self._lock:
            self._known[role] = result
        return result

    def _read(self, role: str) -> tuple[bool, bool] | Unknown:
        if not role.startswith(("roles/", "projects/", "organizations/")) or ".." in role:
            return Unknown(f"role {role!r} is not a role name")
        answer = self._rest.get(
            f"{self._root}v1/{role}", permission="iam.roles.get", what=f"IAM role {role}"
        )
        if isinstance(answer, Unknown):
            return Unknown(f"role {role} unreadable ({answer.reason})")
        if answer is None:
            return Unknown(f"role {role} unreadable (no answer)")
        permissions = answer.get("includedPermissions", [])
        if not isinstance(permissions, list):
            return self._rest.calls.malformed(f"IAM role {role}", "includedPermissions")
        names = {p for p in permissions if isinstance(p, str)}
        full = {"storage.objects.get", "storage.objects.delete", "storage.objects.update"} <= names
        return READ_PERMISSION in names, full and "storage.objects.setIamPolicy" in names
