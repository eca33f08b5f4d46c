"""Options of the image sources (`oci:`, `oci-layout:`, `docker-archive:`), from config only.

The target of an image source is a reference or a path, so its settings come from the config
entry's `options:` mapping. This module imports no HTTP or compression library: checking a
config loads neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import flag, positive, refuse_unknown, text_list

# Unpacked layer bytes read per image. Weights-in-image builds are commonly several GiB; past
# the budget the remaining layers are not read and the image says so (Unknown, never a pass).
DEFAULT_MAX_IMAGE_BYTES = 8 * 1024**3
DEFAULT_SNIFF_BYTES = 1024 * 1024
# Per image: pickle-based (and other code-carrying) model files up to this total are kept on
# disk while the layer streams, and scanned whole (the same default as the aws: source).
DEFAULT_INTEGRITY_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_REPOSITORIES = 1000
DEFAULT_MAX_TAGS = 100
DEFAULT_MAX_ENTRIES = 1_000_000
DEFAULT_TIMEOUT = 30
DEFAULT_WORKERS = 4
# Language runtimes ship test data that is pickles and NumPy object arrays (numpy, scipy,
# matplotlib, lib2to3's grammar pickles) which no model server loads: in every Python image they
# would drown the models. `exclude: []` reads every file.
DEFAULT_EXCLUDE = (
    "usr/lib/python*/*",
    "usr/local/lib/python*/*",
    "*/site-packages/*",
    "*/dist-packages/*",
    "usr/share/*",
)

OPTION_NAMES = frozenset(
    {
        "max_image_bytes",
        "sniff_bytes",
        "integrity_max_bytes",
        "max_repositories",
        "max_tags",
        "max_entries",
        "platforms",
        "exclude",
        "plain_http",
        "ca_bundle",
        "docker_config",
        "timeout",
        "workers",
    }
)
# The options that only make sense against a registry.
REGISTRY_ONLY = frozenset(
    {"max_repositories", "max_tags", "plain_http", "ca_bundle", "docker_config", "timeout"}
)


@dataclass(frozen=True)
class OciOptions:
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    sniff_bytes: int = DEFAULT_SNIFF_BYTES
    integrity_max_bytes: int = DEFAULT_INTEGRITY_MAX_BYTES
    max_repositories: int = DEFAULT_MAX_REPOSITORIES
    max_tags: int = DEFAULT_MAX_TAGS
    max_entries: int = DEFAULT_MAX_ENTRIES
    platforms: tuple[str, ...] = ()  # `os/arch[/variant]`; empty: every platform of an index
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    plain_http: bool | None = None  # None: plain HTTP for loopback registries only (as docker)
    ca_bundle: str | None = None
    docker_config: str | None = None
    timeout: int = DEFAULT_TIMEOUT
    workers: int = DEFAULT_WORKERS


def parse_options(spec: SourceSpec) -> OciOptions:
    given: Mapping[str, Any] = spec.options
    # `trust` is the config's integrity.trust, handed over by the config loader.
    allowed = OPTION_NAMES if spec.kind == "oci" else OPTION_NAMES - REGISTRY_ONLY
    refuse_unknown(spec, set(given) - {"trust"}, allowed)
    kw: dict[str, Any] = {}
    for key in (
        "max_image_bytes",
        "sniff_bytes",
        "integrity_max_bytes",
        "max_repositories",
        "max_tags",
        "max_entries",
        "timeout",
        "workers",
    ):
        if key in given:
            kw[key] = positive(spec, key, given[key])
    if "platforms" in given:
        kw["platforms"] = _paths(spec, "platforms", given["platforms"])
        bad = [p for p in kw["platforms"] if not 2 <= len(p.split("/")) <= 3]
        if bad:
            raise UsageError(
                f"source {spec.text!r}: platform {bad[0]!r} is not OS/ARCH[/VARIANT] "
                "(e.g. linux/amd64)"
            )
    if "exclude" in given:
        kw["exclude"] = _paths(spec, "exclude", given["exclude"], allow_empty=True)
    if "plain_http" in given:
        kw["plain_http"] = flag(spec, "plain_http", given["plain_http"])
    for key in ("ca_bundle", "docker_config"):
        if key in given:
            value = given[key]
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"source {spec.text!r}: {key} must be a path")
            path = os.path.expanduser(value.strip())
            if not os.path.isfile(path):
                raise UsageError(f"source {spec.text!r}: {key}: no such file: {path}")
            kw[key] = path
    return OciOptions(**kw)


def _paths(spec: SourceSpec, key: str, value: Any, allow_empty: bool = False) -> tuple[str, ...]:
    # Paths inside an image are relative to its root: `/usr/share/*` means `usr/share/*`.
    items = text_list(spec, key, value, allow_empty=allow_empty)
    return tuple(dict.fromkeys(i.lstrip("/") for i in items))
