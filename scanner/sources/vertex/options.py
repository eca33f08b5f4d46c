"""`vertex:` spec and options: `vertex:project=ID,location=REGION`.

Imports no Google library: the registry reads `OPTION_NAMES` when it checks a config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.errors import UsageError
from scanner.sources.gcp.options import project_id
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import merged_options, positive, text, text_list

EXAMPLE = "vertex:project=my-project,location=europe-west4"
DEFAULT_WORKERS = 8
DEFAULT_MAX_ATTEMPTS = 8
# The aliases that make a version production or staging (the MLflow source's defaults).
DEFAULT_PRODUCTION_ALIASES = ("production", "champion")
DEFAULT_STAGING_ALIASES = ("staging", "challenger")

OPTION_NAMES = frozenset(
    {"project", "location", "production_aliases", "staging_aliases", "workers", "max_attempts"}
)
_LOCATION = re.compile(r"^[a-z]+(-[a-z]+)+\d+$")


@dataclass(frozen=True)
class VertexOptions:
    project: str
    location: str
    production_aliases: tuple[str, ...] = DEFAULT_PRODUCTION_ALIASES
    staging_aliases: tuple[str, ...] = DEFAULT_STAGING_ALIASES
    workers: int = DEFAULT_WORKERS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def parse_options(spec: SourceSpec) -> VertexOptions:
    merged = merged_options(spec, OPTION_NAMES, EXAMPLE)
    project = project_id(spec, merged, EXAMPLE)
    if "location" not in merged:
        raise UsageError(f"source {spec.text!r}: location=REGION is required (e.g. {EXAMPLE})")
    location = text(spec, "location", merged["location"])
    if not _LOCATION.match(location):
        raise UsageError(
            f"source {spec.text!r}: {location!r} is not a Vertex AI region (e.g. us-central1)"
        )
    kw: dict[str, object] = {"project": project, "location": location}
    for key in ("production_aliases", "staging_aliases"):
        if key in merged:
            kw[key] = text_list(spec, key, merged[key])
    for key in ("workers", "max_attempts"):
        if key in merged:
            kw[key] = positive(spec, key, merged[key])
    return VertexOptions(**kw)  # type: ignore[arg-type]
