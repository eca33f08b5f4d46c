"""What the GCS source reads once per project, through Resource Manager and Access Context
Manager: the project's number and ancestors, the IAM policies of the project and of every
folder and organisation above it (bindings there reach every bucket; audit configs there turn
on Data Access logs), the effective public-access-prevention constraint, and perimeters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.gcp.calls import MalformedAnswer
from scanner.sources.gcp.credentials import api_root
from scanner.sources.gcp.rest import Rest
from scanner.sources.gcs.perimeter import Restriction, read_perimeters, restriction
from scanner.sources.gcs.policies import Policy, parse_policy

PAP_CONSTRAINT = "constraints/storage.publicAccessPrevention"
POLICY_OPTIONS = {"options": {"requestedPolicyVersion": 3}}


@dataclass
class ProjectFacts:
    project: str
    number: str | Unknown | None = None
    ancestors: list[str] | Unknown = field(default_factory=list)  # folders/F, organizations/O
    # The project's policy first, then each ancestor's; Unknown (with the resource) when denied.
    policies: list[tuple[str, Policy | Unknown]] = field(default_factory=list)
    pap_by_org: bool | Unknown = False
    # Every service perimeter of the organisation's access policies; None: no organisation.
    perimeters: list[dict[str, Any]] | Unknown | None = None

    def network(self, bucket_number: str | None) -> Restriction:
        """VPC Service Controls for the project; the project number a bucket reports stands in
        when `projects.get` was denied."""
        if self.perimeters is None:
            return Restriction(
                False,
                ("the project belongs to no organisation: no VPC Service Controls perimeter",),
            )
        number = self.number
        if not isinstance(number, str) and bucket_number:
            number = bucket_number
        return restriction(self.perimeters, number)

    @property
    def organization(self) -> str | Unknown | None:
        if isinstance(self.ancestors, Unknown):
            return self.ancestors
        orgs = [a.split("/", 1)[1] for a in self.ancestors if a.startswith("organizations/")]
        return orgs[0] if orgs else None


def read_project(rest: Rest, project: str, map_fn: Any) -> ProjectFacts:
    crm = api_root("cloudresourcemanager")
    facts = ProjectFacts(project)
    got = rest.get(
        f"{crm}v1/projects/{project}",
        permission="resourcemanager.projects.get",
        what=f"project {project}",
    )
    if isinstance(got, Unknown):
        facts.number = got
    elif got is not None:
        number = got.get("projectNumber")
        facts.number = str(number) if isinstance(number, str | int) else None
    facts.ancestors = _ancestors(rest, crm, project)
    resources = [f"projects/{project}"]
    if isinstance(facts.ancestors, list):
        resources += facts.ancestors

    def policy(resource: str) -> tuple[str, Policy | Unknown]:
        return resource, _policy(rest, crm, resource)

    facts.policies = list(map_fn(policy, resources))
    if isinstance(facts.ancestors, Unknown):
        facts.policies.append(
            ("ancestors", Unknown(f"folders and organisation unknown ({facts.ancestors.reason})"))
        )
    facts.pap_by_org = _pap_by_org(rest, crm, project)
    organization = facts.organization
    if isinstance(organization, Unknown):
        facts.perimeters = Unknown(f"the organisation is unknown ({organization.reason})")
    elif organization is not None:
        facts.perimeters = read_perimeters(rest, api_root("accesscontextmanager"), organization)
    return facts


def _ancestors(rest: Rest, crm: str, project: str) -> list[str] | Unknown:
    answer = rest.read_post(
        f"{crm}v1/projects/{project}:getAncestry",
        {},
        permission="resourcemanager.projects.get",
        what=f"ancestry of project {project}",
    )
    if isinstance(answer, Unknown):
        return answer
    if answer is None:
        return rest.calls.malformed(f"ancestry of project {project}", "no answer")
    out: list[str] = []
    for item in answer.get("ancestor") or ():
        resource = item.get("resourceId") if isinstance(item, dict) else None
        if not isinstance(resource, dict):
            return rest.calls.malformed(f"ancestry of project {project}", "no resourceId")
        kind, rid = resource.get("type"), resource.get("id")
        if kind in ("folder", "organization") and isinstance(rid, str) and rid.isdigit():
            out.append(f"{kind}s/{rid}")
    return out


def _policy(rest: Rest, crm: str, resource: str) -> Policy | Unknown:
    kind = resource.split("/", 1)[0]
    # Folders are a v2 resource of Resource Manager; projects and organisations are v1.
    version = "v2" if kind == "folders" else "v1"
    permission = {
        "projects": "resourcemanager.projects.getIamPolicy",
        "folders": "resourcemanager.folders.getIamPolicy",
        "organizations": "resourcemanager.organizations.getIamPolicy",
    }[kind]
    answer = rest.read_post(
        f"{crm}{version}/{resource}:getIamPolicy",
        POLICY_OPTIONS,
        permission=permission,
        what=f"IAM policy of {resource}",
    )
    if isinstance(answer, Unknown):
        return answer
    if answer is None:
        return rest.calls.malformed(f"IAM policy of {resource}", "no answer")
    try:
        return parse_policy(answer, resource)
    except MalformedAnswer as exc:
        return rest.calls.malformed(f"IAM policy of {resource}", str(exc))


def _pap_by_org(rest: Rest, crm: str, project: str) -> bool | Unknown:
    """Whether the organisation policy enforces public access prevention on the project (a
    bucket whose own setting is `inherited` is then protected all the same)."""
    answer = rest.read_post(
        f"{crm}v1/projects/{project}:getEffectiveOrgPolicy",
        {"constraint": PAP_CONSTRAINT},
        permission="orgpolicy.policy.get",
        what=f"organisation policy {PAP_CONSTRAINT} of project {project}",
    )
    if isinstance(answer, Unknown):
        return answer
    boolean = (answer or {}).get("booleanPolicy") or {}
    if not isinstance(boolean, dict):
        return rest.calls.malformed(f"organisation policy of project {project}", "booleanPolicy")
    return boolean.get("enforced") is True
