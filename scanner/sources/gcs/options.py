"""`gcs:` spec and options: `gcs:project=ID[,buckets=a+b][,org_domains=example.com]`.

Imports no Google library: the registry reads `OPTION_NAMES` when it checks a config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.sources.gcp.options import project_id
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import merged_options, positive, take_trust, text_list

EXAMPLE = "gcs:project=my-project,buckets=models+checkpoints"
DEFAULT_WORKERS = 16
DEFAULT_MAX_OBJECTS = 1000
DEFAULT_SNIFF_BYTES = 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_INTEGRITY_MAX_BYTES = 64 * 1024 * 1024

OPTION_NAMES = frozenset(
    {
        "project",
        "buckets",
        "org_domains",
        "workers",
        "max_objects_per_bucket",
        "sniff_bytes",
        "max_attempts",
        "integrity_max_bytes",
    }
)
# Bucket names: 3-63 characters (up to 222 with dots), lower-case letters, digits, -, _ and .
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_DOMAIN = re.compile(r"^([a-z0-9-]+\.)+[a-z]{2,}$")


@dataclass(frozen=True)
class GcsOptions:
    project: str
    buckets: tuple[str, ...] | None = None  # None: every bucket of the project
    # The organisation's own domains: users, groups and domains outside them are external.
    org_domains: tuple[str, ...] | None = None
    workers: int = DEFAULT_WORKERS
    max_objects_per_bucket: int = DEFAULT_MAX_OBJECTS
    sniff_bytes: int = DEFAULT_SNIFF_BYTES
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    integrity_max_bytes: int = DEFAULT_INTEGRITY_MAX_BYTES
    # Who may sign the models in the buckets: the config's `integrity.trust`, handed over by
    # the config loader (never a user option of the source itself).
    trust: TrustPolicy = field(default_factory=TrustPolicy)


def parse_options(spec: SourceSpec) -> GcsOptions:
    spec, trust = take_trust(spec)
    merged = merged_options(spec, OPTION_NAMES, EXAMPLE)
    kw: dict[str, object] = {"project": project_id(spec, merged, EXAMPLE), "trust": trust}
    if "buckets" in merged:
        buckets = text_list(spec, "buckets", merged["buckets"])
        bad = [b for b in buckets if not _BUCKET.match(b)]
        if bad:
            raise UsageError(f"source {spec.text!r}: {bad[0]!r} is not a Cloud Storage bucket name")
        kw["buckets"] = buckets
    if "org_domains" in merged:
        domains = tuple(d.lower() for d in text_list(spec, "org_domains", merged["org_domains"]))
        bad = [d for d in domains if not _DOMAIN.match(d)]
        if bad:
            raise UsageError(f"source {spec.text!r}: {bad[0]!r} is not a domain name")
        kw["org_domains"] = domains
    for key in (
        "workers",
        "max_objects_per_bucket",
        "sniff_bytes",
        "max_attempts",
        "integrity_max_bytes",
    ):
        if key in merged:
            kw[key] = positive(spec, key, merged[key])
    return GcsOptions(**kw)  # type: ignore[arg-type]
