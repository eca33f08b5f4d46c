"""What every source is: a spec the user wrote, and a `collect()` that returns resources.

A source knows its provider and the normalised resource model, nothing about policies.
It never raises for a partial problem (one unreadable file, one denied API call): it records
the value as `Unknown` and adds a one-line `problem`, so the scan keeps everything it could
read and still fails closed. It raises `SourceError` only when it can read nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from scanner.errors import EXIT_SOURCE, ModelwardError
from scanner.inventory import Resource


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


Progress = Callable[[str], None]


class Source(Protocol):
    spec: SourceSpec

    def collect(self, progress: Progress) -> Collection:
        """Read the provider and return normalised resources. Read-only, always."""
        ...
