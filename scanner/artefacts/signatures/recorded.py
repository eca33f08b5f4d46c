"""Where a registry says a model's signature is: a pointer kept with the model version.

Teams record the signature of a version in the registry itself: an MLflow version tag
`signature`, a SageMaker model package's `CustomerMetadataProperties.signature` (or its model
card's `additional_information.custom_details.signature`). The value is a URI
(`s3://bucket/sigs/fraud-3.sig`) or a path relative to the version's files (`model.sig`,
`../model.sig`). Registry sources report it as `recorded_signature {uri,
source}` on the version; a source that reads the store it points into reads the signature
from there (`scanner.sources.objectstore`).
"""

from __future__ import annotations

import posixpath
from typing import Any

from scanner.redact import redact_uri

TAG = "signature"


def resolve(value: str, base: str) -> str | None:
    """The absolute URI of a recorded signature, `value` relative to the version's files at
    `base` (a directory URI) unless it has a scheme of its own; None when empty or unusable."""
    text = value.strip()
    if not text:
        return None
    if "://" in text:
        return text
    scheme, sep, rest = base.partition("://")
    if not sep:
        return None
    container = rest.split("/", 1)[0]
    joined = posixpath.normpath(posixpath.join("/" + rest.rstrip("/"), text)).lstrip("/")
    if not joined.startswith(f"{container}/"):
        return None  # a relative path never leaves the bucket (or host) the files are in
    return f"{scheme}://{joined}"


def recorded_signature(value: Any, base: str, source: str) -> dict[str, str] | None:
    """`recorded_signature` for a model version, or None when nothing usable is recorded."""
    if not isinstance(value, str):
        return None
    uri = resolve(value, base)
    return None if uri is None else {"uri": redact_uri(uri), "source": source}
