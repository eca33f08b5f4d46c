"""Who can read a bucket's objects, and whether anyone at all can.

Readers are the members of every IAM binding whose role contains `storage.objects.get`
(`roles.py`), on the bucket, its project, and the project's folders and organisation, plus,
while uniform bucket-level access is off, the READER/OWNER entities of the default object ACL
and of the model objects' ACLs. The bucket is public when `allUsers` or
`allAuthenticatedUsers` is among them and public access prevention does not stop it (the
bucket's own `enforced` setting, or the organisation policy
`constraints/storage.publicAccessPrevention` for a bucket that inherits).

Kleene logic: an unreadable policy, ACL or role is Unknown, and an Unknown never becomes
"not public" or "no readers".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.gcs.buckets import BucketFacts
from scanner.sources.gcs.members import PUBLIC_MEMBERS, Scope, cross_account
from scanner.sources.gcs.policies import Binding, Policy
from scanner.sources.gcs.project import ProjectFacts
from scanner.sources.gcs.roles import READ_PERMISSION, RoleBook
from scanner.sources.tri import Tri, t_and, t_or

VIA = {
    "buckets": "bucket_iam",
    "projects": "project_iam",
    "folders": "folder_iam",
    "organizations": "organization_iam",
}


@dataclass(frozen=True)
class Grant:
    principal: str
    bucket: str  # storage id
    via: str  # bucket_iam | project_iam | folder_iam | organization_iam | acl
    policy: str  # where: `buckets/B`, `projects/P`, or the ACL
    role: str
    cross_account: Tri
    wildcard_action: Tri  # the role holds every object permission (storage.objectAdmin, admin)
    wildcard_resource: bool  # granted above the bucket: it reaches every bucket there
    condition: Mapping[str, str] | None = None
    time_bound: bool = False

    def as_attr(self, other_key: str, other: Any) -> dict[str, Any]:
        return {
            other_key: other,
            "via": self.via,
            "policy": self.policy,
            "statement": self.role,
            "role": self.role,
            "actions": [READ_PERMISSION],
            "conditions": dict(self.condition or {}),
            "restricted_by": ["other"] if self.condition else [],
            "cross_account": self.cross_account,
            "wildcard_action": self.wildcard_action,
            "wildcard_resource": self.wildcard_resource,
            "limited_by_denies": [],
        }


@dataclass
class BucketAccess:
    grants: list[Grant] | Unknown
    public: Tri
    public_reasons: list[str] = field(default_factory=list)


def evaluate(
    facts: BucketFacts, project: ProjectFacts, roles: RoleBook, scope: Scope
) -> BucketAccess:
    policies: list[tuple[str, Policy | Unknown]] = [(f"buckets/{facts.name}", facts.iam)]
    policies += project.policies
    grants: list[Grant] = []
    unknown: Unknown | None = None
    reasons: list[str] = []
    iam_public: Tri = False
    for resource, policy in policies:
        if isinstance(policy, Unknown):
            unread = Unknown(f"IAM policy of {resource} unreadable ({policy.reason})")
            unknown = _first(unknown, unread)
            iam_public = t_or(iam_public, unread)  # it may name allUsers: never "not public"
            continue
        for binding in policy.bindings:
            reads = roles.reads_objects(binding.role)
            if isinstance(reads, Unknown):
                unknown = _first(unknown, reads)
                if PUBLIC_MEMBERS & set(binding.members):
                    iam_public = t_or(iam_public, reads)
                continue
            if not reads:
                continue
            full = roles.full_control(binding.role)
            for member in binding.members:
                grants.append(_grant(facts, binding, member, full, scope))
                if member in PUBLIC_MEMBERS:
                    iam_public = True
                    reasons.append(f"{member} holds {binding.role} on {binding.resource}")
    acl_public: Tri = False
    if isinstance(facts.acl_readers, Unknown):
        unknown = _first(unknown, Unknown(f"ACLs unreadable ({facts.acl_readers.reason})"))
        acl_public = Unknown(
            f"uniform bucket-level access is off and ACLs are unreadable "
            f"({facts.acl_readers.reason})"
        )
    else:
        for member, wheres in sorted(facts.acl_readers.items()):
            for where in wheres:
                grants.append(
                    Grant(
                        member,
                        facts.id,
                        "acl",
                        where,
                        "READER",
                        cross_account(member, scope),
                        False,
                        False,
                    )
                )
            if member in PUBLIC_MEMBERS:
                acl_public = True
                reasons.append(f"{member} can read through the {wheres[0]}")
    blocked, why = _prevention(facts, project)
    if blocked is True:
        # Prevention refuses every request from allUsers and allAuthenticatedUsers: whatever
        # the policy says, they read nothing, so they are no readers.
        grants = [g for g in grants if g.principal not in PUBLIC_MEMBERS]
    exposed = t_or(iam_public, acl_public)
    if exposed is True and blocked is True:
        reasons.append(f"but {why}, so no public request is served")
    elif exposed is False:
        reasons.append(f"no binding or ACL names allUsers or allAuthenticatedUsers; {why}")
    elif blocked is True:
        reasons.append(why)
    public = t_and(exposed, blocked if isinstance(blocked, Unknown) else not blocked)
    if isinstance(public, Unknown) and not reasons:
        reasons.append(public.reason)
    return BucketAccess(unknown if unknown is not None else grants, public, reasons)


def _first(current: Unknown | None, new: Unknown) -> Unknown:
    """The first reason found is the one reported (an Unknown has no truth value)."""
    return current if current is not None else new


def _grant(facts: BucketFacts, binding: Binding, member: str, full: Tri, scope: Scope) -> Grant:
    kind = binding.resource.split("/", 1)[0]
    return Grant(
        principal=member,
        bucket=facts.id,
        via=VIA.get(kind, "iam"),
        policy=binding.resource,
        role=binding.role,
        cross_account=cross_account(member, scope),
        wildcard_action=full,
        wildcard_resource=kind != "buckets",
        condition=binding.condition,
        time_bound=binding.time_bound,
    )


def _prevention(facts: BucketFacts, project: ProjectFacts) -> tuple[Tri, str]:
    """Whether public access prevention applies, and why in words."""
    if isinstance(facts.settings, Unknown):
        return facts.settings, f"public access prevention unknown ({facts.settings.reason})"
    if facts.settings.get("public_access_prevention") == "enforced":
        return True, "public access prevention is enforced on the bucket"
    if project.pap_by_org is True:
        return True, (
            "the organisation policy constraints/storage.publicAccessPrevention enforces "
            "public access prevention"
        )
    if isinstance(project.pap_by_org, Unknown):
        return project.pap_by_org, (
            "public access prevention is 'inherited' and the organisation policy is unreadable "
            f"({project.pap_by_org.reason})"
        )
    return (
        False,
        "public access prevention is not enforced (the bucket inherits, the "
        "organisation does not enforce it)",
    )
