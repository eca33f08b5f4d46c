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
from collections.abc import Iterable, Mapping
from typing import Any

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
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
from packageurl import PackageURL

from scanner.bom import completeness
from scanner.bom.cdx_ml import add_ml_parts, commit_hashes, url
from scanner.bom.cdx_validation import check
from scanner.bom.model import Dataset, Estate, Finding, Model
from scanner.bom.properties import NAMESPACE, clean, model_properties
from scanner.bom.values import UniqueRefs, is_email

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
    add_ml_parts(document, estate, datasets, refs)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    problem = check()(document)
    if problem is not None:
        raise CycloneDxError(f"the CycloneDX document does not validate: {problem[:300]}")
    return text.encode("utf-8")


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
    document: dict[str, Any] = json.loads(JsonV1Dot6(head).output_as_string())
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


def _props(pairs: Iterable[tuple[str, Any]]) -> list[Property]:
    return [Property(name=n, value=v) for n, v in clean(pairs)]


def _model_component(
    model: Model, datasets: Mapping[str, Dataset], estate: Estate, refs: UniqueRefs
) -> Component:
    artefact = model.artefact
    signature = artefact.signature if artefact else None
    score = completeness.score(model, datasets)
    location = url(model.location)
    code_url = url(model.code_repo)
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
                hashes=commit_hashes(model.code_commit),
            )
        )
    sig_url = (
        url(f"{artefact.uri.rstrip('/')}/{signature.file}")
        if artefact
        and artefact.uri
        and signature
        and signature.file
        and not signature.file.startswith("/")
        and ".." not in signature.file.split("/")
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
    location = url(dataset.location)
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
