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
from typing import Any, Protocol

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
class Collection:
    resources: tuple[Resource, ...]
    # Partial failures, one line each, naming the file/API and the reason. Any problem makes the
    # source's status "error" in results (exit 3 unless --allow-partial); resources are kept.
    problems: tuple[str, ...] = ()
    # Resources that may exist but could not be listed (each also has a line in `problems`).
    gaps: tuple[Gap, ...] = ()


Progress = Callable[[str], None]


class Source(Protocol):
    """Optionally also `produces: frozenset[str]`, the resource types it can report; a source
    that does not say is taken to report any type, so its failure makes every linked "none"
    Unknown (fail closed). See `produced_types`."""

    spec: SourceSpec

    def collect(self, progress: Progress) -> Collection:
        """Read the provider and return normalised resources. Read-only, always."""
        ...


def produced_types(source: Source) -> frozenset[str]:
    """The types a source reports, for the gap its failure leaves (all types unless it says)."""
    declared = getattr(source, "produces", None)
    return frozenset(declared) if declared else frozenset(RESOURCE_TYPES)
