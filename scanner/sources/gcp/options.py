"""What the Google Cloud specs share beyond `sources.spec_options`: the project id.

Imports no Google library, so checking a config loads none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import text

# Project ids: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter
# (domain-scoped ids, `example.com:proj`, keep their prefix).
PROJECT_ID = re.compile(r"^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def project_id(spec: SourceSpec, merged: Mapping[str, Any], example: str) -> str:
    value = merged.get("project")
    if value is None:
        raise UsageError(f"source {spec.text!r}: project=ID is required (e.g. {example})")
    project = text(spec, "project", value)
    if not PROJECT_ID.match(project):
        raise UsageError(
            f"source {spec.text!r}: {project!r} is not a Google Cloud project id "
            "(6-30 lower-case letters, digits and hyphens, starting with a letter)"
        )
    return project
