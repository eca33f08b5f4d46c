"""What every source is: a spec the user wrote, and a `collect()` that returns resources.

A source knows its provider and the normalised resource model, nothing about policies.
It never raises for a partial problem (one unreadable file, one denied API call): it records
the value as `Unknown` and adds a one-line `problem`, so the scan keeps everything it could
read and still fails closed. Where a listing failed, so that resources may exist that it does
not report, it says so with a `Gap` (linking then claims nothing negative about them). It
raises `SourceError` only when it can read nothing at all; the scan then records a gap over
every type the source `produces`.

A source's `progress` callback also carries the scan's time limit and the register of calls
in flight (`scanner.sources.watch.watch_of`); a source that makes requests checks the one and
names its requests in the other. Faults of single calls become Unknowns the same way in every
provider (`scanner.sources.faults`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from scanner.errors import EXIT_SOURCE, ModelwardError
from scanner.inventory import RESOURCE_TYPES, Gap, Resource


class SourceError(ModelwardError):
    """The source as a whole could not be read (unreachable, no such path, no credentials)."""

    exit_code = EXIT_SOURCE


@dataclass(frozen=True)
class SourceSpec:
    """`kind:target` as written on the command line or in config, plus config options."""

    kind: str
    target: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.target}"


@dataclass(frozen=True)
class AccountStatus:
    """One account of a source that reads several: how reading it went."""

    id: str
    problems: tuple[str, ...] = ()
    resource_count: int = 0
    name: str | None = None
    ou: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": "error" if self.problems else "ok",
            "error": summary(self.problems),
            "resource_count": self.resource_count,
        }
        if self.name is not None:
            out["name"] = self.name
        if self.ou is not None:
            out["ou"] = self.ou
        if self.problems:
            out["problems"] = list(self.problems)
        return out


@dataclass(frozen=True)
class Collection:
    resources: tuple[Resource, ...]
    # Partial failures, one line each, naming the file/API and the reason. Any problem makes the
    # source's status "error" in results (exit 3 unless --allow-partial); resources are kept.
    problems: tuple[str, ...] = ()
    # Resources that may exist but could not be listed (each also has a line in `problems`).
    gaps: tuple[Gap, ...] = ()
    # A source that reads several accounts: each account's status, in account order. Its
    # `problems` are then `own_problems` (the source's, such as listing the organization)
    # followed by every account's (`combined_problems`), so a merge can rebuild them.
    accounts: tuple[AccountStatus, ...] = ()


def summary(problems: tuple[str, ...] | list[str]) -> str | None:
    """The one-line error of a source or an account: its first problem, and how many more."""
    if not problems:
        return None
    more = f" (+{len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return problems[0] + more


def combined_problems(own: list[str] | tuple[str, ...], accounts: list[list[str]]) -> list[str]:
    """A multi-account source's problems: its own, then each account's, duplicates dropped."""
    return list(dict.fromkeys([*own, *(p for problems in accounts for p in problems)]))


@dataclass(frozen=True)
class Narrowing:
    """What a scan needs from a source, when it needs less than everything.

    `types`: the resource types some selected policy reads (or linking needs for what they
    read); a source may skip the API families that produce none of them. `model` and `ids`:
    a targeted scan, about one model (`NAME` or `NAME/VERSION`) and the resources with these
    ids (`--resource`, and what registries reported for the model: artefact URIs, storage,
    endpoints); a source reads only what touches them.
    """

    types: frozenset[str] | None = None
    model: str | None = None
    ids: frozenset[str] = frozenset()

    @property
    def targeted(self) -> bool:
        return self.model is not None or bool(self.ids)

    def needs(self, *types: str) -> bool:
        return self.types is None or any(t in self.types for t in types)

    def names_version(self, name: str) -> bool:
        """Is a version named `name` (`MODEL/VERSION`, as registries name them) the target?"""
        if self.model is None:
            return False
        if "/" in self.model:
            return name == self.model
        return name.rsplit("/", 1)[0] == self.model


Progress = Callable[[str], None]


class Source(Protocol):
    """Optionally also `produces: frozenset[str]`, the resource types it can report; a source
    that does not say is taken to report any type, so its failure makes every linked "none"
    Unknown (fail closed). See `produced_types`. Optionally `provider: str`, the `provider`
    its resources carry, so that its failure leaves the other clouds' facts alone (one that
    does not say may report anything: its failure costs every provider's)."""

    spec: SourceSpec

    def collect(self, progress: Progress) -> Collection:
        """Read the provider and return normalised resources. Read-only, always."""
        ...


def produced_types(source: Source) -> frozenset[str]:
    """The types a source reports, for the gap its failure leaves (all types unless it says)."""
    declared = getattr(source, "produces", None)
    return frozenset(declared) if declared else frozenset(RESOURCE_TYPES)


def source_provider(source: Source) -> str | None:
    """The provider of everything a source reports, where it says (None: any)."""
    declared = getattr(source, "provider", None)
    return declared if isinstance(declared, str) else None


@runtime_checkable
class Divisible(Protocol):
    """A source whose work splits into accounts: each shard of a sharded scan runs it and
    reads the accounts the shard owns (`scanner.sources.shards`). Any other source is run
    whole by the one shard that owns it."""

    def divide(self, shard: Any) -> None: ...


@runtime_checkable
class Narrowable(Protocol):
    """A source that can read less than everything (see `Narrowing`). Any other source
    collects everything, and the scan keeps what the target touches."""

    # A source that finds a target's resources only once registries have named them (the
    # AWS source reads the buckets a registry's artefact URIs point at) runs second.
    needs_seeds: bool

    def narrow(self, narrowing: Narrowing) -> None: ...
