"""What a scan needs to read: for a targeted scan, what one deployment touches; for any scan,
which resource types the selected policies can reach.

A CI job gating one model's deployment (`--model fraud/3`) needs that version, its files,
the bucket holding them and who can read it, and the endpoints serving it, not the estate.
Sources read less when told (`scanner.sources.interface.Narrowing`), and evaluation judges
only the resources the target touches (`judged_ids`), with the policies for their types.

`needed_types` answers "which API families can be skipped": a policy reads its own resource
type, the types its field paths reach through references (`storage.readers` reaches
`principal`), and the types linking reads to compute the linked attributes it tests
(`holds_production_models` needs model versions and artefacts). A source skips the calls that
produce none of these types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scanner.inventory import Inventory, Ref, Resource
from scanner.policy.model import AllOf, AnyOf, Condition, FieldTest, Not, Policy, Quantified

# (type, attribute) -> the type its references point at (docs/resource-model.md).
REFERENCES: dict[tuple[str, str], str] = {
    ("storage", "readers"): "principal",
    ("storage", "access_grants"): "principal",
    ("principal", "can_read"): "storage",
    ("principal", "grants"): "storage",
    ("artefact", "storage"): "storage",
    ("artefact", "registered_by"): "model_version",
    ("model_version", "model"): "model",
    ("model_version", "artefact"): "artefact",
    ("model_version", "deployments"): "endpoint",
    ("endpoint", "model_versions"): "model_version",
    ("endpoint", "artefacts"): "artefact",
    ("endpoint", "served"): "model_version",
    ("endpoint", "traffic"): "traffic",
    ("endpoint", "vpc"): "network",
    ("endpoint", "vpcs"): "network",
    ("traffic", "endpoint"): "endpoint",
    ("audit_trail", "read_events_on"): "storage",
}

# (type, attribute) -> the types linking reads to compute it (scanner/linking.py).
LINK_INPUTS: dict[tuple[str, str], frozenset[str]] = {
    ("storage", "holds_models"): frozenset({"artefact"}),
    ("storage", "holds_production_models"): frozenset({"artefact", "model_version"}),
    ("storage", "holds_high_value_models"): frozenset({"artefact", "model_version"}),
    ("principal", "can_read"): frozenset({"storage"}),
    ("principal", "grants"): frozenset({"storage"}),
    ("artefact", "registered"): frozenset({"model_version", "endpoint"}),
    ("artefact", "registered_by"): frozenset({"model_version", "endpoint"}),
    ("artefact", "storage"): frozenset({"storage"}),
    ("model_version", "artefact"): frozenset({"artefact"}),
    ("model_version", "digest_match"): frozenset({"artefact"}),
    ("model_version", "deployments"): frozenset({"endpoint"}),
    ("endpoint", "model_versions"): frozenset({"model_version", "artefact"}),
    ("endpoint", "served"): frozenset({"model_version", "artefact"}),
    ("endpoint", "serves_high_value"): frozenset({"model_version", "artefact"}),
    ("endpoint", "traffic"): frozenset({"traffic"}),
    ("traffic", "limit_ratio"): frozenset({"endpoint"}),
    ("network", "hosts_models"): frozenset({"endpoint"}),
    ("threat_detection", "holds_models"): frozenset({"storage", "artefact", "endpoint"}),
}


def _reach(cond: Condition, rtype: str | None, out: set[str]) -> None:
    """Add every type `cond` reads, starting from a subject of type `rtype` (None: unknown)."""
    if isinstance(cond, AllOf | AnyOf):
        for item in cond.items:
            _reach(item, rtype, out)
    elif isinstance(cond, Not):
        _reach(cond.item, rtype, out)
    elif isinstance(cond, FieldTest | Quantified):
        reached = _follow(cond.field, rtype, out)
        if isinstance(cond, Quantified):
            _reach(cond.item, reached, out)


def _follow(path: str, rtype: str | None, out: set[str]) -> str | None:
    """The type a field path ends on when its last step is a reference (else None), adding
    every type it passes through and what linking needs for each attribute it reads."""
    current = rtype
    for segment in path.split(".") if path else ():
        if current is None:
            return None
        out.add(current)
        out.update(LINK_INPUTS.get((current, segment), ()))
        current = REFERENCES.get((current, segment))
    if current is not None:
        out.add(current)
    return current


def needed_types(policies: Iterable[Policy]) -> frozenset[str] | None:
    """The resource types the policies read, directly or through linking; None (everything)
    when no policy is selected, so a scan without policies still reports the whole estate."""
    out: set[str] = set()
    chosen = list(policies)
    if not chosen:
        return None
    for policy in chosen:
        out.add(policy.resource)
        for cond in (policy.scope, policy.check):
            if cond is not None:
                _reach(cond, policy.resource, out)
    return frozenset(out)


@dataclass(frozen=True)
class Target:
    """`--model NAME[/VERSION]` and `--resource ID`: what a targeted scan is about."""

    model: str | None = None
    resources: frozenset[str] = frozenset()

    # What one deployment touches: the version and its model, the files, the bucket and its
    # readers, the endpoints serving it (an API gateway in front is part of the endpoint).
    TYPES = frozenset({"model", "model_version", "artefact", "storage", "principal", "endpoint"})

    def matches_version(self, resource: Resource) -> bool:
        """Registries name a version `MODEL/VERSION` (MLflow `fraud/3`, SageMaker group/N)."""
        if self.model is None or resource.type != "model_version":
            return False
        if "/" in self.model:
            return resource.name == self.model
        return resource.name.rsplit("/", 1)[0] == self.model

    def matches_model(self, resource: Resource) -> bool:
        return self.model is not None and resource.type == "model" and (
            resource.name == self.model.split("/", 1)[0] if "/" in self.model else
            resource.name == self.model
        )  # fmt: skip


def _refs(value: object) -> list[str]:
    if isinstance(value, Ref):
        return [value.id]
    if isinstance(value, list):
        return [v.id for v in value if isinstance(v, Ref)]
    return []


def storage_root(uri: str) -> str | None:
    """`s3://bucket/a/b` -> `s3://bucket` (and the same for gs://); None for other URIs."""
    for scheme in ("s3://", "gs://"):
        if uri.startswith(scheme):
            bucket = uri[len(scheme) :].split("/", 1)[0]
            return f"{scheme}{bucket}" if bucket else None
    return None


# What a resource of each type leads to in the target's closure. From a version or an
# endpoint the scan follows files and storage; it does not go back from an endpoint to the
# other models it serves unless the endpoint itself is the target.
_FORWARD: dict[str, tuple[str, ...]] = {
    "model_version": ("model", "artefact", "deployments"),
    "artefact": ("storage",),
    "storage": ("readers",),
    "endpoint": ("artefacts",),
}


def judged_ids(inventory: Inventory, target: Target) -> frozenset[str]:
    """The ids of every resource the target touches, in the linked inventory."""
    start: list[str] = [r for r in target.resources if inventory.get(r) is not None]
    for rtype in ("model", "model_version"):
        for candidate in inventory.of_type(rtype):
            if target.matches_version(candidate) or target.matches_model(candidate):
                start.append(candidate.id)
    seen: set[str] = set()
    queue = list(start)
    explicit = set(target.resources)
    while queue:
        rid = queue.pop()
        if rid in seen:
            continue
        found = inventory.get(rid)
        if found is None:
            continue
        seen.add(rid)
        edges = _FORWARD.get(found.type, ())
        if found.type == "endpoint" and rid in explicit:
            edges = (*edges, "model_versions")
        for attribute in edges:
            queue.extend(_refs(found.attributes.get(attribute)))
    return frozenset(seen)


def seeds(found: Inventory) -> frozenset[str]:
    """What registries reported for the target, for the sources that read storage: each
    version's artefact URI and the bucket holding it."""
    out: set[str] = set()
    for version in found.of_type("model_version"):
        out.add(version.id)
        for uri in _refs(version.attributes.get("artefact")):
            out.add(uri)
            root = storage_root(uri)
            if root is not None:
                out.add(root)
    return frozenset(out)
