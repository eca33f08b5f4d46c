"""How much of a model's BOM is known: nine facts an auditor asks for, each known or not.

The score is the share of the nine that a source reported (an `Unknown` or an absent value
counts as missing; nothing is inferred). It is written into both BOM formats as the property
`modelward:bom_completeness`, and into results.json as the `bom_completeness` attribute of
every model version and unregistered artefact, so reports can show it without rendering a BOM.
It is computed after evaluation: policies test the underlying fields directly (MW-INV-02 asks
for provenance), not this summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.bom.estate import read_estate
from scanner.bom.model import Dataset, Model

ATTRIBUTE = "bom_completeness"

# Check name → what it asks, in the order reports list them.
CHECKS: dict[str, str] = {
    "owner": "an owner",
    "classification": "a data classification",
    "ip_value": "an IP value",
    "training_run": "the training run",
    "datasets": "the training datasets, each with a digest",
    "code": "the code repository and commit",
    "created_at": "when the version was created",
    "artefact_hashes": "a sha256 of every artefact file, from a complete listing",
    "signature": "the signature status (present or not; verified or not)",
}


@dataclass(frozen=True)
class Completeness:
    known: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.known) + len(self.missing)

    @property
    def score(self) -> float:
        return round(len(self.known) / self.total, 2) if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "known": len(self.known),
            "total": self.total,
            "missing": list(self.missing),
        }

    def summary(self) -> str:
        """`6/9` and what is missing, for a property value."""
        tail = f" (missing: {', '.join(self.missing)})" if self.missing else ""
        return f"{len(self.known)}/{self.total}{tail}"


def score(model: Model, datasets: Mapping[str, Dataset]) -> Completeness:
    artefact = model.artefact
    used = [datasets.get(u.ref) for u in model.datasets]
    facts = {
        "owner": model.owner is not None,
        "classification": model.classification is not None,
        "ip_value": model.ip_value is not None,
        "training_run": model.run is not None,
        "datasets": bool(used) and all(d is not None and d.digest is not None for d in used),
        "code": model.code_repo is not None and model.code_commit is not None,
        "created_at": model.created_at is not None,
        "artefact_hashes": artefact is not None and artefact.fully_hashed,
        "signature": artefact is not None
        and artefact.signature is not None
        and artefact.signature.known,
    }
    return Completeness(
        known=tuple(c for c in CHECKS if facts[c]),
        missing=tuple(c for c in CHECKS if not facts[c]),
    )


def annotate(document: Mapping[str, Any]) -> dict[str, Any]:
    """The results document with `bom_completeness` on every BOM model's resource."""
    estate = read_estate(document, with_findings=False)
    by_ref = {d.ref: d for d in estate.datasets}
    scores = {m.ref: score(m, by_ref).to_dict() for m in estate.models}

    def with_score(resource: dict[str, Any]) -> dict[str, Any]:
        found = scores.get(resource["id"])
        if found is None:
            return resource
        return {**resource, "attributes": {**resource["attributes"], ATTRIBUTE: found}}

    listed = document["resources"]
    # A scan's resources are `results.Items`, converted as read: scored the same way, lazily.
    resources = (
        listed.mapped(with_score) if hasattr(listed, "mapped") else list(map(with_score, listed))
    )
    return {**document, "resources": resources}
