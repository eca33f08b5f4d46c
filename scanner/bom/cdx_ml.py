"""The parts of a CycloneDX ML-BOM that cyclonedx-python-lib has no classes for, as JSON:
a model's `modelCard`, a dataset's `data`, and the training runs as `formulation`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cyclonedx.exception.model import InvalidUriException
from cyclonedx.model import HashAlgorithm, HashType, XsUri

from scanner.bom.model import Dataset, Estate, Model
from scanner.bom.properties import NAMESPACE
from scanner.bom.values import UniqueRefs, as_iri, hexdigest


def url(value: str | None) -> XsUri | None:
    iri = as_iri(value)
    if iri is None:
        return None
    try:
        return XsUri(iri)
    except InvalidUriException:
        return None


def commit_hashes(commit: str | None) -> list[HashType]:
    """A git commit id is the SHA-1 (or, in SHA-256 repositories, SHA-256) of the commit."""
    if (sha1 := hexdigest(commit, 40)) is not None:
        return [HashType(alg=HashAlgorithm.SHA_1, content=sha1)]
    if (sha256 := hexdigest(commit, 64)) is not None:
        return [HashType(alg=HashAlgorithm.SHA_256, content=sha256)]
    return []


def add_ml_parts(
    document: dict[str, Any], estate: Estate, datasets: Mapping[str, Dataset], refs: UniqueRefs
) -> None:
    """What the library cannot model: model cards, dataset descriptions, training runs."""
    by_ref = {m.ref: m for m in estate.models}
    for component in document.get("components", []):
        ref = component.get("bom-ref")
        if ref in by_ref:
            card = _model_card(by_ref[ref], refs)
            if card:
                component["modelCard"] = card
        elif ref in datasets:
            component["data"] = [_data(datasets[ref])]
    formulas = [f for m in estate.models if (f := _formula(m, datasets, refs))]
    if formulas:
        document["formulation"] = formulas


def _model_card(model: Model, refs: UniqueRefs) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if model.approach:
        params["approach"] = {"type": model.approach}
    if model.task:
        params["task"] = model.task
    if model.architecture:
        params["architectureFamily"] = model.architecture
    if model.datasets:
        params["datasets"] = [{"ref": u.ref} for u in model.datasets]
    if model.inputs:
        params["inputs"] = [{"format": c} for c in model.inputs]
    if model.outputs:
        params["outputs"] = [{"format": c} for c in model.outputs]
    c = model.considerations
    considerations: dict[str, Any] = {}
    for key, values in (
        ("users", c.users),
        ("useCases", c.use_cases),
        ("technicalLimitations", c.limitations),
        ("performanceTradeoffs", c.tradeoffs),
    ):
        if values:
            considerations[key] = list(values)
    if c.ethical:
        considerations["ethicalConsiderations"] = [{"name": e} for e in c.ethical]
    if not params and not considerations:
        return {}
    card: dict[str, Any] = {"bom-ref": refs.claim(f"{model.ref}#model-card")}
    if params:
        card["modelParameters"] = params
    if considerations:
        card["considerations"] = considerations
    return card


def _data(dataset: Dataset) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "dataset", "name": dataset.name}
    if dataset.location is not None:
        data["contents"] = {"url": dataset.location}
    return data


def _formula(
    model: Model, datasets: Mapping[str, Dataset], refs: UniqueRefs
) -> dict[str, Any] | None:
    """The training run as a formula: a workflow whose inputs are the datasets and whose
    output is the model, with the training code as a resource reference."""
    if model.run is None:
        return None
    workflow: dict[str, Any] = {
        "bom-ref": refs.claim(f"{model.ref}#training-run"),
        "uid": model.run,
        "name": f"training run {model.run}",
        "taskTypes": ["build"],
        "outputs": [{"resource": {"ref": model.ref}}],
    }
    if model.datasets:
        workflow["inputs"] = [
            {"resource": {"ref": u.ref}}
            | (
                {"properties": [{"name": f"{NAMESPACE}dataset_context", "value": u.context}]}
                if u.context
                else {}
            )
            for u in model.datasets
            if u.ref in datasets
        ]
    code_url = url(model.code_repo)
    if code_url is not None:
        reference: dict[str, Any] = {"type": "vcs", "url": str(code_url)}
        hashes = commit_hashes(model.code_commit)
        if hashes:
            reference["hashes"] = [{"alg": h.alg.value, "content": h.content} for h in hashes]
        workflow["resourceReferences"] = [{"externalReference": reference}]
    return {"bom-ref": refs.claim(f"{model.ref}#formula"), "workflows": [workflow]}
