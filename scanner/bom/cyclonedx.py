"""CycloneDX 1.6 ML-BOM (JSON), built with cyclonedx-python-lib and validated before it leaves.

The library models components, hashes, licences, dependencies and vulnerabilities; it has no
classes for a component's `modelCard` or `data`, nor for the BOM's `formulation`, so those are
added as plain JSON after the library has serialised the rest. The final document, with those
additions, is validated against the schema the library bundles (`JsonStrictValidator`, no
network): a document that does not validate is a bug and is never written.

Deterministic: the serial number is derived from the scan id, the timestamp is the scan's,
and keys and lists come out in a fixed order, so rendering the same results twice gives the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.exception.model import InvalidUriException
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.model.impact_analysis import ImpactAnalysisState
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from jsonschema import ValidationError, validators
from packageurl import PackageURL

from scanner.bom import completeness
from scanner.bom.estate import Dataset, Estate, Finding, Model
from scanner.bom.properties import NAMESPACE, clean, model_properties
from scanner.bom.values import UniqueRefs, as_iri, format_checker, hexdigest, is_email

# Serial numbers are uuid5 names under this namespace: same scan (and variant), same serial.
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://modelward.dev/bom/cyclonedx")


_LICENCES = LicenseFactory()
CHUNK = 100  # models per library Bom (see _serialise)


class CycloneDxError(RuntimeError):
    """The document does not validate: a bug in the builder, never the user's input."""


def serial_number(scan_id: str, with_findings: bool) -> str:
    variant = "with-findings" if with_findings else "inventory"
    return f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, f'{scan_id}/{variant}')}"


def render(estate: Estate, *, with_findings: bool = False) -> bytes:
    datasets = {d.ref: d for d in estate.datasets}
    refs = UniqueRefs([*(m.ref for m in estate.models), *datasets])
    document = _serialise(estate, datasets, refs, with_findings)
    _add_ml_parts(document, estate, datasets, refs)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    problem = _check()(document)
    if problem is not None:
        raise CycloneDxError(f"the CycloneDX document does not validate: {problem[:300]}")
    return text.encode("utf-8")


@cache
def _check() -> Callable[[dict[str, Any]], str | None]:
    """The library's bundled strict 1.6 schema with its offline registry, exactly as
    `JsonStrictValidator` builds it, with two keyword implementations swapped for equivalent
    fast ones: the IRI formats (`scanner.bom.iri` says why) and `uniqueItems`, which jsonschema
    checks by comparing every pair of objects (minutes for the component list of a large
    estate). Should the library's internals move, its own validator is used as it is."""
    strict = JsonStrictValidator(SchemaVersion.V1_6)
    inner = getattr(strict, "_validator", None)
    registry = getattr(inner, "_registry", None)
    if inner is None or registry is None:  # pragma: no cover - a future library version

        def slow(document: dict[str, Any]) -> str | None:
            error = strict.validate_str(json.dumps(document))
            return None if error is None else str(error)

        return slow
    fast_class = validators.extend(type(inner), {"uniqueItems": _unique_items})
    fast = fast_class(inner.schema, registry=registry, format_checker=format_checker())

    def check(document: dict[str, Any]) -> str | None:
        error = next(iter(fast.iter_errors(document)), None)
        if error is None:
            return None
        return f"{'/'.join(map(str, error.absolute_path))}: {error.message}"

    return check


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterable[Any]:
    """`uniqueItems` by hashing a canonical form of each item: JSON Schema equality (1 equals
    1.0, true does not equal 1, key order does not matter) in linear time."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        key = json.dumps(_canonical(item), sort_keys=True)
        if key in seen:
            yield ValidationError(f"non-unique elements: {key[:200]}")
            return
        seen.add(key)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _serialise(
    estate: Estate, datasets: Mapping[str, Dataset], refs: UniqueRefs, with_findings: bool
) -> dict[str, Any]:
    """The library's JSON for the whole estate, built in chunks of models.

    `Bom.validate`, which every serialisation runs, registers each component's dependency
    entry with a linear search of the entries so far: one `Bom` for an estate of thousands of
    models is quadratic (minutes at 10,000 components). So the header (metadata and
    vulnerabilities) is one `Bom` and the models go `CHUNK` at a time, each with the datasets
    it uses; the parts are merged by bom-ref, which the builder keeps unique.
    """
    head = Bom(serial_number=uuid.UUID(serial_number(estate.scan_id, with_findings)[9:]))
    head.metadata.timestamp = _time(estate.created)
    head.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="modelward", version=estate.tool_version)
    )
    head.metadata.properties.update(_metadata_properties(estate))
    if with_findings:
        for finding in estate.findings:
            head.vulnerabilities.add(_vulnerability(finding, refs))
    document = json.loads(JsonV1Dot6(head).output_as_string())
    components: dict[str, dict[str, Any]] = {}
    dependencies: dict[str, set[str]] = {}
    models = list(estate.models)
    for start in range(0, len(models), CHUNK):
        part = Bom()
        data: dict[str, Component] = {}
        for model in models[start : start + CHUNK]:
            component = _model_component(model, datasets, estate, refs)
            used = [
                data.setdefault(u.ref, _data_component(datasets[u.ref])) for u in model.datasets
            ]
            part.components.add(component)
            part.components.update(used)
            part.register_dependency(component, used)
        rendered = json.loads(JsonV1Dot6(part).output_as_string())
        for item in rendered.get("components", []):
            components.setdefault(item["bom-ref"], item)
        for entry in rendered.get("dependencies", []):
            dependencies.setdefault(entry["ref"], set()).update(entry.get("dependsOn", []))
    if components:
        document["components"] = sorted(
            components.values(),
            key=lambda c: (c["type"], c["name"], c.get("version", ""), c["bom-ref"]),
        )
        document["dependencies"] = [
            {"ref": ref, **({"dependsOn": sorted(on)} if on else {})}
            for ref, on in sorted(dependencies.items())
        ]
    return document


def _metadata_properties(estate: Estate) -> Iterable[Property]:
    yield Property(name=f"{NAMESPACE}scan_id", value=estate.scan_id)
    for s in estate.sources:
        tail = f": {s.error}" if s.error else ""
        yield Property(name=f"{NAMESPACE}source", value=f"{s.name} ({s.type}) {s.status}{tail}")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _url(value: str | None) -> XsUri | None:
    iri = as_iri(value)
    if iri is None:
        return None
    try:
        return XsUri(iri)
    except InvalidUriException:
        return None


def _commit_hashes(commit: str | None) -> list[HashType]:
    """A git commit id is the SHA-1 (or, in SHA-256 repositories, SHA-256) of the commit."""
    if (sha1 := hexdigest(commit, 40)) is not None:
        return [HashType(alg=HashAlgorithm.SHA_1, content=sha1)]
    if (sha256 := hexdigest(commit, 64)) is not None:
        return [HashType(alg=HashAlgorithm.SHA_256, content=sha256)]
    return []


def _props(pairs: Iterable[tuple[str, Any]]) -> list[Property]:
    return [Property(name=n, value=v) for n, v in clean(pairs)]


def _model_component(
    model: Model, datasets: Mapping[str, Dataset], estate: Estate, refs: UniqueRefs
) -> Component:
    artefact = model.artefact
    signature = artefact.signature if artefact else None
    score = completeness.score(model, datasets)
    location = _url(model.location)
    code_url = _url(model.code_repo)
    external = []
    if location is not None:
        external.append(
            ExternalReference(
                type=ExternalReferenceType.DISTRIBUTION, url=location, comment="model files"
            )
        )
    if code_url is not None:
        comment = f"training code, commit {model.code_commit}" if model.code_commit else None
        external.append(
            ExternalReference(
                type=ExternalReferenceType.VCS,
                url=code_url,
                comment=comment,
                hashes=_commit_hashes(model.code_commit),
            )
        )
    sig_url = (
        _url(f"{artefact.uri.rstrip('/')}/{signature.file}")
        if artefact and artefact.uri and signature and signature.file
        else None
    )
    if sig_url is not None and signature is not None:
        external.append(
            ExternalReference(
                type=ExternalReferenceType.ATTESTATION,
                url=sig_url,
                comment=f"signature ({signature.kind or 'kind unknown'}), "
                f"verified: {_tri(signature.verified)}",
            )
        )
    files = artefact.files if artefact else ()
    properties = [Property(name=n, value=v) for n, v in model_properties(model, score)]
    single = files[0].sha256 if len(files) == 1 else None
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        bom_ref=model.ref,
        name=model.name,
        version=model.version,
        description=model.description,
        purl=PackageURL.from_string(model.purl) if model.purl else None,
        supplier=_organisation(model.owner),
        authors=[OrganizationalContact(name=model.created_by)] if model.created_by else None,
        licenses=[_LICENCES.make_from_string(model.license)] if model.license else None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=single)] if single else None,
        external_references=external,
        properties=properties,
        pedigree=_pedigree(model, estate),
        components=[
            Component(
                type=ComponentType.FILE,
                bom_ref=refs.claim(f"{model.ref}#file:{f.path}"),
                name=f.path,
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=f.sha256)]
                if f.sha256
                else None,
                properties=_props([("size", f.size)]),
            )
            for f in files
        ],
    )


def _tri(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def _organisation(owner: str | None) -> OrganizationalEntity | None:
    if owner is None:
        return None
    contacts = [OrganizationalContact(email=owner)] if is_email(owner) else None
    return OrganizationalEntity(name=owner, contacts=contacts)


def _pedigree(model: Model, estate: Estate) -> Pedigree | None:
    if not model.base_models:
        return None
    by_ref = {m.ref: m for m in estate.models}
    ancestors = []
    for base in model.base_models:
        known = by_ref.get(base.ref) if base.ref else None
        ancestors.append(
            Component(
                type=ComponentType.MACHINE_LEARNING_MODEL,
                name=known.name if known else base.name,
                version=known.version if known else None,
                purl=PackageURL.from_string(known.purl) if known and known.purl else None,
                properties=_props([("bom_ref", base.ref)]),
            )
        )
    return Pedigree(ancestors=ancestors)


def _data_component(dataset: Dataset) -> Component:
    location = _url(dataset.location)
    return Component(
        type=ComponentType.DATA,
        bom_ref=dataset.ref,
        name=dataset.name,
        external_references=[
            ExternalReference(
                type=ExternalReferenceType.DISTRIBUTION, url=location, comment="dataset source"
            )
        ]
        if location is not None
        else None,
        properties=_props(
            [
                ("dataset_digest", dataset.digest),
                ("dataset_source", dataset.source),
            ]
        ),
    )


def _vulnerability(finding: Finding, refs: UniqueRefs) -> Vulnerability:
    source = VulnerabilitySource(name="modelward")
    return Vulnerability(
        bom_ref=refs.claim(f"finding:{finding.policy_id}:{finding.resource_id}"),
        id=finding.policy_id,
        source=source,
        ratings=[
            VulnerabilityRating(
                source=source,
                severity=VulnerabilitySeverity(finding.severity),
                method=VulnerabilityScoreSource.OTHER,
            )
        ],
        description=finding.title,
        detail=finding.message,
        analysis=VulnerabilityAnalysis(
            state=ImpactAnalysisState.IN_TRIAGE,
            detail="the policy could not be evaluated: " + finding.message,
        )
        if finding.status == "error"
        else None,
        affects=[BomTarget(ref=r) for r in finding.affects],
        properties=_props(
            [("status", finding.status), ("resource", finding.resource_id)]
            + [("control", c) for c in finding.controls]
        ),
    )


def _add_ml_parts(
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
    code_url = _url(model.code_repo)
    if code_url is not None:
        reference: dict[str, Any] = {"type": "vcs", "url": str(code_url)}
        hashes = _commit_hashes(model.code_commit)
        if hashes:
            reference["hashes"] = [{"alg": h.alg.value, "content": h.content} for h in hashes]
        workflow["resourceReferences"] = [{"externalReference": reference}]
    return {"bom-ref": refs.claim(f"{model.ref}#formula"), "workflows": [workflow]}
