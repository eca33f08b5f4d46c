"""A finding: one verdict of one policy on one resource, the unit every output reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "error", "waived", "not_applicable")


@dataclass(frozen=True)
class ControlRef:
    framework: str
    control: str


@dataclass(frozen=True, slots=True)
class Finding:
    policy_id: str
    title: str
    severity: str
    maturity: str
    resource_id: str
    resource_type: str
    resource_name: str
    status: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    controls: tuple[ControlRef, ...] = ()
    waiver: Mapping[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a finding across scans (baselines, diffs): policy and resource."""
        return self.policy_id, self.resource_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "title": self.title,
            "severity": self.severity,
            "maturity": self.maturity,
            "resource_id": self.resource_id,
            "resource_type": self.resource_type,
            "resource_name": self.resource_name,
            "status": self.status,
            "message": self.message,
            "evidence": dict(self.evidence),
            "controls": [{"framework": c.framework, "control": c.control} for c in self.controls],
            "waiver": dict(self.waiver) if self.waiver is not None else None,
        }
