"""From a source spec string (`path:./models`) to a `Source` object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scanner.errors import NotImplementedYetError, UsageError
from scanner.sources.interface import Source, SourceSpec

SourceFactory = Callable[[SourceSpec], Source]

# Kinds the design names that later versions add; asking for one is a clear error, not a no-op.
NEEDS_TARGET = ("path", "attestations", "logs", "mlflow")
PLANNED_KINDS = ("aws", "azure", "gcs", "vertex", "logs", "oci")


def _path_source(spec: SourceSpec) -> Source:
    from scanner.sources.local import LocalPathSource

    return LocalPathSource(spec)


def _attestations_source(spec: SourceSpec) -> Source:
    from scanner.sources.attestations import AttestationsSource

    return AttestationsSource(spec)


def _mlflow_source(spec: SourceSpec) -> Source:
    from scanner.sources.mlflow import MlflowSource

    return MlflowSource(spec)


# Each provider module is imported only when used, so a heavy client library loads on demand.
FACTORIES: dict[str, SourceFactory] = {
    "path": _path_source,
    "attestations": _attestations_source,
    "mlflow": _mlflow_source,
}


def parse_spec(
    text: str, *, name: str | None = None, options: Mapping[str, Any] | None = None
) -> SourceSpec:
    kind, sep, target = text.partition(":")
    kind = kind.strip()
    # `aws:` alone is valid (the standard credential chain); path-like kinds need their path.
    if not sep or not kind or (kind in NEEDS_TARGET and not target.strip()):
        raise UsageError(
            f"source spec {text!r} is not KIND:TARGET (e.g. path:./models, "
            f"attestations:./evidence.yaml)"
        )
    return SourceSpec(kind=kind, target=target.strip(), name=name or text, options=options or {})


# The options each source takes (config `sources: [{spec, options}]`); anything else is a typo.
OPTIONS: dict[str, frozenset[str]] = {
    "path": frozenset({"hash_workers"}),
    "attestations": frozenset(),
    "mlflow": frozenset(
        {
            "production_aliases",
            "staging_aliases",
            "tags",
            "page_size",
            "workers",
            "timeout",
            "max_retries",
            "max_files",
        }
    ),
}


def build_source(spec: SourceSpec) -> Source:
    factories = FACTORIES
    if spec.kind in factories:
        unknown = sorted(set(spec.options) - OPTIONS[spec.kind])
        if unknown:
            allowed = ", ".join(sorted(OPTIONS[spec.kind])) or "none"
            raise UsageError(
                f"source {spec.text!r}: unknown option {', '.join(map(repr, unknown))} "
                f"(allowed: {allowed})"
            )
        return factories[spec.kind](spec)
    if spec.kind in PLANNED_KINDS:
        raise NotImplementedYetError(
            f"source {spec.text!r}: the '{spec.kind}' source is not implemented yet in this "
            f"version (available: {', '.join(sorted(factories))})"
        )
    raise UsageError(
        f"source {spec.text!r}: unknown source type '{spec.kind}' "
        f"(available: {', '.join(sorted(factories))})"
    )
