"""The facts about a model that neither format has a field for, as name/value properties.

CycloneDX carries them as component `properties`, SPDX as the `CdxPropertiesExtension` made
for exactly this; both formats get the same list, under the `modelward:` namespace. A
location or repository that is not a valid URL cannot go in a URL field and appears here
instead, as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.bom.completeness import Completeness
from scanner.bom.model import Model
from scanner.bom.values import as_iri

NAMESPACE = "modelward:"


def model_properties(model: Model, score: Completeness) -> list[tuple[str, str]]:
    artefact = model.artefact
    signature = artefact.signature if artefact else None
    return clean(
        [
            ("kind", "model_version" if model.kind == "model_version" else "unregistered_artefact"),
            ("owner", model.owner),
            ("classification", model.classification),
            ("ip_value", model.ip_value),
            ("stage", model.stage),
            ("status", model.status),
            ("aliases", model.aliases),
            ("created_at", model.created_at),
            ("created_by", model.created_by),
            ("training_run", model.run),
            ("code_repo", model.code_repo if as_iri(model.code_repo) is None else None),
            ("code_commit", model.code_commit),
            ("location", model.location if as_iri(model.location) is None else None),
            ("artefact", artefact.id if artefact else None),
            ("recorded_digest", ":".join(model.recorded_digest) if model.recorded_digest else None),
            ("base_models", tuple(b.name for b in model.base_models)),
            ("serialization_formats", artefact.formats if artefact else None),
            ("pickle_based", artefact.pickle_based if artefact else None),
            ("listing_truncated", True if artefact and artefact.truncated else None),
            ("signature_present", signature.present if signature else None),
            ("signature_kind", signature.kind if signature else None),
            ("signature_file", signature.file if signature else None),
            ("signature_verified", signature.verified if signature else None),
            ("signature_identity", signature.identity if signature else None),
            ("signature_error", signature.error if signature else None),
            ("bom_completeness", f"{score.score:.2f}"),
            ("bom_completeness_detail", score.summary()),
        ]
    )


def clean(pairs: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Known values only, as text, with the namespace: booleans as true/false, lists joined."""
    out = []
    for name, value in pairs:
        if value is None or value == "" or value == ():
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, tuple | list):
            value = ", ".join(value)
        out.append((f"{NAMESPACE}{name}", str(value)))
    return out
