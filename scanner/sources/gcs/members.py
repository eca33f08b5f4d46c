"""IAM members (`user:a@x`, `serviceAccount:…`, `allUsers`) as principals.

A member string is the principal's id: it is how every IAM policy names it, and it is
globally unique across Google Cloud. Kinds follow docs/resource-model.md:
- `user:`, `group:`, `domain:` and the project convenience members (`projectViewer:P`) are
  people (`human`): IAM cannot see who is in a group or domain;
- `serviceAccount:` and workload-identity principals are `service`;
- `allUsers` and `allAuthenticatedUsers` (any Google account at all) are `anonymous`.
Object ACL entities (`user-a@x`, `project-viewers-123`) are turned into the same strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.inventory import Unknown

ALL_USERS = "allUsers"
ALL_AUTHENTICATED = "allAuthenticatedUsers"
PUBLIC_MEMBERS = frozenset({ALL_USERS, ALL_AUTHENTICATED})
CONVENIENCE = ("projectOwner", "projectEditor", "projectViewer")

_SA_PROJECT = re.compile(r"@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")
_SA_NUMBER = re.compile(r"^(?:service-)?(\d+)(?:-compute)?@")
_POOL_NUMBER = re.compile(r"//iam\.googleapis\.com/projects/(\d+)/")
_ACL_TEAM = {"owners": "projectOwner", "editors": "projectEditor", "viewers": "projectViewer"}


@dataclass(frozen=True)
class Scope:
    """What decides whether a member is from outside: the scanned project and org domains."""

    project: str
    project_number: str | None
    org_domains: tuple[str, ...] | None


def kind(member: str) -> str:
    inner = member.removeprefix("deleted:")
    if member in PUBLIC_MEMBERS:
        return "anonymous"
    prefix = inner.split(":", 1)[0]
    if prefix == "serviceAccount":
        return "service"
    if inner.startswith(("principal://", "principalSet://")):
        return "service" if "/workloadIdentityPools/" in inner else "human"
    return "human"


def name(member: str) -> str:
    """What people call it: the e-mail or domain without the type prefix."""
    if member in PUBLIC_MEMBERS:
        return member
    inner = member.removeprefix("deleted:")
    if inner.startswith(("principal://", "principalSet://")):
        return inner.rsplit("/", 1)[-1]
    return inner.split(":", 1)[-1].split("?", 1)[0]


def cross_account(member: str, scope: Scope) -> bool | Unknown:
    """Whether the member is outside the scanned project (service accounts, convenience
    members, workload pools) or organisation (people, groups and domains: `org_domains`)."""
    if member in PUBLIC_MEMBERS:
        return True
    inner = member.removeprefix("deleted:")
    prefix, _, rest = inner.partition(":")
    if prefix == "serviceAccount":
        email = rest.split("?", 1)[0].lower()
        # Google-managed service agents are named by project number (`service-123@gcp-sa-…`,
        # `123-compute@developer…`): the domain is Google's, not a project's.
        n = _SA_NUMBER.match(email)
        if n and scope.project_number:
            return n.group(1) != scope.project_number
        m = _SA_PROJECT.search(email)
        if m and not n:
            return m.group(1) != scope.project
        if email.endswith("@appspot.gserviceaccount.com"):
            return email.split("@", 1)[0] != scope.project
        return Unknown(f"cannot tell which project service account {email} belongs to")
    if prefix in CONVENIENCE:
        return rest not in {scope.project, scope.project_number}
    if inner.startswith(("principal://", "principalSet://")):
        m = _POOL_NUMBER.search(inner)
        if m and scope.project_number:
            return m.group(1) != scope.project_number
        return Unknown(f"cannot tell whether federated identity {inner} is the organisation's")
    domain = rest.split("?", 1)[0].rpartition("@")[2].lower()
    if scope.org_domains is None:
        return Unknown(
            f"whether {inner} belongs to the organisation is not in IAM "
            "(set the gcs: option org_domains)"
        )
    return not any(domain == d or domain.endswith("." + d) for d in scope.org_domains)


def from_acl_entity(entity: str) -> str | None:
    """`user-a@x` -> `user:a@x`, `project-viewers-123` -> `projectViewer:123`; None when the
    entity names nobody we can report."""
    if entity in PUBLIC_MEMBERS:
        return entity
    for prefix, member in (("user-", "user"), ("group-", "group"), ("domain-", "domain")):
        if entity.startswith(prefix):
            return f"{member}:{entity[len(prefix) :]}"
    if entity.startswith("project-"):
        team, _, number = entity[len("project-") :].partition("-")
        if team in _ACL_TEAM and number:
            return f"{_ACL_TEAM[team]}:{number}"
    return None
