"""The `vertex:` source: one project's Vertex AI Model Registry and endpoints in one region.

Reads, over the REST API (`scanner.sources.gcp.rest`, google-auth's AuthorizedSession):
1. `models.list` and `endpoints.list`, in parallel;
2. `models.listVersions` for each model, and `trainingPipelines.get` for each distinct
   pipeline a version names, on the source's one pool;
then builds the resources (`normalise.py`). A denied listing is Unknown naming the
permission and a problem line; no credentials or an unreachable API fails the source.
google-cloud-aiplatform is not used: it is over 100 MB for what is a handful of GETs here.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scanner.inventory import Resource, Unknown
from scanner.sources.gcp.calls import Calls
from scanner.sources.gcp.credentials import api_root
from scanner.sources.gcp.source import FanOut, GcpSource
from scanner.sources.interface import Progress, SourceSpec
from scanner.sources.vertex import normalise
from scanner.sources.vertex.options import VertexOptions, parse_options


class VertexSource(GcpSource[VertexOptions]):
    """Read-only: only list and get calls are made."""

    thread_name = "vertex"

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec, parse_options(spec))

    def where(self) -> str:
        return f"vertex:{self.options.project}/{self.options.location}"

    def read(
        self, progress: Progress, calls: Calls, pool: ThreadPoolExecutor, fan_out: FanOut
    ) -> tuple[list[Resource], list[str]]:
        opts = self.options
        rest = self.rest(calls)
        root = api_root("aiplatform", f"https://{opts.location}-aiplatform.googleapis.com/")
        base = f"{root}v1/projects/{opts.project}/locations/{opts.location}"
        endpoints_future = pool.submit(
            rest.pages,
            f"{base}/endpoints",
            "endpoints",
            permission="aiplatform.endpoints.list",
            what="endpoints",
        )
        models = rest.pages(
            f"{base}/models", "models", permission="aiplatform.models.list", what="models"
        )
        model_list = _named(models)
        progress(f"{self.spec.text}: {len(model_list)} model(s)")

        def versions_of(model: Mapping[str, Any]) -> list[dict[str, Any]] | Unknown:
            found = rest.pages(
                f"{root}v1/{model['name']}:listVersions",
                "models",
                permission="aiplatform.models.list",
                what=f"versions of {model['name']}",
            )
            if isinstance(found, Unknown):
                return found
            named = _named(found)
            versioned = [v for v in named if isinstance(v.get("versionId"), str | int)]
            if len(versioned) < len(named):  # an id cannot be made up: say so, keep the rest
                rest.calls.malformed(f"versions of {model['name']}", "a version has no versionId")
            return versioned

        versions = fan_out(versions_of, model_list)
        pipeline_names = sorted(
            {
                str(v["trainingPipeline"])
                for vs in versions
                if isinstance(vs, list)
                for v in vs
                if isinstance(v.get("trainingPipeline"), str) and v["trainingPipeline"]
            }
        )

        def pipeline(name: str) -> Mapping[str, Any] | Unknown:
            got = rest.get(
                f"{root}v1/{name}",
                permission="aiplatform.trainingPipelines.get",
                what=f"training pipeline {name}",
            )
            return got if got is not None else Unknown(f"training pipeline {name} not found")

        pipelines = dict(zip(pipeline_names, fan_out(pipeline, pipeline_names), strict=True))
        endpoints = endpoints_future.result()
        return self._resources(model_list, versions, pipelines, endpoints), []

    def _resources(
        self,
        model_list: list[dict[str, Any]],
        versions: list[list[dict[str, Any]] | Unknown],
        pipelines: Mapping[str, Mapping[str, Any] | Unknown],
        endpoints: list[dict[str, Any]] | Unknown,
    ) -> list[Resource]:
        opts, source = self.options, self.spec.name
        endpoint_list = _named(endpoints)
        names = normalise.Names(
            opts.project,
            normalise.Names.learn([str(e["name"]) for e in [*model_list, *endpoint_list]]),
        )
        # Label values cannot hold resource names: authorisations name endpoints by numeric id
        # or display name, completed here with the full id.
        by_label: dict[str, str] = {}
        for e in endpoint_list:
            full = normalise.endpoint_id(str(e["name"]))
            by_label[str(e["name"]).rsplit("/", 1)[-1]] = full
            if isinstance(e.get("displayName"), str):
                by_label[e["displayName"]] = full
        resources: list[Resource] = []
        by_version: dict[str, Mapping[str, Any]] = {}
        for model, model_versions in zip(model_list, versions, strict=True):
            resource = normalise.model_resource(model, model_versions, opts, source)
            resources.append(resource)
            for version in model_versions if isinstance(model_versions, list) else ():
                built = normalise.version_resource(
                    version, resource, pipelines, by_label, opts, source
                )
                resources.append(built)
                by_version[built.id] = version
        for endpoint in endpoint_list:
            resources.append(normalise.endpoint_resource(endpoint, names, by_version, opts, source))
        return resources


def _named(items: list[dict[str, Any]] | Unknown) -> list[dict[str, Any]]:
    """Entries with a resource name (the rest cannot be identified, and are not guessed at)."""
    if isinstance(items, Unknown):
        return []
    return [i for i in items if isinstance(i.get("name"), str) and i["name"]]
