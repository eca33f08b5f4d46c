"""The `mlflow:` source: a tracking server or local store read into models, versions, artefacts.

Order of reads, each a handful of requests however large the registry: registered models (with
their alias maps: versions searched in bulk carry no aliases), every version, the MLflow 3
logged models behind `models:/m-…` sources, the training runs (batched), and the file lists of
artefacts the server itself stores. A failure that makes the registry unreadable (no answer,
401/403, 5xx after retries, a malformed answer to either listing) is a `SourceError`; a
failure that concerns one run or one listing is an `Unknown` on that version and a problem
line (`client.Registry.map`).

The MLflow client reads an empty 200 answer as `{}`, which for a search is "no results", so
the two listings are checked against each other (`_consistent`): every version's model is
among the models, and every model's latest versions and aliases are among the versions. A
listing that fails the check is reported, and the registry's types become a `Gap` (linking
then claims nothing negative about models it may not have seen).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from scanner.inventory import Gap, Resource, Unknown
from scanner.sources.interface import Collection, Narrowing, Progress, SourceError, SourceSpec
from scanner.sources.mlflow import normalise, uris
from scanner.sources.mlflow.client import Registry, RequestFailed
from scanner.sources.mlflow.settings import Settings, load_settings
from scanner.sources.watch import watch_of
from scanner.terminal import safe

REGISTRY_TYPES = frozenset({"model", "model_version", "artefact"})


class MlflowSource:
    """Read-only: only search/get/list calls are made."""

    produces = REGISTRY_TYPES
    # A registry finds a targeted model by its name; it needs no ids from other sources.
    needs_seeds = False

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.settings: Settings = load_settings(spec)
        self.narrowing = Narrowing()

    def narrow(self, narrowing: Narrowing) -> None:
        self.narrowing = narrowing

    def _describe(self, reason: str) -> str:
        target = self.settings.target
        what = "MLflow server" if target.kind == "rest" else "MLflow store"
        return f"{what} {target.public}: {reason}"

    def collect(self, progress: Progress) -> Collection:
        settings = self.settings
        registry = Registry(settings, self._describe, watch_of(progress))
        problems: list[str] = []
        gaps: list[Gap] = []
        progress(f"reading registered models from {settings.target.public}")
        wanted = self.narrowing
        if not wanted.needs("model", "model_version", "artefact"):
            return Collection(resources=())
        # A targeted scan reads one model's entries (by name; a version is picked from them).
        name = wanted.model.split("/", 1)[0] if wanted.model is not None else None
        if wanted.targeted and name is None:
            name = ""  # --resource alone: no registry entry is the target
        models = (
            {_name(m, "registered-models/search", self._describe): m
             for m in registry.registered_models(name)}
            if name != ""
            else {}
        )  # fmt: skip
        versions = list(registry.model_versions(name)) if name != "" else []
        for v in versions:
            _name(v, "model-versions/search", self._describe)
            if not isinstance(v.version, str | int) or not str(v.version):
                raise SourceError(self._describe("malformed answer from model-versions/search"))
        # Checked on the listings as read (one model's, in a targeted scan), before a version
        # is picked: the model's latest versions and aliases must be among its versions.
        inconsistent = _consistent(models, versions)
        if inconsistent is not None:
            problems.append(self._describe(inconsistent))
            gaps.append(Gap(REGISTRY_TYPES, self._describe(inconsistent)))
        if wanted.model is not None and "/" in wanted.model:
            versions = [v for v in versions if wanted.names_version(f"{v.name}/{v.version}")]
        progress(f"{len(models)} registered model(s), {len(versions)} version(s)")

        # Entities are not hashable: everything per version is kept by its index.
        logged_ids = [uris.logged_model_of(v.source or "") for v in versions]
        logged = registry.logged_models(i for i in logged_ids if i)
        run_of: list[str | None] = []
        for i, v in enumerate(versions):
            run_id = v.run_id or None
            lm = logged.get(logged_ids[i] or "")
            if not run_id and lm is not None and not isinstance(lm, RequestFailed):
                run_id = lm.source_run_id or None
            if not run_id and (path := uris.run_path_of(v.source or "")):
                run_id = path[0]
            run_of.append(run_id)
        runs = registry.runs(r for r in run_of if r)
        progress(f"{len(runs)} run(s), {len(logged)} logged model(s)")

        locations = [
            self._locate(v, run_of[i], runs, logged, logged_ids[i]) for i, v in enumerate(versions)
        ]
        listings = self._list(registry, locations, problems)

        resources: list[Resource] = []
        by_model: dict[str, list[Any]] = defaultdict(list)
        for v in versions:
            by_model[v.name].append(v)
        for name, model in models.items():
            count: int | Unknown = len(by_model[name])
            if inconsistent is not None:  # the version listing cannot be counted on
                count = Unknown(inconsistent)
            resources.append(normalise.model_resource(settings, self.spec.name, model, count))
        for i, v in enumerate(versions):
            model = models.get(v.name)
            alias_map = (model.aliases or {}) if model is not None else {}
            aliases = [a for a, n in alias_map.items() if str(n) == str(v.version)]
            facts = self._facts(v, run_of[i], runs, problems)
            location = locations[i]
            lm = logged.get(logged_ids[i] or "")
            resources.append(
                normalise.version_resource(
                    settings,
                    self.spec.name,
                    v,
                    model,
                    aliases,
                    run_of[i],
                    facts,
                    location if isinstance(location, Unknown) else location.uri,
                    lm if lm is not None and not isinstance(lm, RequestFailed) else None,
                )
            )
            if isinstance(location, Unknown):
                problems.append(f"{_label(v)}: artefact location unknown: {location.reason}")
        # An artefact is named after the registry versions that point at it (`fraud/3`), the
        # name a person knows it by; its id stays the URI.
        labels: dict[str, list[str]] = defaultdict(list)
        for v, where in zip(versions, locations, strict=True):
            if not isinstance(where, Unknown):
                labels[where.uri].append(f"{v.name}/{v.version}")
        for location, listing in listings.items():
            resources.append(
                normalise.artefact_resource(
                    self.spec.name,
                    location,
                    listing,
                    settings.target.public,
                    labels.get(location.uri, ()),
                )
            )
        problems.extend(registry.anomalies)
        return Collection(
            resources=tuple(sorted(resources, key=lambda r: (r.type, r.id))),
            problems=tuple(sorted(set(problems))),
            gaps=tuple(gaps),
        )

    def _locate(
        self,
        version: Any,
        run_id: str | None,
        runs: dict[str, Any],
        logged: dict[str, Any],
        logged_id: str | None,
    ) -> uris.Location | Unknown:
        """The version's model directory, from its source: `models:/m-…` through the logged
        model, `runs:/ID/PATH` through the run's artifact root, anything else as written."""
        source = (version.source or "").strip()
        target = self.settings.target
        if not source:
            return Unknown("the registry records no source for this version")
        if logged_id is not None:
            lm = logged.get(logged_id)
            if isinstance(lm, RequestFailed) or lm is None:
                reason = lm.reason if isinstance(lm, RequestFailed) else "not returned"
                return Unknown(f"logged model {logged_id} could not be read: {reason}")
            if not lm.artifact_location:
                return Unknown(f"logged model {logged_id} has no artifact location")
            return uris.locate(lm.artifact_location, target)
        if source.startswith("models:/"):
            return Unknown(f"source {source} refers to another registry entry (not followed)")
        run_path = uris.run_path_of(source)
        if run_path is not None:
            run = runs.get(run_path[0])
            if isinstance(run, RequestFailed) or run is None:
                reason = run.reason if isinstance(run, RequestFailed) else "not returned"
                return Unknown(f"source {source}: run {run_path[0]} could not be read: {reason}")
            return uris.locate(uris.join(run.info.artifact_uri, run_path[1]), target)
        return uris.locate(source, target)

    def _list(
        self, registry: Registry, locations: Any, problems: list[str]
    ) -> dict[uris.Location, normalise.Listing]:
        """File lists of the artefacts only MLflow can show us: proxied by the server, or on a
        local disk we can read. Cloud URIs are left to the source that reads that cloud."""
        wanted: list[uris.Location] = []
        for loc in {x for x in locations if isinstance(x, uris.Location)}:
            if loc.list_uri is None:
                continue
            if loc.provider == "local" and not os.path.isdir(loc.path or ""):
                if self.settings.target.is_local:
                    problems.append(f"{loc.uri}: artefact directory not found")
                continue  # a remote server's own disk: another source (path:) may report it
            wanted.append(loc)
        wanted.sort(key=lambda loc: loc.uri)
        cap = self.settings.max_files
        results = registry.map(
            lambda loc: registry.list_files(loc.list_uri, cap), wanted, "artifacts/list"
        )
        out: dict[uris.Location, normalise.Listing] = {}
        for loc, result in zip(wanted, results, strict=True):
            if isinstance(result, RequestFailed):
                problems.append(f"{loc.uri}: cannot list files: {result.reason}")
                continue
            files, truncated = result
            out[loc] = normalise.Listing(tuple(files), truncated)
        return out

    def _facts(
        self, version: Any, run_id: str | None, runs: dict[str, Any], problems: list[str]
    ) -> normalise.RunFacts:
        if not run_id:
            return normalise.RunFacts()
        run = runs.get(run_id)
        if isinstance(run, RequestFailed) or run is None:
            reason = run.reason if isinstance(run, RequestFailed) else "not returned"
            if isinstance(run, RequestFailed) and run.status == 404:
                reason = f"run {run_id} no longer exists (deleted)"
            else:
                reason = f"run {run_id} could not be read: {reason}"
            problems.append(f"{_label(version)}: {reason}; provenance unknown")
            return normalise.RunFacts(missing=reason)
        if run.info.lifecycle_stage == "deleted":
            reason = f"run {run_id} was deleted"
            problems.append(f"{_label(version)}: {reason}; provenance unknown")
            return normalise.RunFacts(missing=reason)
        return normalise.RunFacts(run=run)


def _name(entity: Any, what: str, describe: Callable[[str], str]) -> str:
    """A listed model's or version's name: text, or the whole listing is malformed."""
    name = getattr(entity, "name", None)
    if not isinstance(name, str) or not name:
        raise SourceError(describe(f"malformed answer from {what} (an entry without a name)"))
    return name


def _consistent(models: dict[str, Any], versions: list[Any]) -> str | None:
    """Why the two listings cannot both be complete, or None. A search answered with an empty
    body reads as "no results" in the MLflow client; the other listing still names what it
    should have held."""
    listed = {(str(v.name), str(v.version)) for v in versions}
    for v in versions:
        if v.name not in models:
            return (
                f"malformed answer from registered-models/search: model {safe(v.name, 100)} of "
                f"version {safe(str(v.version), 20)} is not listed"
            )
    for name, model in models.items():
        named = [str(lv.version) for lv in (getattr(model, "latest_versions", None) or [])]
        named += [str(n) for n in (getattr(model, "aliases", None) or {}).values()]
        missing = next((n for n in named if (name, n) not in listed), None)
        if missing is not None:
            return (
                f"malformed answer from model-versions/search: version {safe(missing, 20)} of "
                f"model {safe(name, 100)} is not listed"
            )
    return None


def _label(version: Any) -> str:
    return f"model {safe(version.name, 200)} version {safe(version.version, 40)}"
