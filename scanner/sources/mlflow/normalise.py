"""MLflow entities → `model`, `model_version` and `artefact` resources (docs/resource-model.md).

Pure functions of what the client returned: no requests here. Tag values are kept as data
(never interpreted beyond the documented conventions), enumerations are lower-cased, and what
could not be read is an `Unknown` with the reason, never a default.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.artefacts.signatures.recorded import recorded_signature
from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact, redact_text
from scanner.sources.mlflow import uris
from scanner.sources.mlflow.settings import Settings
from scanner.sources.tags import governance_facts, layered

_CODE_TAGS = (("repo", "mlflow.source.git.repoURL"), ("commit", "mlflow.source.git.commit"))


@dataclass(frozen=True)
class RunFacts:
    """What a version's training run says, or why it cannot be said."""

    run: Any = None  # the mlflow Run
    missing: str | None = None  # reason the run cannot be read


@dataclass(frozen=True)
class Listing:
    files: tuple[tuple[str, int | None], ...]
    truncated: bool


def plain(obj: Any, depth: int = 0) -> Any:
    """An MLflow entity as plain JSON-able data for `raw` (entities iterate as properties)."""
    if depth > 8:
        return str(obj)
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, enum.Enum):
        return str(obj.value if not isinstance(obj.value, int) else obj.name)
    if isinstance(obj, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [plain(v, depth + 1) for v in obj]
    to_dict = getattr(obj, "to_dictionary", None)
    if callable(to_dict):
        try:
            return plain(to_dict(), depth + 1)
        except Exception:  # an entity whose to_dictionary needs more than we have
            pass
    try:
        return {str(k): plain(v, depth + 1) for k, v in dict(obj).items()}
    except (TypeError, ValueError):
        return str(obj)


def _raw(obj: Any) -> Any:
    return redact(plain(obj), mask_keys=True)


def _iso(millis: Any) -> str | None:
    if not isinstance(millis, int) or isinstance(millis, bool) or millis <= 0:
        return None
    try:
        moment = dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (tags or {}).items()}


class TagFields:
    """The inventory fields of one model or version, read from the configured tag names with
    the vocabulary every source shares (`scanner.sources.tags`)."""

    def __init__(self, settings: Settings, *layers: Mapping[str, str]) -> None:
        self.names = settings.tags
        self.layers = layers  # most specific first: version tags, then the model's

    def attributes(self) -> dict[str, Any]:
        out = governance_facts(layered(*self.layers), keys=self.names)
        # An MLflow model nobody tagged retired is in use, and one with no watermark tag has none.
        out.setdefault("retired", False)
        out.setdefault("watermarked", False)
        return out


def model_resource(
    settings: Settings, source_name: str, model: Any, version_count: int | Unknown
) -> Resource:
    tags = _tags(model.tags)
    attributes: dict[str, Any] = {"provider": "mlflow"}
    if model.description is not None:
        attributes["description"] = redact_text(str(model.description))
    attributes["tags"] = redact(tags, mask_keys=True)
    attributes.update(TagFields(settings, tags).attributes())
    attributes["version_count"] = version_count
    attributes["aliases"] = sorted(str(a) for a in (model.aliases or {}))
    return Resource(
        id=uris.model_id(settings.target, model.name),
        type="model",
        name=str(model.name),
        source=source_name,
        attributes=attributes,
        raw=_raw(model),
    )


def stage(settings: Settings, aliases: list[str], legacy: str | None, retired: bool) -> str:
    """Production wins over retirement: a retired version still behind a production alias is
    serving, and production policies must see it (fail closed)."""
    lowered = {a.lower() for a in aliases}
    legacy = (legacy or "").strip().lower()
    if lowered & set(settings.production_aliases) or legacy == "production":
        return "production"
    if legacy == "archived" or retired:
        return "archived"
    if legacy == "staging" or lowered & set(settings.staging_aliases):
        return "staging"
    return "none"


def recorded_digest(settings: Settings, *layers: Mapping[str, str]) -> dict[str, str] | None:
    """`sha256:HEX` or `HEX` under the configured digest tag, from the first layer that has it."""
    name = settings.tags["digest"]
    for where, layer in zip(("version tag", "logged model tag"), layers, strict=False):
        value = layer.get(name)
        if value is None or not value.strip():
            continue
        algorithm, sep, digest = value.strip().partition(":")
        if not sep:
            algorithm, digest = "sha256", algorithm
        return {
            "algorithm": algorithm.strip().lower(),
            "value": digest.strip().lower(),
            "source": f"{where} {name}",
        }
    return None


def datasets(run: Any) -> list[dict[str, Any]]:
    out = []
    for item in getattr(run.inputs, "dataset_inputs", None) or []:
        ds = item.dataset
        context = next((t.value for t in item.tags or [] if t.key == "mlflow.data.context"), None)
        entry: dict[str, Any] = {
            "name": str(ds.name),
            "digest": str(ds.digest),
            "source": redact_text(_dataset_source(ds.source)),
        }
        if ds.source_type:
            entry["source_type"] = str(ds.source_type)
        if context is not None:
            entry["context"] = str(context)
        out.append(entry)
    return out


def _dataset_source(source: Any) -> str:
    """MLflow stores a dataset's source as a JSON string (`{"uri": "s3://…"}`); keep the URI,
    or the string as written when it is not that."""
    text = "" if source is None else str(source)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, Mapping):
        for key in ("uri", "url", "path", "table_name", "name"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return text


def provenance(version: Any, run_id: str | None, facts: RunFacts) -> dict[str, Any]:
    out: dict[str, Any] = {}
    created_at = _iso(version.creation_timestamp)
    if created_at is not None:
        out["created_at"] = created_at
    if not run_id:
        if version.user_id:
            out["created_by"] = str(version.user_id)
        return out
    out["run"] = str(run_id)
    if facts.run is None:
        reason = facts.missing or f"run {run_id} could not be read"
        for key in ("datasets", "code", "created_by"):
            out[key] = Unknown(reason)
        return out
    run = facts.run
    tags = _tags(run.data.tags)
    out["datasets"] = datasets(run)
    code = {key: redact_text(tags[tag]) for key, tag in _CODE_TAGS if tags.get(tag)}
    if code:
        out["code"] = code
    user = tags.get("mlflow.user") or run.info.user_id or version.user_id
    if user:
        out["created_by"] = str(user)
    return out


def version_resource(
    settings: Settings,
    source_name: str,
    version: Any,
    model: Any | None,
    aliases: list[str],
    run_id: str | None,
    facts: RunFacts,
    artefact: str | Unknown,
    logged_model: Any | None,
) -> Resource:
    name, number = str(version.name), str(version.version)
    version_tags = _tags(version.tags)
    model_tags = _tags(model.tags) if model is not None else {}
    logged_tags = _tags(getattr(logged_model, "tags", None)) if logged_model is not None else {}
    fields: dict[str, Any] = TagFields(settings, version_tags, model_tags).attributes()
    known_stage: str | Unknown = stage(settings, aliases, version.current_stage, fields["retired"])
    known_aliases: list[str] | Unknown = sorted(aliases)
    if model is None:
        # The model listing did not return this version's model: its aliases (which say
        # production) and its tags (which the version inherits) are not known, not empty.
        missing = Unknown(f"model {name} is missing from the registry's model listing")
        own = TagFields(settings, version_tags).attributes()
        set_here = set(governance_facts(version_tags, keys=settings.tags))
        fields = {k: (v if k in set_here else missing) for k, v in own.items()}
        for key in ("owner", "classification", "ip_value", "output_mode", "authorized_deployments"):
            fields.setdefault(key, missing)
        known_aliases = missing
        production = str(version.current_stage or "").strip().lower() == "production"
        known_stage = "production" if production else missing
    attributes: dict[str, Any] = {
        "provider": "mlflow",
        "model": Ref(uris.model_id(settings.target, name)),
        "version": number,
        "stage": known_stage,
        "aliases": known_aliases,
        "status": str(version.status or "").lower() or Unknown("the registry reports no status"),
        "source_uri": redact_text(str(version.source or "")),
        "artefact": artefact if isinstance(artefact, Unknown) else Ref(artefact),
        "provenance": provenance(version, run_id, facts),
        "tags": redact(version_tags, mask_keys=True),
        **fields,
    }
    if version.current_stage and str(version.current_stage).lower() != "none":
        attributes["legacy_stage"] = str(version.current_stage).lower()
    if version.description:
        attributes["description"] = redact_text(str(version.description))
    digest = recorded_digest(settings, version_tags, logged_tags)
    if digest is not None:
        attributes["recorded_digest"] = digest
    tag = settings.tags["signature"]
    base = artefact if isinstance(artefact, str) else str(version.source or "")
    pointer = recorded_signature(version_tags.get(tag), base, f"version tag {tag}")
    if pointer is not None:
        attributes["recorded_signature"] = pointer
    raw: dict[str, Any] = {"model_version": _raw(version)}
    if facts.run is not None:
        raw["run"] = _raw(facts.run)
    if logged_model is not None:
        raw["logged_model"] = _raw(logged_model)
    return Resource(
        id=uris.version_id(settings.target, name, number),
        type="model_version",
        name=f"{name}/{number}",
        source=source_name,
        attributes=attributes,
        raw=raw,
    )


def artefact_resource(
    source_name: str,
    location: uris.Location,
    listing: Listing,
    server: str,
    versions: Sequence[str] = (),
) -> Resource:
    files = [
        {"path": path, "size": size if size is not None else Unknown("size not reported")}
        for path, size in sorted(listing.files)
    ]
    sizes = [s for _, s in listing.files if s is not None]
    where: dict[str, Any] = {"provider": location.provider}
    attributes: dict[str, Any] = {"uri": location.uri}
    if location.provider == "local":
        where["path"] = location.path
    else:
        where["server"] = server
        where["path"] = location.uri.split("/", 3)[3] if location.uri.count("/") >= 3 else ""
        # The proxy hides where the server keeps the files: storage controls cannot be read.
        attributes["storage"] = Unknown(
            f"{location.uri} is stored behind the MLflow server's artifact proxy; the backing "
            "store is not visible to clients (scan it with its own source)"
        )
    attributes.update(
        location=where,
        files=files,
        file_count=len(files),
        total_size=sum(sizes) if len(sizes) == len(files) else Unknown("a file size is missing"),
        listing_truncated=listing.truncated,
    )
    return Resource(
        id=location.uri,
        type="artefact",
        name=uris.artefact_name(location.uri, versions),
        source=source_name,
        attributes=attributes,
        raw={"listed": redact_text(location.list_uri or ""), "file_count": len(files)},
    )
