"""The normalised estate: resources, the references between them, and values nobody could read.

Sources produce `Resource` objects; policies read them only through `Inventory.resolve`, which
follows dotted paths through nested attributes, references to other resources (`Ref`) and list
elements. `Unknown` marks a value a source could not read; it propagates through resolution so
that the evaluator can turn it into an `error` verdict instead of a guess.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# The resource types of the normalised model (DESIGN.md, "The resource model"). A policy naming
# any other type is rejected at load time, so a typo never silently selects nothing.
RESOURCE_TYPES: tuple[str, ...] = (
    "model",
    "model_version",
    "artefact",
    "storage",
    "principal",
    "audit_trail",
    "endpoint",
    "network",
    "threat_detection",
    "attestation",
    "traffic",
    "access_log",
)


@dataclass(frozen=True)
class Unknown:
    """A value a source could not read, with the reason (e.g. the API call that was denied)."""

    reason: str

    def __bool__(self) -> bool:
        # Fail loudly if code ever tests an Unknown for truth: that would silently mean False.
        raise TypeError(f"Unknown value used as a boolean ({self.reason})")


@dataclass(frozen=True)
class Gap:
    """Resources that may exist but were not reported: a listing failed (a bucket listing was
    denied, a registry search answered with garbage, a whole source failed).

    Linking computes facts about *all* resources of a type ("no production version is stored
    in this bucket", "no endpoint runs in this VPC"); where resources of that type may be
    missing, such a negative is not known, so it is `Unknown(reason)` instead of false. A gap
    limited to an account and region (`None`: anywhere) leaves the others' answers alone, and
    one limited to a provider (the failed source's cloud) leaves the other clouds' alone: an
    Azure listing that failed hides no S3 bucket.
    """

    types: frozenset[str]
    reason: str
    account: str | None = None
    region: str | None = None
    provider: str | None = None

    def covers(
        self, rtype: str, account: Any = None, region: Any = None, provider: Any = None
    ) -> bool:
        """Whether resources of `rtype` in that account, region and provider may be missing."""
        if rtype not in self.types:
            return False
        if self.provider is not None and provider is not None and provider != self.provider:
            return False
        if self.account is not None and account is not None and account != self.account:
            return False
        return self.region is None or region is None or region == self.region

    def to_dict(self) -> dict[str, Any]:
        """As results record it (`scan.sources[].gaps`), so `merge` links with it again."""
        out: dict[str, Any] = {"types": sorted(self.types), "reason": self.reason}
        if self.account is not None:
            out["account"] = self.account
        if self.region is not None:
            out["region"] = self.region
        if self.provider is not None:
            out["provider"] = self.provider
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Gap:
        return Gap(
            frozenset(str(t) for t in data["types"]),
            str(data["reason"]),
            data.get("account"),
            data.get("region"),
            data.get("provider"),
        )

    def order(self) -> tuple[str, str, str, str, str]:
        """A stable order: a sharded scan's merge lists a source's gaps as one scan would."""
        return (
            self.provider or "",
            self.account or "",
            self.region or "",
            ",".join(sorted(self.types)),
            self.reason,
        )


@dataclass(frozen=True)
class Ref:
    """A reference to another resource by id; resolution follows it."""

    id: str


class _Missing:
    """The attribute is not there at all (distinct from None and from Unknown)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


class ResourceView(dict):  # type: ignore[type-arg]
    """A resource as a field path sees it. Marked so that a list item that is a reference can
    be compared by its id (`no_item: {equals: <id>}`) rather than as a whole mapping."""


@dataclass(frozen=True)
class Resource:
    id: str
    type: str
    name: str
    source: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    raw: Any = None

    def view(self) -> dict[str, Any]:
        """What a field path starts from: the attributes plus id/type/name/source."""
        out = ResourceView(self.attributes)
        out.update(id=self.id, type=self.type, name=self.name, source=self.source)
        return out


class InventoryError(Exception):
    """Two sources reported the same id with different types: the estate cannot be indexed."""


class Inventory:
    """Resources indexed by id and by type, with reference-following path resolution."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._by_id: dict[str, Resource] = {}
        # Views are built once per resource: following references is the evaluator's hot path.
        self._views: dict[str, dict[str, Any]] = {}
        self._merged_raw: set[str] = set()
        # Ids by type, sorted on first use: every policy asks for one type.
        self._by_type: dict[str, list[str]] = {}
        self._sorted: dict[str, list[Resource]] = {}
        # For a resource several sources reported: the source of each attribute whose value
        # did not come from the resource's own `source`. Results carry it, so that merging
        # shard results rebuilds what one scan would have merged (scanner/merge.py).
        self.origins: dict[str, dict[str, str]] = {}
        for r in resources:
            self.add(r)

    def add(self, resource: Resource) -> None:
        """Add a resource; a second report of the same id is merged into the first.

        Different sources see different sides of one thing (a registry names an S3 prefix,
        the AWS source reads that prefix's files). The first known value of an attribute wins;
        a known value replaces an Unknown, never the other way round.
        """
        self._views.pop(resource.id, None)
        existing = self._by_id.get(resource.id)
        if existing is None:
            self._by_id[resource.id] = resource
            self._by_type.setdefault(resource.type, []).append(resource.id)
            self._sorted.pop(resource.type, None)
            return
        self._sorted.pop(resource.type, None)
        if existing.type != resource.type:
            raise InventoryError(
                f"resource {resource.id!r} reported as {existing.type} by {existing.source} "
                f"and as {resource.type} by {resource.source}"
            )
        merged = dict(existing.attributes)
        origins = self.origins.get(resource.id, {})
        for key, value in resource.attributes.items():
            if key not in merged or isinstance(merged[key], Unknown):
                merged[key] = value
                if resource.source != existing.source:
                    origins[key] = resource.source
                else:
                    origins.pop(key, None)
        if origins:
            self.origins[resource.id] = origins
        raw = existing.raw
        if resource.raw is not None:
            # Once merged, raw is keyed by source; later reports add their key beside the others.
            if resource.id not in self._merged_raw:
                raw = {existing.source: existing.raw}
                self._merged_raw.add(resource.id)
            raw = {**raw, resource.source: resource.raw}
        self._by_id[resource.id] = Resource(
            id=existing.id,
            type=existing.type,
            name=existing.name,
            source=existing.source,
            attributes=merged,
            raw=raw,
        )

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Resource]:
        """Resources in a stable order (type, id): results must be deterministic."""
        return iter(sorted(self._by_id.values(), key=lambda r: (r.type, r.id)))

    def get(self, resource_id: str) -> Resource | None:
        return self._by_id.get(resource_id)

    def of_type(self, resource_type: str) -> list[Resource]:
        """The resources of one type, sorted by id (a copy: callers may keep it)."""
        found = self._sorted.get(resource_type)
        if found is None:
            ids = sorted(self._by_type.get(resource_type, ()))
            found = self._sorted[resource_type] = [self._by_id[i] for i in ids]
        return list(found)

    def types(self) -> list[str]:
        return sorted(self._by_type)

    def view(self, resource: Resource) -> dict[str, Any]:
        cached = self._views.get(resource.id)
        if cached is None:
            cached = self._views[resource.id] = resource.view()
        return cached

    def deref(self, ref: Ref) -> dict[str, Any] | Unknown:
        target = self._by_id.get(ref.id)
        if target is None:
            return Unknown(f"{ref.id} is referenced but no configured source reports it")
        return self.view(target)

    def resolve(self, start: Any, path: str | None) -> Any:
        """Follow a dotted path from a resource (or item) and return what it reaches.

        - a name on a mapping takes that key (``MISSING`` if absent);
        - a `Ref` is followed to the referenced resource before the next name is applied;
        - a number on a list takes that element; a name on a list is applied to every element
          and the results are collected into a list (nested lists are flattened one level);
        - an `Unknown` anywhere stops resolution and is returned as is.
        A `Ref` at the end of the path is returned as is (operators compare its id).
        """
        if isinstance(start, Resource):
            value = self._views.get(start.id)  # the evaluator's hot path: a cached view
            if value is None:
                value = self.view(start) if start.id in self._by_id else start.view()
        else:
            value = start
        if not path or path == ".":
            return value
        if "." not in path:
            return self._step(value, path)
        for segment in _segments(path):
            value = self._step(value, segment)
        return value

    def _step(self, value: Any, segment: str) -> Any:
        # Plain dicts first, without the abstract-class check: this runs for every path segment.
        if type(value) is dict or type(value) is ResourceView:
            return value.get(segment, MISSING)
        if isinstance(value, Unknown) or value is MISSING:
            return value
        if isinstance(value, Ref):
            value = self.deref(value)
            if isinstance(value, Unknown):
                return value
        if isinstance(value, Mapping):
            return value.get(segment, MISSING)
        if isinstance(value, (list, tuple)):
            if segment.isdigit():
                index = int(segment)
                return value[index] if index < len(value) else MISSING
            # An element without the field stays in the list as MISSING: dropping it would let
            # `every_item` pass over elements that never had the value.
            collected: list[Any] = []
            for element in value:
                reached = self._step(element, segment)
                if isinstance(reached, (list, tuple)):
                    collected.extend(reached)
                else:
                    collected.append(reached)
            return collected
        return MISSING


@lru_cache(maxsize=4096)
def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for results: Ref → {"$ref": id}, Unknown → {"$unknown": reason}."""
    if isinstance(value, Unknown):
        return {"$unknown": value.reason}
    if isinstance(value, Ref):
        return {"$ref": value.id}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if value is MISSING:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": strict JSON parsers (jq, JSON.parse) refuse NaN
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def from_jsonable(value: Any) -> Any:
    """Inverse of `to_jsonable` for the markers: fixtures and results can be re-evaluated."""
    if isinstance(value, Mapping):
        if set(value) == {"$ref"} and isinstance(value["$ref"], str):
            return Ref(value["$ref"])
        if set(value) == {"$unknown"}:
            return Unknown(str(value["$unknown"]))
        return {str(k): from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value
