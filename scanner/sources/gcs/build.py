"""Normalised resources from what the GCS source read: `storage`, `artefact` (through the
object-store builder), `principal` and `audit_trail` (docs/resource-model.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.gcs import members
from scanner.sources.gcs.access import BucketAccess, Grant
from scanner.sources.gcs.buckets import BucketFacts
from scanner.sources.gcs.perimeter import Restriction
from scanner.sources.gcs.policies import Policy, data_read_logged
from scanner.sources.gcs.project import ProjectFacts
from scanner.sources.tags import GCP_LABELS, TAGS, governance_facts, layered
from scanner.sources.tri import t_or

PROVIDER = "gcp"
# The Cloud Storage XML API serves plain HTTP (the JSON API only HTTPS), and no bucket setting
# refuses it: a bucket cannot be made TLS-only.
NOT_TLS_ONLY = (
    "Cloud Storage's XML API accepts plain HTTP requests and no bucket setting refuses them"
)


class AuditCoverage:
    """Data Access audit logs (DATA_READ) for Cloud Storage, from the project's and its
    ancestors' IAM policies: a config at any level turns them on for the project."""

    def __init__(self, project: ProjectFacts) -> None:
        values: list[bool | Unknown] = []
        self.exempted: list[str] = []
        self.where: list[str] = []
        for resource, policy in project.policies:
            if isinstance(policy, Unknown):
                values.append(Unknown(f"IAM policy of {resource} unreadable ({policy.reason})"))
                continue
            on, exempted = data_read_logged(policy)
            values.append(on)
            if on:
                self.where.append(policy.resource)
                self.exempted.extend(exempted)
        self.enabled: bool | Unknown = t_or(*values) if values else False
        self.covered: list[str] = []

    def read_events(self, facts: BucketFacts) -> bool | Unknown:
        if self.enabled is True:
            self.covered.append(facts.id)
        return self.enabled

    def resource(self, project: str, source: str) -> Resource:
        return Resource(
            id=f"gcp-audit-logs://{project}/storage.googleapis.com",
            type="audit_trail",
            name=f"Data Access audit logs {project}",
            source=source,
            attributes={
                "provider": PROVIDER,
                "account": project,
                "enabled": self.enabled,
                # Cloud Audit Logs are global: one configuration covers every location.
                "multi_region": True,
                "read_events_on": [Ref(b) for b in sorted(self.covered)],
                "all_buckets_read_events": self.enabled,
                "configured_on": sorted(set(self.where)),
                "exempted_members": sorted(set(self.exempted)),
            },
        )


def storage(
    facts: BucketFacts,
    access: BucketAccess,
    project: ProjectFacts,
    network: Restriction,
    audit: AuditCoverage,
    source: str,
    cap: int,
) -> Resource:
    settings = facts.settings
    grants = access.grants
    if isinstance(grants, Unknown):
        readers: Any = grants
        count: Any = grants
        grant_attr: Any = grants
    else:
        ids = sorted({g.principal for g in grants})
        readers = [Ref(i) for i in ids]
        count = len(ids)
        grant_attr = [g.as_attr("principal", Ref(g.principal)) for g in grants]
    objects = facts.contents.objects
    label_facts = governance_facts(facts.labels, dialect=GCP_LABELS)
    attributes: dict[str, Any] = {
        "provider": PROVIDER,
        "account": facts.project,
        "region": facts.location,
        "holds_models": facts.contents.holds_models(cap, "objects", "max_objects_per_bucket"),
        "listing_truncated": facts.contents.truncated,
        "object_count": objects if isinstance(objects, Unknown) else len(objects),
        "public": access.public,
        "public_reasons": access.public_reasons,
        "tls_only": False,
        "tls_only_reason": NOT_TLS_ONLY,
        "network_restricted": network.restricted,
        "network_restriction": list(network.reasons),
        "network_restricted_reasons": list(network.reasons),
        "access_logging": {
            "server_access": _setting(settings, lambda s: s["usage_logs"] is not None),
            "read_events": audit.read_events(facts),
        },
        "readers": readers,
        "reader_count": count,
        "access_grants": grant_attr,
        "labels": redact(facts.labels, mask_keys=True),
        **label_facts,
    }
    if isinstance(settings, Unknown):
        for key in (
            "uniform_access",
            "public_access_prevention",
            "encryption",
            "versioning",
            "object_lock",
            "retention",
            "soft_delete",
        ):
            attributes[key] = settings
    else:
        kms = settings["kms_key"]
        retention = settings["retention"]
        attributes.update(
            {
                "uniform_access": settings["uniform_access"],
                "public_access_prevention": settings["public_access_prevention"],
                # Cloud Storage encrypts every object at rest; a default KMS key makes it CMEK.
                "encryption": {
                    "at_rest": True,
                    "algorithm": "cmek" if kms else "google-managed",
                    "kms_key": kms,
                    "customer_managed_key": bool(kms),
                },
                "versioning": settings["versioning"],
                # A retention policy keeps objects from deletion or replacement until they age
                # out (a locked one cannot be shortened): Cloud Storage's object lock.
                "object_lock": retention["period_seconds"] > 0 or retention["object_retention"],
                "retention": retention,
                "soft_delete": settings["soft_delete"],
            }
        )
        if settings["usage_logs"]:
            attributes["usage_logs_bucket"] = settings["usage_logs"]
    return Resource(
        id=facts.id,
        type="storage",
        name=facts.name,
        source=source,
        attributes=attributes,
        raw=redact(
            {
                "bucket": facts.raw,
                "iam": _policy_raw(facts.iam),
            },
            mask_keys=True,
        ),
    )


def _setting(settings: dict[str, Any] | Unknown, read: Any) -> Any:
    return settings if isinstance(settings, Unknown) else read(settings)


def _policy_raw(policy: Policy | Unknown) -> Any:
    if isinstance(policy, Unknown):
        return None
    return [
        {
            "role": b.role,
            "members": list(b.members),
            **({"condition": b.condition} if b.condition else {}),
        }
        for b in policy.bindings
    ]


def artefact_governance(
    artefact: Resource, facts: BucketFacts, metadata: Mapping[str, Mapping[str, str]]
) -> Resource:
    """An artefact gains the governance facts its objects' custom metadata state (the first
    object, by name, that sets a key wins), over the bucket's labels."""
    keys = artefact.raw.get("keys") or []
    object_layers = [metadata[k] for k in sorted(keys) if k in metadata]
    object_facts = governance_facts(layered(*object_layers), dialect=TAGS)
    facts_now = layered(object_facts, governance_facts(facts.labels, dialect=GCP_LABELS))
    if not facts_now:
        return artefact
    return Resource(
        id=artefact.id,
        type=artefact.type,
        name=artefact.name,
        source=artefact.source,
        attributes={**artefact.attributes, **facts_now},
        raw=artefact.raw,
    )


def principals(
    accesses: Mapping[str, BucketAccess], project: ProjectFacts, source: str
) -> list[Resource]:
    by_principal: dict[str, list[Grant]] = defaultdict(list)
    unknown: Unknown | None = None
    for access in accesses.values():
        if isinstance(access.grants, Unknown):
            if unknown is None:
                unknown = Unknown(f"some bucket's readers are unreadable ({access.grants.reason})")
            continue
        for g in access.grants:
            by_principal[g.principal].append(g)
    owners = _owners(project)
    out: list[Resource] = []
    for pid, grants in sorted(by_principal.items()):
        grants.sort(key=lambda g: (g.bucket, g.policy, g.role))
        kind = members.kind(pid)
        attrs: dict[str, Any] = {
            "provider": PROVIDER,
            "kind": kind,
            "account": project.project,
            "member": pid,
            "can_read": (
                unknown
                if unknown is not None
                else [Ref(b) for b in sorted({g.bucket for g in grants})]
            ),
            "grants": (
                unknown
                if unknown is not None
                else [g.as_attr("storage", Ref(g.bucket)) for g in grants]
            ),
            "admin": owners if isinstance(owners, Unknown) else pid in owners,
            "cross_account": grants[0].cross_account,
        }
        if kind == "human":
            # Temporary elevation in IAM is a binding whose condition ends at a time
            # (Privileged Access Manager grants are such bindings): standing access is not.
            attrs["just_in_time"] = all(g.time_bound for g in grants)
        out.append(
            Resource(
                id=pid,
                type="principal",
                name=members.name(pid),
                source=source,
                attributes=attrs,
            )
        )
    return out


def _owners(project: ProjectFacts) -> set[str] | Unknown:
    """Members holding roles/owner on the project or above it."""
    found: set[str] = set()
    for resource, policy in project.policies:
        if isinstance(policy, Unknown):
            return Unknown(f"IAM policy of {resource} unreadable ({policy.reason})")
        for binding in policy.bindings:
            if binding.role == "roles/owner":
                found.update(binding.members)
    return found
