"""SPDX 3.0.1 (JSON-LD) with the AI and Dataset profiles, written with spdx-python-model.

`spdx-python-model` is SPDX's own binding generated from the 3.0.1 model: it checks types,
enumerations and cardinalities as objects are built, and serialises the JSON-LD `@graph` in a
stable order (by id). What SPDX requires beyond the SHACL shapes, the profiles' conformance
rules, is checked here in code (`profile_gaps`), and the document claims the `ai` and `dataset`
profiles only when every package meets them.

Never a guess: an unknown supplier is an Agent named NOASSERTION, an unknown location or
version the string NOASSERTION, unknown licences the `NoAssertionLicense` individual, unknown
training data a `trainedOn` relationship to `NoAssertionElement` with completeness
`noAssertion`. Times have no such value: an unknown release time is left out, and the AI
profile is then not claimed (the document's comment says which packages lack what).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cyclonedx.spdx import fixup_id, is_expression
from spdx_python_model import v3_0_1 as spdx

from scanner.bom import completeness
from scanner.bom.model import Dataset, Estate, Model
from scanner.bom.properties import clean, model_properties
from scanner.bom.spdx_profiles import Gap, profile_gaps
from scanner.bom.values import UniqueRefs, as_iri, hexdigest

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://modelward.dev/bom/spdx")
NOASSERTION = "NOASSERTION"
BUILD_TYPE = "https://modelward.dev/spdx/build-type/training-run/v1"
# Dataset contexts (MLflow's `context` of a run input) that mean evaluation, not training.
TEST_CONTEXTS = frozenset({"test", "testing", "eval", "evaluation"})


@dataclass(frozen=True)
class SpdxBom:
    objects: tuple[Any, ...]
    gaps: Mapping[str, Gap]  # spdxId → what the package's profile requires and it lacks
    conformance: tuple[str, ...]


def document_namespace(scan_id: str) -> str:
    return f"https://modelward.dev/spdx/{uuid.uuid5(NAMESPACE, scan_id)}"


def render(estate: Estate) -> bytes:
    bom = build(estate)
    data = spdx.JSONLDSerializer().serialize_data(spdx.SHACLObjectSet(bom.objects))
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def build(estate: Estate) -> SpdxBom:
    return _Builder(estate).build()


def _time(text: str | None) -> dt.datetime | None:
    """A dateTimeStamp: time-zoned, to the second (SPDX's pattern); a local time is unknown."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(dt.UTC).replace(microsecond=0)


class _Builder:
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.ns = document_namespace(estate.scan_id)
        self.ids = UniqueRefs()
        self.info = _make(spdx.CreationInfo, specVersion="3.0.1", created=_time(estate.created))
        self.objects: list[Any] = []
        self.agents: dict[str, Any] = {}
        self.files: dict[str, Any] = {}
        self.relationships = 0

    def _id(self, kind: str, key: str) -> str:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        return self.ids.claim(f"{self.ns}/{kind}-{digest}")

    def _add(self, obj: Any) -> Any:
        self.objects.append(obj)
        return obj

    def build(self) -> SpdxBom:
        agent = self._add(
            _make(spdx.SoftwareAgent, spdxId=self._id("agent", "modelward"), name="modelward")
        )
        tool = self._add(
            _make(
                spdx.Tool,
                spdxId=self._id("tool", "modelward"),
                name=f"modelward {self.estate.tool_version}",
            )
        )
        self.info.createdBy = [agent]
        self.info.createdUsing = [tool]
        datasets = {d.ref: self._dataset(d) for d in self.estate.datasets}
        by_ref = {d.ref: d for d in self.estate.datasets}
        packages = {m.ref: self._model(m, datasets, by_ref) for m in self.estate.models}
        for m in self.estate.models:
            targets = [packages[b.ref] for b in m.base_models if b.ref in packages]
            if targets:
                self._relate(packages[m.ref], "descendantOf", targets)
        for obj in self.objects:
            obj.creationInfo = self.info
        gaps = profile_gaps(self.objects)
        conformance = ["core", "software", "simpleLicensing"]
        for kind, profile in (
            (spdx.build_Build, "build"),
            (spdx.ai_AIPackage, "ai"),
            (spdx.dataset_DatasetPackage, "dataset"),
        ):
            present = any(isinstance(o, kind) for o in self.objects)
            if present and not any(g.profile == profile for g in gaps.values()):
                conformance.append(profile)
        document = _make(
            spdx.SpdxDocument,
            spdxId=f"{self.ns}/document",
            name="modelward AI-BOM",
            creationInfo=self.info,
            rootElement=[packages[m.ref] for m in self.estate.models],
            element=list(self.objects),
            profileConformance=[getattr(spdx.ProfileIdentifierType, p) for p in conformance],
            comment=self._comment(gaps),
        )
        return SpdxBom((document, *self.objects), gaps, tuple(conformance))

    def _comment(self, gaps: Mapping[str, Gap]) -> str:
        lines = [f"modelward scan {self.estate.scan_id}"]
        lines += [
            f"source {s.name} ({s.type}): {s.status}" + (f": {s.error}" if s.error else "")
            for s in self.estate.sources
        ]
        lines += [
            f"{g.profile} profile: {g.name} ({spdx_id}) lacks {', '.join(g.missing)}"
            for spdx_id, g in sorted(gaps.items())
        ]
        return "\n".join(lines)

    def _agent(self, name: str | None) -> Any:
        key = name if name is not None else NOASSERTION
        if key not in self.agents:
            self.agents[key] = self._add(
                _make(
                    spdx.Agent,
                    spdxId=self._id("agent", f"agent:{key}" if name else NOASSERTION),
                    name=key,
                    comment=None if name else "the supplier is not known",
                )
            )
        return self.agents[key]

    def _relate(
        self, source: Any, kind: str, targets: Iterable[Any], *, no_assertion: bool = False
    ) -> None:
        self.relationships += 1
        self._add(
            _make(
                spdx.Relationship,
                spdxId=self._id("relationship", str(self.relationships)),
                from_=source,
                to=list(targets),
                relationshipType=getattr(spdx.RelationshipType, kind),
                completeness=spdx.RelationshipCompleteness.noAssertion if no_assertion else None,
            )
        )

    def _licences(self, package: Any, declared: str | None) -> None:
        no_licence = spdx.expandedlicensing_IndividualLicensingInfo.NoAssertionLicense
        self._relate(package, "hasConcludedLicense", [no_licence])
        expression = _licence_expression(declared)
        if expression is None:
            self._relate(package, "hasDeclaredLicense", [no_licence])
            return
        licence = self._add(
            _make(
                spdx.simplelicensing_LicenseExpression,
                spdxId=self._id("licence", expression),
                simplelicensing_licenseExpression=expression,
            )
        )
        self._relate(package, "hasDeclaredLicense", [licence])

    def _dataset(self, dataset: Dataset) -> Any:
        location = as_iri(dataset.location)
        package = self._add(
            _make(
                spdx.dataset_DatasetPackage,
                spdxId=self._id("dataset", dataset.ref),
                name=dataset.name,
                software_primaryPurpose=spdx.software_SoftwarePurpose.data,
                software_downloadLocation=location or NOASSERTION,
                originatedBy=[self._agent(None)],
                dataset_datasetType=[spdx.dataset_DatasetType.noAssertion],
                verifiedUsing=[
                    _make(
                        spdx.Hash,
                        algorithm=spdx.HashAlgorithm.other,
                        hashValue=dataset.digest,
                        comment="the dataset digest the registry records",
                    )
                ]
                if dataset.digest
                else [],
                extension=_extension(
                    clean([("dataset_digest", dataset.digest), ("dataset_source", dataset.source)])
                ),
            )
        )
        self._licences(package, None)
        return package

    def _model(
        self, model: Model, datasets: Mapping[str, Any], by_ref: Mapping[str, Dataset]
    ) -> Any:
        score = completeness.score(model, by_ref)
        artefact = model.artefact
        files = artefact.files if artefact else ()
        single = files[0].sha256 if len(files) == 1 else None
        c = model.considerations
        package = self._add(
            _make(
                spdx.ai_AIPackage,
                spdxId=self._id("model", model.ref),
                name=model.name,
                description=model.description,
                software_packageVersion=model.version or NOASSERTION,
                software_downloadLocation=as_iri(model.location) or NOASSERTION,
                software_primaryPurpose=spdx.software_SoftwarePurpose.model,
                software_packageUrl=model.purl,
                suppliedBy=self._agent(model.owner),
                releaseTime=_time(model.created_at),
                ai_typeOfModel=[model.architecture] if model.architecture else [],
                ai_informationAboutApplication="\n".join(c.use_cases) or None,
                ai_limitation="\n".join(c.limitations) or None,
                externalIdentifier=[
                    _make(
                        spdx.ExternalIdentifier,
                        externalIdentifierType=spdx.ExternalIdentifierType.other,
                        identifier=model.ref,
                        comment="modelward resource id",
                    )
                ],
                verifiedUsing=[_sha256(single)] if single else [],
                extension=_extension(model_properties(model, score)),
            )
        )
        self._licences(package, model.license)
        self._training(model, package, datasets)
        if files:
            assert artefact is not None
            self._relate(package, "contains", [self._file(artefact.id, f) for f in files])
        return package

    def _training(self, model: Model, package: Any, datasets: Mapping[str, Any]) -> None:
        trained = [
            datasets[u.ref] for u in model.datasets if (u.context or "") not in TEST_CONTEXTS
        ]
        tested = [datasets[u.ref] for u in model.datasets if (u.context or "") in TEST_CONTEXTS]
        if trained:
            self._relate(package, "trainedOn", trained)
        else:
            self._relate(
                package, "trainedOn", [spdx.IndividualElement.NoAssertionElement], no_assertion=True
            )
        if tested:
            self._relate(package, "testedOn", tested)
        if model.run is None:
            return
        repo = as_iri(model.code_repo)
        commit = hexdigest(model.code_commit, 40)
        build = self._add(
            _make(
                spdx.build_Build,
                spdxId=self._id("build", f"{model.ref}\n{model.run}"),
                build_buildType=BUILD_TYPE,
                build_buildId=model.run,
                build_configSourceUri=[repo] if repo else [],
                build_configSourceDigest=[
                    _make(spdx.Hash, algorithm=spdx.HashAlgorithm.sha1, hashValue=commit)
                ]
                if commit
                else [],
            )
        )
        if model.datasets:
            self._relate(build, "hasInput", [datasets[u.ref] for u in model.datasets])
        self._relate(build, "hasOutput", [package])

    def _file(self, artefact_id: str, entry: Any) -> Any:
        """One element per file of an artefact, shared by the versions it is registered as."""
        key = f"{artefact_id}\n{entry.path}"
        existing = self.files.get(key)
        if existing is not None:
            return existing
        file = self._add(
            _make(
                spdx.software_File,
                spdxId=self._id("file", key),
                name=entry.path,
                software_fileKind=spdx.software_FileKindType.file,
                verifiedUsing=[_sha256(entry.sha256)] if entry.sha256 else [],
            )
        )
        self.files[key] = file
        return file


def _make(cls: Any, **properties: Any) -> Any:
    """The bindings refuse None for an absent value: absent means not passed at all."""
    return cls(**{k: v for k, v in properties.items() if v is not None and v != []})


def _sha256(value: str) -> Any:
    return _make(spdx.Hash, algorithm=spdx.HashAlgorithm.sha256, hashValue=value)


def _extension(pairs: list[tuple[str, str]]) -> list[Any]:
    if not pairs:
        return []
    return [
        _make(
            spdx.extension_CdxPropertiesExtension,
            extension_cdxProperty=[
                _make(
                    spdx.extension_CdxPropertyEntry,
                    extension_cdxPropName=name,
                    extension_cdxPropValue=value,
                )
                for name, value in pairs
            ],
        )
    ]


def _licence_expression(declared: str | None) -> str | None:
    """A declared licence only when it is an SPDX licence id or expression (checked with the
    licence index cyclonedx-python-lib already loads); free text is not one."""
    if declared is None or len(declared) > 1000:
        return None
    return fixup_id(declared) or (declared if is_expression(declared) else None)
