"""Who may sign a model: trusted keys, certificate chains and Sigstore identities.

Configured under `integrity.trust` in `modelward.yaml` (or given on the `verify` command line),
globally and per model. A model that matches one or more `models[].match` globs is verified
against those entries only, never against the global ones: the fraud team's model must be
signed by the fraud team's key, not by any key the organisation trusts. Paths are resolved
against the config file's directory when the config is loaded, and must exist then, so a typo
is a configuration error before any scan starts, not a failed verification later.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TrustConfigError(ValueError):
    """A trust entry names a file that does not exist (reported as a config error)."""


@dataclass(frozen=True)
class KeyTrust:
    path: Path


@dataclass(frozen=True)
class ChainTrust:
    path: Path  # PEM bundle: the root CA and any intermediates, never the system store
    identity: str | None = None  # when set, the signing certificate must name it (SAN or CN)


@dataclass(frozen=True)
class IdentityTrust:
    identity: str
    issuer: str
    trust_root: Path  # a pinned Sigstore trusted_root.json or client trust config: offline


@dataclass(frozen=True)
class TrustSet:
    keys: tuple[KeyTrust, ...] = ()
    chains: tuple[ChainTrust, ...] = ()
    identities: tuple[IdentityTrust, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.keys or self.chains or self.identities)

    def __or__(self, other: TrustSet) -> TrustSet:
        return TrustSet(
            self.keys + other.keys,
            self.chains + other.chains,
            self.identities + other.identities,
        )


@dataclass(frozen=True)
class ModelTrust:
    match: tuple[str, ...]
    trust: TrustSet


@dataclass(frozen=True)
class TrustPolicy:
    default: TrustSet = field(default_factory=TrustSet)
    models: tuple[ModelTrust, ...] = ()

    def for_model(self, *names: str) -> TrustSet:
        """The trust for a model known by these names (relative path, absolute path, URI).

        Globs use fnmatch (`*` also crosses `/`). Every matching entry contributes; with no
        match, the global trust applies.
        """
        matched = TrustSet()
        hit = False
        for entry in self.models:
            if any(fnmatch.fnmatchcase(n, pattern) for n in names for pattern in entry.match):
                matched = matched | entry.trust
                hit = True
        return matched if hit else self.default


def parse_trust(doc: Mapping[str, Any] | None, base: Path, where: str) -> TrustPolicy:
    """`integrity.trust` (already schema-checked) into a TrustPolicy; relative to `base`."""
    if not doc:
        return TrustPolicy()
    models = []
    for i, entry in enumerate(doc.get("models", [])):
        match = entry["match"]
        models.append(
            ModelTrust(
                tuple([match] if isinstance(match, str) else match),
                _trust_set(entry, base, f"{where}.models[{i}]"),
            )
        )
    return TrustPolicy(_trust_set(doc, base, where), tuple(models))


def _trust_set(doc: Mapping[str, Any], base: Path, where: str) -> TrustSet:
    keys = tuple(
        KeyTrust(_file(p, base, f"{where}.keys[{i}]")) for i, p in enumerate(doc.get("keys", []))
    )
    chains = []
    for i, entry in enumerate(doc.get("certificate_chains", [])):
        if isinstance(entry, str):
            entry = {"path": entry}
        chains.append(
            ChainTrust(
                _file(entry["path"], base, f"{where}.certificate_chains[{i}]"),
                entry.get("identity"),
            )
        )
    identities = tuple(
        IdentityTrust(
            e["identity"],
            e["issuer"],
            _file(e["trust_root"], base, f"{where}.identities[{i}].trust_root"),
        )
        for i, e in enumerate(doc.get("identities", []))
    )
    return TrustSet(keys, tuple(chains), identities)


def _file(path: str, base: Path, where: str) -> Path:
    p = Path(os.path.expanduser(path))
    if not p.is_absolute():
        p = base / p
    if not p.is_file():
        raise TrustConfigError(f"{where}: no such file: {p}")
    return p


def from_flags(
    keys: Sequence[str],
    chains: Sequence[str],
    identity: str | None,
    issuer: str | None,
    trust_root: str | None,
    base: Path,
) -> TrustSet:
    """The trust given on the `verify` command line (relative to the current directory)."""
    doc: dict[str, Any] = {"keys": list(keys), "certificate_chains": list(chains)}
    if identity is not None:
        doc["identities"] = [{"identity": identity, "issuer": issuer, "trust_root": trust_root}]
    return _trust_set(doc, base, "command line")
