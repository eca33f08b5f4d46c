"""From a source spec string (`path:./models`) to a `Source` object."""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scanner.errors import NotImplementedYetError, UsageError
from scanner.sources.access_logs.options import OPTION_NAMES as ACCESS_LOG_OPTIONS
from scanner.sources.aws.options import OPTION_NAMES as AWS_OPTIONS
from scanner.sources.azure.options import OPTION_NAMES as AZURE_OPTIONS
from scanner.sources.gcs.options import OPTION_NAMES as GCS_OPTIONS
from scanner.sources.interface import Source, SourceSpec
from scanner.sources.logs.options import OPTION_NAMES as LOGS_OPTIONS
from scanner.sources.oci.options import OPTION_NAMES as OCI_OPTIONS
from scanner.sources.oci.options import REGISTRY_ONLY as OCI_REGISTRY_ONLY
from scanner.sources.vertex.options import OPTION_NAMES as VERTEX_OPTIONS

SourceFactory = Callable[[SourceSpec], Source]

# Kinds the design names that later versions add; asking for one is a clear error, not a no-op.
NEEDS_TARGET = (
    "path",
    "attestations",
    "logs",
    "access-logs",
    "mlflow",
    "gcs",
    "vertex",
    "oci",
    "oci-layout",
    "docker-archive",
)
PLANNED_KINDS: tuple[str, ...] = ()
# Kinds whose target is a local path (or, for logs, a glob), resolved against the config file's
# directory, and checked to exist before any source is contacted.
PATH_KINDS = ("path", "attestations", "logs", "oci-layout", "docker-archive")


def _path_source(spec: SourceSpec) -> Source:
    from scanner.sources.local import LocalPathSource

    return LocalPathSource(spec)


def _attestations_source(spec: SourceSpec) -> Source:
    from scanner.sources.attestations import AttestationsSource

    return AttestationsSource(spec)


def _aws_source(spec: SourceSpec) -> Source:
    from scanner.sources.aws.source import AwsSource

    return AwsSource(spec)


def _azure_source(spec: SourceSpec) -> Source:
    from scanner.sources.azure.source import AzureSource

    return AzureSource(spec)


def _gcs_source(spec: SourceSpec) -> Source:
    from scanner.sources.gcs.source import GcsSource

    return GcsSource(spec)


def _vertex_source(spec: SourceSpec) -> Source:
    from scanner.sources.vertex.source import VertexSource

    return VertexSource(spec)


def _oci_source(spec: SourceSpec) -> Source:
    from scanner.sources.oci.source import OciSource

    return OciSource(spec)


def _mlflow_source(spec: SourceSpec) -> Source:
    from scanner.sources.mlflow import MlflowSource

    return MlflowSource(spec)


LOGS_MODULES = ("duckdb", "numpy", "scipy", "threadpoolctl")


def _logs_source(spec: SourceSpec) -> Source:
    require_extra("logs", LOGS_MODULES, f"source {spec.text!r}")
    from scanner.sources.logs.source import LogsSource

    return LogsSource(spec)


# Access logs are read by DuckDB too (the numeric stack of the inference-log analysis is not
# needed); the Athena mode shares the source, and so the requirement.
ACCESS_LOGS_MODULES = ("duckdb",)


def _access_logs_source(spec: SourceSpec) -> Source:
    require_extra("logs", ACCESS_LOGS_MODULES, f"source {spec.text!r}")
    from scanner.sources.access_logs.source import AccessLogsSource

    return AccessLogsSource(spec)


def require_extra(extra: str, modules: tuple[str, ...], what: str) -> None:
    """Optional dependencies missing: a usage error naming the extra, before anything runs."""
    import importlib

    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UsageError(
            f"{what} needs {', '.join(missing)}, which are not installed: "
            f"pip install 'modelward[{extra}]'"
        )


# Each provider module is imported only when used, so a heavy client library loads on demand.
FACTORIES: dict[str, SourceFactory] = {
    "path": _path_source,
    "attestations": _attestations_source,
    "mlflow": _mlflow_source,
    "logs": _logs_source,
    "access-logs": _access_logs_source,
    "aws": _aws_source,
    "azure": _azure_source,
    "gcs": _gcs_source,
    "vertex": _vertex_source,
    "oci": _oci_source,
    "oci-layout": _oci_source,
    "docker-archive": _oci_source,
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
# The providers' own lists come from their options modules, which import no client library
# (boto3, DuckDB): checking a config loads none of them.
OPTIONS: dict[str, frozenset[str]] = {
    "path": frozenset({"hash_workers", "follow_links", "integrity_max_bytes"}),
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
    "logs": LOGS_OPTIONS,
    "access-logs": ACCESS_LOG_OPTIONS,
    "aws": AWS_OPTIONS,
    "azure": AZURE_OPTIONS,
    "gcs": GCS_OPTIONS,
    "vertex": VERTEX_OPTIONS,
    "oci": OCI_OPTIONS,
    "oci-layout": OCI_OPTIONS - OCI_REGISTRY_ONLY,
    "docker-archive": OCI_OPTIONS - OCI_REGISTRY_ONLY,
}


# Options modelward fills itself, never listed to users: `trust` comes from the config's
# `integrity.trust` (scanner/config.py `with_trust`), for every source that verifies
# signatures (a new object-store source adds its kind here).
INTERNAL_OPTIONS: dict[str, frozenset[str]] = {
    kind: frozenset({"trust"})
    for kind in ("path", "aws", "azure", "gcs", "oci", "oci-layout", "docker-archive")
}


def build_source(spec: SourceSpec) -> Source:
    factories = FACTORIES
    if spec.kind in factories:
        internal = INTERNAL_OPTIONS.get(spec.kind, frozenset())
        unknown = sorted(set(spec.options) - OPTIONS[spec.kind] - internal)
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


def is_local_access_logs(spec: SourceSpec) -> bool:
    """`access-logs:` names a local path (or glob) unless it reads S3 or Athena."""
    return spec.kind == "access-logs" and not spec.target.startswith(("s3://", "athena:"))


def check_local_targets(specs: Iterable[SourceSpec]) -> None:
    """A local path that does not exist is a typo, not a source failure: a usage error naming
    it, before any source is contacted (a scan would otherwise read every other source, run
    every policy and bury the cause under the findings it could not evaluate).

    Only "no such file" is caught here; a path that exists but cannot be read is the source's
    to report (exit 3), with the reason.
    """
    for spec in specs:
        if spec.kind not in PATH_KINDS and not is_local_access_logs(spec):
            continue
        target = os.path.expanduser(spec.target)
        if spec.kind in ("logs", "access-logs") and glob.has_magic(target):
            if not any(os.path.isfile(p) for p in glob.iglob(target, recursive=True)):
                raise UsageError(f"source {spec.name!r}: no file matches {spec.target}")
            continue
        try:
            os.stat(target)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise UsageError(
                    f"source {spec.name!r}: {spec.target}: no such file or directory"
                ) from None
