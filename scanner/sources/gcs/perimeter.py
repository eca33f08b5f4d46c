"""VPC Service Controls: is a project's Cloud Storage inside an enforced service perimeter?

A bucket is `network_restricted` when its project is a resource of an enforced (`status`, not
the dry-run `spec`) regular perimeter that restricts `storage.googleapis.com`, and no ingress
rule of that perimeter lets any source in to Cloud Storage. Perimeters live in the
organisation's access policies (Access Context Manager): listing them needs
`accesscontextmanager.policies.list` and `accesscontextmanager.servicePerimeters.list` on the
organisation. Unreadable is Unknown naming the permission, never "not restricted".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.gcp.rest import Rest

STORAGE = "storage.googleapis.com"


@dataclass(frozen=True)
class Restriction:
    restricted: bool | Unknown
    reasons: tuple[str, ...] = ()
    perimeters: tuple[str, ...] = field(default_factory=tuple)


def read_perimeters(rest: Rest, root: str, organization: str) -> list[dict[str, Any]] | Unknown:
    policies = rest.pages(
        f"{root}v1/accessPolicies",
        "accessPolicies",
        permission="accesscontextmanager.policies.list",
        what=f"access policies of organizations/{organization}",
        params={"parent": f"organizations/{organization}"},
    )
    if isinstance(policies, Unknown):
        return policies
    perimeters: list[dict[str, Any]] = []
    for policy in policies:
        name = policy.get("name")
        if not isinstance(name, str) or not name.startswith("accessPolicies/"):
            return rest.calls.malformed("access policies", "a policy has no accessPolicies/ name")
        found = rest.pages(
            f"{root}v1/{name}/servicePerimeters",
            "servicePerimeters",
            permission="accesscontextmanager.servicePerimeters.list",
            what=f"service perimeters of {name}",
        )
        if isinstance(found, Unknown):
            return found
        perimeters.extend(found)
    return perimeters


def restriction(
    perimeters: list[dict[str, Any]] | Unknown, project_number: str | Unknown | None
) -> Restriction:
    if isinstance(perimeters, Unknown):
        return Restriction(Unknown(f"VPC Service Controls unreadable ({perimeters.reason})"))
    if not isinstance(project_number, str):
        reason = project_number.reason if isinstance(project_number, Unknown) else "not known"
        return Restriction(Unknown(f"the project number is unknown ({reason})"))
    resource = f"projects/{project_number}"
    reasons: list[str] = []
    names: list[str] = []
    for perimeter in perimeters:
        status = perimeter.get("status")
        title = str(perimeter.get("title") or perimeter.get("name") or "a perimeter")
        if perimeter.get("perimeterType", "PERIMETER_TYPE_REGULAR") != "PERIMETER_TYPE_REGULAR":
            continue
        if not isinstance(status, Mapping) or resource not in (status.get("resources") or ()):
            continue
        if STORAGE not in (status.get("restrictedServices") or ()):
            reasons.append(f"perimeter {title} holds the project but does not restrict {STORAGE}")
            continue
        opening = _open_ingress(status.get("ingressPolicies") or ())
        if opening:
            reasons.append(f"perimeter {title} restricts {STORAGE} but {opening}")
            continue
        names.append(str(perimeter.get("name", title)))
        reasons.append(f"perimeter {title} restricts {STORAGE} for the project")
    if names:
        return Restriction(True, tuple(reasons), tuple(names))
    if not reasons:
        reasons.append(f"{resource} is in no enforced VPC Service Controls perimeter")
    return Restriction(False, tuple(reasons))


def _open_ingress(rules: Any) -> str | None:
    """An ingress rule that admits any source (`accessLevel: "*"`) to Cloud Storage."""
    for rule in rules if isinstance(rules, list) else ():
        if not isinstance(rule, Mapping):
            continue
        sources = (rule.get("ingressFrom") or {}).get("sources") or ()
        if not any(isinstance(s, Mapping) and s.get("accessLevel") == "*" for s in sources):
            continue
        operations = (rule.get("ingressTo") or {}).get("operations") or ()
        services = {o.get("serviceName") for o in operations if isinstance(o, Mapping)}
        if not operations or services & {STORAGE, "*"}:
            return "an ingress rule admits any source (accessLevel *) to it"
    return None
