"""IAM allow policies as the GCS source reads them: bindings (with conditions) and audit
configs, from a bucket, the project, and the project's folders and organisation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.sources.gcp.calls import MalformedAnswer


@dataclass(frozen=True)
class Binding:
    role: str
    members: tuple[str, ...]
    resource: str  # where it is granted: `buckets/B`, `projects/P`, `folders/F`, ...
    condition: Mapping[str, str] | None = None  # IAM condition {title, expression}

    @property
    def time_bound(self) -> bool:
        """A condition that ends at a time: how temporary elevation (Privileged Access
        Manager, break-glass grants) is expressed in IAM."""
        expression = (self.condition or {}).get("expression", "")
        return "request.time <" in expression.replace("  ", " ")


@dataclass(frozen=True)
class Policy:
    resource: str
    bindings: tuple[Binding, ...] = ()
    audit_configs: tuple[Mapping[str, Any], ...] = ()


def parse_policy(answer: Mapping[str, Any], resource: str) -> Policy:
    """An IAM policy JSON (`{version, etag, bindings, auditConfigs}`); MalformedAnswer when a
    field is not the documented shape, so a policy is never read as empty by mistake."""
    bindings_raw = answer.get("bindings", [])
    if not isinstance(bindings_raw, list):
        raise MalformedAnswer(f"IAM policy of {resource}: bindings is not a list")
    bindings = []
    for raw in bindings_raw:
        if not isinstance(raw, Mapping):
            raise MalformedAnswer(f"IAM policy of {resource}: a binding is not an object")
        role, members = raw.get("role"), raw.get("members", [])
        if not isinstance(role, str) or not isinstance(members, list | tuple | set):
            raise MalformedAnswer(f"IAM policy of {resource}: a binding has no role or members")
        condition = raw.get("condition")
        if condition is not None and not isinstance(condition, Mapping):
            raise MalformedAnswer(f"IAM policy of {resource}: a condition is not an object")
        bindings.append(
            Binding(
                role=role,
                members=tuple(sorted(str(m) for m in members)),
                resource=resource,
                condition=(
                    {k: str(v) for k, v in condition.items() if k in ("title", "expression")}
                    if condition
                    else None
                ),
            )
        )
    audit = answer.get("auditConfigs", [])
    if not isinstance(audit, list) or not all(isinstance(a, Mapping) for a in audit):
        raise MalformedAnswer(f"IAM policy of {resource}: auditConfigs is not a list of objects")
    return Policy(resource, tuple(bindings), tuple(audit))


def data_read_logged(policy: Policy) -> tuple[bool, list[str]]:
    """Whether the policy turns on Data Access audit logs of type DATA_READ for Cloud Storage
    (`storage.googleapis.com` or `allServices`), and who is exempted."""
    on = False
    exempted: list[str] = []
    for config in policy.audit_configs:
        if config.get("service") not in ("storage.googleapis.com", "allServices"):
            continue
        for log in config.get("auditLogConfigs") or ():
            if isinstance(log, Mapping) and log.get("logType") == "DATA_READ":
                on = True
                exempted.extend(str(m) for m in log.get("exemptedMembers") or ())
    return on, sorted(set(exempted))
