"""Vertex AI answers → `model`, `model_version` and `endpoint` resources (docs/resource-model.md).

Ids are Google's full resource names: `//aiplatform.googleapis.com/projects/P/locations/L/
models/M` for a model, `…/models/M@V` for its version V (Vertex's own way to name one
version), `…/endpoints/E` for an endpoint. The API names projects by number; a name written
with the project id (a deployed model's `model`, as the deployer typed it) is rewritten to the
number so both ends meet.

- A version's governance facts come from its labels (GCP label dialect, `scanner.sources.tags`),
  key by key over the model's (the default version's) labels; `authorized_deployments` is the
  version's own. An entry that is an endpoint's numeric id or display name is completed with
  the endpoint's full id, since a label value cannot hold a resource name.
- Stage: `production` when an alias is in `production_aliases` or an endpoint serves the
  version (`deployedModels`); `staging` for a staging alias; `archived` when retired; else
  `none`. The `default` alias only says which version an unversioned reference means.
- `artifactUri` (`gs://bucket/path/`) is the artefact: the id the `gcs:` source reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact, redact_text, redact_uri
from scanner.sources.store_uris import canonical
from scanner.sources.tags import GCP_LABELS, governance_facts
from scanner.sources.vertex.options import VertexOptions

PROVIDER = "vertex"
FULL = "//aiplatform.googleapis.com/"
INHERITED = ("owner", "classification", "ip_value", "output_mode", "retired", "watermarked")
FLAGS = ("retired", "watermarked")
EXPOSURE, DECISION_API = "exposure", "decision-api"
_PROJECT = re.compile(r"^projects/([^/]+)/")


class Names:
    """Resource names in one form: the project by number, as the API returns them."""

    def __init__(self, project: str, number: str | None) -> None:
        self.project = project
        self.number = number

    def canonical(self, name: str) -> str:
        name = name.strip().lstrip("/")
        if self.number and name.startswith(f"projects/{self.project}/"):
            return f"projects/{self.number}/" + name[len(f"projects/{self.project}/") :]
        return name

    @staticmethod
    def learn(names: list[str]) -> str | None:
        for name in names:
            m = _PROJECT.match(name)
            if m and m.group(1).isdigit():
                return m.group(1)
        return None


def _artefact(uri: str) -> Ref:
    """The artefact at `artifactUri`, under the id the `gcs:` source reports for the same place
    (one converter for every registry: `store_uris`); a URI no converter knows is kept as
    written, without credentials."""
    known = canonical(uri.strip())
    return Ref(known[0] if known else redact_uri(uri.strip().rstrip("/")))


def model_id(name: str) -> str:
    return FULL + name.split("@", 1)[0]


def version_id(name: str, version: str) -> str:
    return f"{model_id(name)}@{version}"


def endpoint_id(name: str) -> str:
    return FULL + name


def _labels(entity: Mapping[str, Any]) -> dict[str, str]:
    labels = entity.get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _where(opts: VertexOptions) -> dict[str, Any]:
    return {"provider": PROVIDER, "account": opts.project, "region": opts.location}


def model_resource(
    model: Mapping[str, Any],
    versions: Sequence[Mapping[str, Any]] | Unknown,
    opts: VertexOptions,
    source: str,
) -> Resource:
    name = str(model["name"])
    labels = _labels(model)
    facts = governance_facts(labels, dialect=GCP_LABELS)
    attributes: dict[str, Any] = {
        **_where(opts),
        "display_name": str(model.get("displayName", "")),
        "tags": redact(labels, mask_keys=True),
        "version_count": versions if isinstance(versions, Unknown) else len(versions),
    }
    if model.get("description"):
        attributes["description"] = redact_text(str(model["description"]))
    for key in INHERITED:
        if key in facts:
            attributes[key] = facts[key]
        elif key in FLAGS:
            attributes[key] = False
    if isinstance(attributes.get("owner"), str):
        attributes["owner"] = redact_text(attributes["owner"])
    return Resource(
        id=model_id(name),
        type="model",
        name=str(model.get("displayName") or name.rsplit("/", 1)[-1]),
        source=source,
        attributes=attributes,
        raw=redact(_strip(model), mask_keys=True),
    )


def version_resource(
    version: Mapping[str, Any],
    model: Resource,
    pipelines: Mapping[str, Mapping[str, Any] | Unknown],
    endpoints: Mapping[str, str],
    opts: VertexOptions,
    source: str,
) -> Resource:
    name = str(version["name"]).split("@", 1)[0]
    number = str(version.get("versionId", ""))
    labels = _labels(version)
    facts = governance_facts(labels, dialect=GCP_LABELS)
    aliases = [str(a) for a in version.get("versionAliases") or () if isinstance(a, str)]
    attributes: dict[str, Any] = {
        **_where(opts),
        "model": Ref(model.id),
        "version": number,
        "aliases": aliases,
        "default": "default" in aliases,
        "tags": redact(labels, mask_keys=True),
    }
    for key in INHERITED:
        if key in facts:
            attributes[key] = facts[key]
        elif key in model.attributes:
            attributes[key] = model.attributes[key]
    if "authorized_deployments" in facts:
        attributes["authorized_deployments"] = _with_ids(facts["authorized_deployments"], endpoints)
    if isinstance(attributes.get("owner"), str):
        attributes["owner"] = redact_text(attributes["owner"])
    uri = version.get("artifactUri")
    if isinstance(uri, str) and uri.strip():
        attributes["source_uri"] = redact_uri(uri.strip())
        attributes["artefact"] = _artefact(uri)
    served = [d for d in version.get("deployedModels") or () if isinstance(d, Mapping)]
    attributes["served_by"] = sorted(
        endpoint_id(str(d["endpoint"])) for d in served if isinstance(d.get("endpoint"), str)
    )
    attributes["stage"] = _stage(aliases, bool(served), attributes.get("retired", False), opts)
    attributes["provenance"] = _provenance(version, pipelines)
    kms = (version.get("encryptionSpec") or {}).get("kmsKeyName")
    attributes["encryption"] = {"kms_key": kms if isinstance(kms, str) and kms else None}
    return Resource(
        id=version_id(name, number),
        type="model_version",
        name=f"{model.name}/{number}",
        source=source,
        attributes=attributes,
        raw=redact(_strip(version), mask_keys=True),
    )


def _stage(aliases: list[str], served: bool, retired: Any, opts: VertexOptions) -> Any:
    """Production wins over retirement, as in the other registries: a retired version that is
    still served must meet the production policies."""
    if served or set(aliases) & set(opts.production_aliases):
        return "production"
    if retired is True:
        return "archived"
    if isinstance(retired, Unknown):
        return retired
    if set(aliases) & set(opts.staging_aliases):
        return "staging"
    return "none"


def _with_ids(entries: list[str], endpoints: Mapping[str, str]) -> list[str]:
    """Each authorised endpoint as written, plus its full id when it names one we listed."""
    out: list[str] = []
    for entry in entries:
        out.append(entry)
        full = endpoints.get(entry) or endpoints.get(entry.lower())
        if full and full not in out:
            out.append(full)
    return out


def _provenance(
    version: Mapping[str, Any], pipelines: Mapping[str, Mapping[str, Any] | Unknown]
) -> dict[str, Any]:
    provenance: dict[str, Any] = {}
    created = version.get("versionCreateTime") or version.get("createTime")
    if isinstance(created, str):
        provenance["created_at"] = created
    run = version.get("trainingPipeline") or version.get("pipelineJob")
    if isinstance(run, str) and run:
        provenance["run"] = run
    artifact = version.get("metadataArtifact")
    if isinstance(artifact, str) and artifact:
        provenance["metadata_artifact"] = artifact
    pipeline = pipelines.get(str(version.get("trainingPipeline") or ""))
    if isinstance(pipeline, Unknown):
        provenance["datasets"] = pipeline
    elif isinstance(pipeline, Mapping):
        provenance["datasets"] = _datasets(pipeline)
    return provenance


def _datasets(pipeline: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dataset a training pipeline read (`inputDataConfig.datasetId`). Vertex records no
    digest for it, so `digest` stays absent and a policy requiring one fails, as it should."""
    config = pipeline.get("inputDataConfig") or {}
    dataset = config.get("datasetId") if isinstance(config, Mapping) else None
    if not isinstance(dataset, str) or not dataset:
        return []
    name = str(pipeline.get("name", ""))
    location = name.split("/trainingPipelines/", 1)[0]
    source = dataset if dataset.startswith("projects/") else f"{location}/datasets/{dataset}"
    return [{"name": dataset, "source": source, "context": "training"}]


def endpoint_resource(
    endpoint: Mapping[str, Any],
    names: Names,
    versions: Mapping[str, Mapping[str, Any]],
    opts: VertexOptions,
    source: str,
) -> Resource:
    name = str(endpoint["name"])
    labels = _labels(endpoint)
    served: list[Any] = []
    artefacts: list[Ref] = []
    for deployed in endpoint.get("deployedModels") or ():
        if not isinstance(deployed, Mapping) or not isinstance(deployed.get("model"), str):
            served.append(Unknown("a deployed model names no model"))
            continue
        model = names.canonical(deployed["model"])
        number = deployed.get("modelVersionId") or (model.split("@", 1)[1] if "@" in model else "")
        if not number:
            served.append(Unknown(f"deployed model {deployed.get('id')} names no version"))
            continue
        vid = version_id(model, str(number))
        served.append(Ref(vid))
        uri = (versions.get(vid) or {}).get("artifactUri")
        if isinstance(uri, str) and uri.strip():
            artefacts.append(_artefact(uri))
    private, why = _network(endpoint)
    logging = endpoint.get("predictRequestResponseLoggingConfig") or {}
    logging = logging if isinstance(logging, Mapping) else {}
    destination = (logging.get("bigqueryDestination") or {}).get("outputUri")
    enabled = logging.get("enabled") is True
    kms = (endpoint.get("encryptionSpec") or {}).get("kmsKeyName")
    attributes: dict[str, Any] = {
        **_where(opts),
        "display_name": str(endpoint.get("displayName", "")),
        "tags": redact(labels, mask_keys=True),
        "model_versions": served
        if all(isinstance(s, Ref) for s in served)
        else next(s for s in served if isinstance(s, Unknown)),
        "artefacts": sorted(set(artefacts), key=lambda r: r.id),
        # Every prediction call is an IAM-authorised Google API call
        # (aiplatform.endpoints.predict); there is no anonymous way in.
        "auth_required": True,
        "network_isolation": private,
        "in_private_network": private,
        "network_exposure": why,
        "data_capture": {
            "enabled": enabled,
            "destination": destination if isinstance(destination, str) else None,
            "sampling_rate": logging.get("samplingRate"),
        },
        "access_logging": enabled,
        "encryption": {"kms_key": kms if isinstance(kms, str) and kms else None},
        "decision_api": labels.get(EXPOSURE, "").strip().lower() == DECISION_API,
    }
    output_mode = governance_facts(labels, dialect=GCP_LABELS).get("output_mode")
    if output_mode:
        attributes["output_mode"] = output_mode
    return Resource(
        id=endpoint_id(name),
        type="endpoint",
        name=str(endpoint.get("displayName") or name.rsplit("/", 1)[-1]),
        source=source,
        attributes=attributes,
        raw=redact(_strip(endpoint), mask_keys=True),
    )


def _network(endpoint: Mapping[str, Any]) -> tuple[bool, str]:
    psc = endpoint.get("privateServiceConnectConfig") or {}
    if isinstance(psc, Mapping) and psc.get("enablePrivateServiceConnect") is True:
        allowed = ", ".join(str(p) for p in psc.get("projectAllowlist") or ()) or "no project"
        return True, f"reachable only through Private Service Connect (allowed: {allowed})"
    if endpoint.get("enablePrivateServiceConnect") is True:  # the older field
        return True, "reachable only through Private Service Connect"
    network = endpoint.get("network")
    if isinstance(network, str) and network:
        return True, f"a private endpoint peered with VPC network {network}"
    return False, "a public endpoint: reachable from the internet (IAM still required)"


def _strip(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The answer without container images' environment (it may hold secrets)."""
    out = dict(entity)
    spec = out.get("containerSpec")
    if isinstance(spec, Mapping) and "env" in spec:
        out["containerSpec"] = {k: v for k, v in spec.items() if k != "env"}
    return out
