"""`modelward.yaml`: the settings a team commits next to its pipeline; flags override them.

Relative paths in the file are taken relative to the file itself, so `-c ci/modelward.yaml`
means the same thing from any working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import schemas
from scanner.artefacts.signatures.trust import TrustConfigError, TrustPolicy, parse_trust
from scanner.errors import InputFileError
from scanner.sources.interface import SourceSpec
from scanner.sources.registry import (
    INTERNAL_OPTIONS,
    PATH_KINDS,
    is_local_access_logs,
    parse_spec,
)
from scanner.yamlpos import display_path, load_yaml_file

DEFAULT_CONFIG = "modelward.yaml"


class ConfigError(InputFileError):
    """The configuration file is malformed or invalid (exit 2)."""


@dataclass(frozen=True)
class Config:
    file: str | None = None
    sources: tuple[SourceSpec, ...] = ()
    builtin_policies: bool = True
    policy_dirs: tuple[Path, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    frameworks: tuple[str, ...] = ()
    framework_files: tuple[Path, ...] = ()
    builtin_frameworks: bool = True
    output_dir: Path | None = None
    formats: tuple[str, ...] = ()
    fail_on: str | None = None
    allow_partial: bool | None = None
    hard_fail_on: tuple[str, ...] | None = None
    soft_fail_on: tuple[str, ...] | None = None
    soft_fail: bool | None = None
    waivers: Path | None = None
    waiver_max_days: int | None = None
    baseline: Path | None = None
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    bom_with_findings: bool = False
    timeout: float | None = None


def with_trust(spec: SourceSpec, trust: TrustPolicy) -> SourceSpec:
    """Hand `integrity.trust` to the sources that verify signatures (as their `trust` option).

    Trust is configuration of the scan, not of one source, but it reaches the source the way
    every other setting does, so the Source interface stays `spec -> collect()`.
    """
    if "trust" not in INTERNAL_OPTIONS.get(spec.kind, ()) or "trust" in spec.options:
        return spec
    options = {**spec.options, "trust": trust}
    return SourceSpec(kind=spec.kind, target=spec.target, name=spec.name, options=options)


def resolve_source(spec: SourceSpec, base: Path) -> SourceSpec:
    target = spec.target
    if spec.kind in PATH_KINDS and not os.path.isabs(os.path.expanduser(target)):
        target = str(base / os.path.expanduser(target))
    elif spec.kind == "mlflow":
        target = _resolve_mlflow_store(target, base)
    elif is_local_access_logs(spec) and not os.path.isabs(os.path.expanduser(target)):
        target = str(base / os.path.expanduser(target))
    if target == spec.target:
        return spec
    return SourceSpec(kind=spec.kind, target=target, name=spec.name, options=spec.options)


def _resolve_mlflow_store(target: str, base: Path) -> str:
    """A local MLflow store (`./mlruns`, `sqlite:///rel/mlflow.db`) is a path like any other."""
    if target.lower().startswith("sqlite:///"):
        path = os.path.expanduser(target[len("sqlite:///") :])
        return target if os.path.isabs(path) else f"sqlite:///{base / path}"
    if "://" in target or os.path.isabs(os.path.expanduser(target)):
        return target
    return str(base / os.path.expanduser(target))


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read the given file, or ./modelward.yaml when present, or return the defaults."""
    explicit = path is not None
    file = Path(path) if path is not None else Path(DEFAULT_CONFIG)
    if not explicit and not file.exists():
        return Config()
    try:
        loaded = load_yaml_file(file, what="config file")
    except InputFileError as exc:
        raise ConfigError(exc.message, details=exc.details) from None
    if loaded.data is None:
        return Config(file=display_path(file))
    if not isinstance(loaded.data, Mapping):
        raise ConfigError(loaded.error_line((), "the config file must be a mapping"))
    try:
        schemas.check(loaded, "config.schema.json", "config file")
    except InputFileError as exc:
        raise ConfigError(exc.message, details=exc.details) from None
    doc = loaded.data
    base = file.resolve().parent

    def rel(p: str) -> Path:
        expanded = Path(os.path.expanduser(p))
        return expanded if expanded.is_absolute() else base / expanded

    try:
        trust = parse_trust(doc.get("integrity", {}).get("trust"), base, "integrity.trust")
    except TrustConfigError as exc:
        raise ConfigError(f"{loaded.path}: {exc}") from None
    sources = []
    for entry in doc.get("sources", []):
        if isinstance(entry, str):
            spec = parse_spec(entry)
        else:
            spec = parse_spec(entry["spec"], name=entry.get("name"), options=entry.get("options"))
        sources.append(with_trust(resolve_source(spec, base), trust))
    pol = doc.get("policies", {})
    fw = doc.get("frameworks", {})
    out = doc.get("output", {})
    gate = doc.get("gate", {})
    bom = doc.get("bom", {})
    return Config(
        file=loaded.path,
        sources=tuple(sources),
        builtin_policies=pol.get("builtin", True),
        policy_dirs=tuple(rel(d) for d in pol.get("dirs", [])),
        include=tuple(pol.get("include", [])),
        exclude=tuple(pol.get("exclude", [])),
        params={k: dict(v) for k, v in doc.get("params", {}).items()},
        frameworks=tuple(fw.get("select", [])),
        framework_files=tuple(rel(f) for f in fw.get("files", [])),
        builtin_frameworks=fw.get("builtin", True),
        output_dir=rel(out["dir"]) if "dir" in out else None,
        formats=tuple(out.get("formats", [])),
        fail_on=gate.get("fail_on"),
        allow_partial=gate.get("allow_partial"),
        hard_fail_on=tuple(gate["hard_fail_on"]) if "hard_fail_on" in gate else None,
        soft_fail_on=tuple(gate["soft_fail_on"]) if "soft_fail_on" in gate else None,
        soft_fail=gate.get("soft_fail"),
        waivers=rel(gate["waivers"]) if "waivers" in gate else None,
        waiver_max_days=gate.get("waiver_max_days"),
        baseline=rel(gate["baseline"]) if "baseline" in gate else None,
        trust=trust,
        bom_with_findings=bom.get("with_findings", False),
        timeout=float(doc["timeout"]) if "timeout" in doc else None,
    )
