"""The estate as a BOM sees it, read from results.json: models, datasets and findings.

A BOM describes *models*: every `model_version`, and every `artefact` that no version
registers (model files nobody put in a registry are still models the organisation holds, and
an AI-BOM that leaves them out would hide exactly the assets with no provenance). Registered
models without versions have no files and are left out. Datasets come from the versions'
`provenance.datasets`; two versions share a dataset only when name, digest and source agree
and the digest is known (without a digest, sameness would be a guess).

Optional attributes a source may add and the BOM reads when present (see docs/ai-bom.md):
`task`, `architecture`, `approach`, `license`, `base_models`, `model_signature {inputs,
outputs}` on a version; tags of the same names (version tags over model tags) otherwise, and
the model-card tags `intended_users`, `intended_use`, `limitations`, `tradeoffs`,
`ethical_considerations`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from packageurl import PackageURL

from scanner.bom.card import APPROACHES, bases, columns, considerations, link_bases, pick, tags_of
from scanner.bom.model import (
    Artefact,
    Considerations,
    Dataset,
    DatasetUse,
    Estate,
    FileEntry,
    Finding,
    Model,
    SignatureState,
    SourceStatus,
)
from scanner.bom.values import (
    UniqueRefs,
    flag,
    hexdigest,
    is_unknown,
    items,
    mapping,
    ref_id,
    source_location,
    text,
)

SIGNATURE_FILES = ("model.sig",)
REPORTED_STATUSES = ("fail", "error")


BOM_TYPES = frozenset({"model", "model_version", "artefact"})


def read_estate(document: Mapping[str, Any], with_findings: bool = True) -> Estate:
    """The BOM's view of a (schema-valid) results document; without its findings when only
    the models are wanted (completeness scores: reading every finding of a large scan again
    would cost as much as writing them)."""
    # Only what a BOM component is made of: a scan's resources are converted as they are
    # read, and holding every storage and principal of a large estate here is not needed.
    by_id = {r["id"]: r for r in document["resources"] if r["type"] in BOM_TYPES}
    versions = [r for r in by_id.values() if r["type"] == "model_version"]
    registered = {ref_id(mapping(v["attributes"]).get("artefact")) for v in versions}
    unregistered = [
        r for r in by_id.values() if r["type"] == "artefact" and r["id"] not in registered
    ]
    datasets = _DatasetIndex([r["id"] for r in (*versions, *unregistered)])
    models = [_version(v, by_id, datasets) for v in versions]
    models += [_bare_artefact(a) for a in unregistered]
    models = link_bases(models)
    scan = document["scan"]
    return Estate(
        scan_id=scan["id"],
        created=scan["finished_at"],
        tool_version=document["tool"]["version"],
        sources=tuple(
            SourceStatus(s["name"], s["type"], s["status"], s.get("error")) for s in scan["sources"]
        ),
        models=tuple(models),
        datasets=datasets.all(),
        findings=tuple(_findings(document["findings"], models, by_id)) if with_findings else (),
    )


class _DatasetIndex:
    """Datasets by identity: shared between versions only when the digest is known."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._by_key: dict[tuple[str, str, str | None], Dataset] = {}
        self._refs = UniqueRefs(taken)  # the models' refs: a dataset never reuses one

    def add(self, owner: str, index: int, entry: Mapping[str, Any]) -> Dataset | None:
        name = text(entry.get("name"))
        digest = text(entry.get("digest"))
        source = text(entry.get("source"))
        if name is None and digest is None and source is None:
            return None
        label = name or "(unnamed dataset)"
        if digest is not None:
            key = (label, digest, source)
            found = self._by_key.get(key)
            if found is not None:
                return found
            ref = self._refs.claim(f"dataset:{label}@{digest}")
        else:
            key = None
            ref = self._refs.claim(f"{owner}#dataset-{index}")
        dataset = Dataset(ref, label, digest, source, source_location(source))
        if key is not None:
            self._by_key[key] = dataset
        else:
            self._by_key[(ref, "", None)] = dataset
        return dataset

    def all(self) -> tuple[Dataset, ...]:
        return tuple(sorted(self._by_key.values(), key=lambda d: d.ref))


def _version(
    resource: Mapping[str, Any], by_id: Mapping[str, Any], datasets: _DatasetIndex
) -> Model:
    attrs = mapping(resource["attributes"])
    model_res = by_id.get(ref_id(attrs.get("model")) or "")
    model_attrs = mapping(model_res["attributes"]) if model_res else {}
    tags = tags_of(model_attrs, attrs)
    prov = mapping(attrs.get("provenance"))
    code = mapping(prov.get("code"))
    artefact_id = ref_id(attrs.get("artefact"))
    artefact = _artefact(by_id.get(artefact_id or "")) if artefact_id else None
    name, version = _name_and_version(resource, model_res, attrs)
    provider = text(model_attrs.get("provider")) or (
        "mlflow" if resource["id"].startswith("mlflow+") else None
    )
    uses = []
    for index, entry in enumerate(items(prov.get("datasets")) or []):
        dataset = datasets.add(resource["id"], index, mapping(entry))
        if dataset is not None:
            uses.append(DatasetUse(dataset.ref, text(mapping(entry).get("context"))))
    location = (artefact.uri if artefact else None) or text(attrs.get("source_uri"))
    digest = mapping(attrs.get("recorded_digest"))
    algorithm, value = text(digest.get("algorithm")), text(digest.get("value"))
    run = text(prov.get("run"))
    return Model(
        ref=resource["id"],
        kind="model_version",
        name=name,
        version=version,
        description=text(attrs.get("description")) or text(model_attrs.get("description")),
        provider=provider,
        owner=text(attrs.get("owner")),
        classification=text(attrs.get("classification")),
        ip_value=text(attrs.get("ip_value")),
        stage=text(attrs.get("stage")),
        status=text(attrs.get("status")),
        aliases=tuple(a for a in items(attrs.get("aliases")) or [] if text(a)),
        created_by=text(prov.get("created_by")),
        created_at=text(prov.get("created_at")),
        run=run,
        datasets=tuple(uses),
        code_repo=text(code.get("repo")),
        code_commit=text(code.get("commit")),
        artefact=artefact,
        location=location,
        recorded_digest=(algorithm, value) if algorithm and value else None,
        purl=_mlflow_purl(resource["id"], name, version, run) if provider == "mlflow" else None,
        task=pick(attrs, tags, "task"),
        architecture=pick(attrs, tags, "architecture"),
        approach=a if (a := pick(attrs, tags, "approach")) in APPROACHES else None,
        license=pick(attrs, tags, "license"),
        inputs=columns(mapping(attrs.get("model_signature")).get("inputs")),
        outputs=columns(mapping(attrs.get("model_signature")).get("outputs")),
        base_models=bases(attrs, tags),
        considerations=considerations(tags),
    )


def _name_and_version(
    resource: Mapping[str, Any], model_res: Mapping[str, Any] | None, attrs: Mapping[str, Any]
) -> tuple[str, str | None]:
    version = text(attrs.get("version"))
    if model_res is not None and isinstance(model_res.get("name"), str):
        return model_res["name"], version  # as the registry names it, blank or not
    # Without the model resource, the version's name is "NAME/N" by the resource model.
    head, sep, tail = resource["name"].rpartition("/")
    if sep and head and (version is None or tail == version):
        return head, version or tail
    return resource["name"], version


def _mlflow_purl(resource_id: str, name: str, version: str | None, run: str | None) -> str | None:
    """`pkg:mlflow/NAME@VERSION?repository_url=TRACKING_URI` (purl-spec's mlflow type); the
    tracking URI is the id's prefix up to `/models/`, as the resource model defines ids."""
    body = resource_id.removeprefix("mlflow+")
    registry, sep, _ = body.rpartition("/models/")
    if not sep or not registry:
        return None
    qualifiers = {"repository_url": registry}
    if run is not None:
        qualifiers["run_id"] = run
    if not name.strip():
        return None
    try:
        return PackageURL(
            type="mlflow", name=name, version=version, qualifiers=qualifiers
        ).to_string()
    except (ValueError, TypeError):  # packageurl refuses some names in either way
        return None


def _artefact(resource: Mapping[str, Any] | None) -> Artefact | None:
    if resource is None:
        return None
    attrs = mapping(resource["attributes"])
    listing = items(attrs.get("files"))
    files = []
    for entry in listing or []:
        entry = mapping(entry)
        path = text(entry.get("path"))
        if path is None:
            continue
        size = entry.get("size")
        files.append(
            FileEntry(
                path=path,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                sha256=hexdigest(entry.get("sha256"), 64),
            )
        )
    truncated = attrs.get("listing_truncated")
    serialization = mapping(attrs.get("serialization"))
    names = {f.path for f in files}
    return Artefact(
        id=resource["id"],
        uri=text(attrs.get("uri")) or resource["id"],
        files=tuple(sorted(files, key=lambda f: f.path)),
        listed=listing is not None,
        truncated=truncated is True or is_unknown(truncated),
        signature=_signature(attrs.get("signature"), names),
        formats=tuple(sorted(f for f in items(serialization.get("formats")) or [] if text(f))),
        pickle_based=flag(serialization.get("pickle_based")),
    )


def _signature(value: Any, files: set[str]) -> SignatureState | None:
    if not isinstance(value, Mapping) or is_unknown(value):
        return None
    return SignatureState(
        present=flag(value.get("present")),
        kind=text(value.get("kind")),
        verified=flag(value.get("verified")),
        identity=text(value.get("identity")),
        error=text(value.get("error")),
        # the integrity work names the file (relative to the model directory); older results
        # do not, and a `model.sig` in the listing is then the signature
        file=text(value.get("file")) or next((f for f in SIGNATURE_FILES if f in files), None),
    )


def _bare_artefact(resource: Mapping[str, Any]) -> Model:
    artefact = _artefact(resource)
    assert artefact is not None
    return Model(
        ref=resource["id"],
        kind="artefact",
        name=resource["name"],
        version=None,
        description=None,
        provider=None,
        owner=None,
        classification=None,
        ip_value=None,
        stage=None,
        status=None,
        aliases=(),
        created_by=None,
        created_at=None,
        run=None,
        datasets=(),
        code_repo=None,
        code_commit=None,
        artefact=artefact,
        location=artefact.uri,
        recorded_digest=None,
        purl=None,
        task=None,
        architecture=None,
        approach=None,
        license=None,
        inputs=(),
        outputs=(),
        base_models=(),
        considerations=Considerations(),
    )


def _findings(
    findings: Iterable[Mapping[str, Any]], models: Sequence[Model], by_id: Mapping[str, Any]
) -> list[Finding]:
    """Failing and unevaluable findings about models, mapped onto the models' bom-refs:
    a version itself; a model through its versions; an artefact through the versions that
    register it, or itself when none does. Findings about storage, identities or endpoints
    describe infrastructure, not BOM components, and stay in the other reports."""
    refs = {m.ref for m in models}
    by_model: dict[str, list[str]] = {}
    by_artefact: dict[str, list[str]] = {}
    for m in models:
        if m.kind != "model_version":
            continue
        resource = by_id[m.ref]
        parent = ref_id(mapping(resource["attributes"]).get("model"))
        if parent:
            by_model.setdefault(parent, []).append(m.ref)
        if m.artefact is not None:
            by_artefact.setdefault(m.artefact.id, []).append(m.ref)
        else:
            target = ref_id(mapping(resource["attributes"]).get("artefact"))
            if target:
                by_artefact.setdefault(target, []).append(m.ref)
    out = []
    for f in findings:
        if f["status"] not in REPORTED_STATUSES:
            continue
        rid = f["resource_id"]
        affects = (
            [rid]
            if rid in refs
            else by_model.get(rid, [])
            if f["resource_type"] == "model"
            else by_artefact.get(rid, [])
            if f["resource_type"] == "artefact"
            else []
        )
        if not affects:
            continue
        out.append(
            Finding(
                policy_id=f["policy_id"],
                title=f["title"],
                severity=f["severity"],
                status=f["status"],
                message=f["message"],
                resource_id=rid,
                controls=tuple(
                    sorted({f"{c['framework']}:{c['control']}" for c in f.get("controls", [])})
                ),
                affects=tuple(sorted(set(affects))),
            )
        )
    return out
