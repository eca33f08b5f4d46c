"""The governance vocabulary: what a model's tags, metadata or labels say about it.

Registries and stores let their users attach key/value pairs to a model (MLflow tags,
SageMaker CustomerMetadataProperties and resource tags, Azure blob and resource metadata,
Vertex AI and Cloud Storage labels). modelward reads the same seven keys from all of them and
turns each into the same attribute, so a policy on `retired` or `ip_value` means one thing
whichever provider the model lives in:

| key | attribute | reading |
|---|---|---|
| `owner` | `owner` | the text, trimmed (case kept) |
| `classification`, `ip_value`, `output_mode` | the same | trimmed, lower-cased |
| `authorized_deployments` | the same | a list, split on the dialect's separator |
| `retired` | `retired` | true for `true`, `yes`, `y`, `on`, `1` (any case); false otherwise |
| `watermark` | `watermarked` | false for empty, `false`, `no`, `none`, `off`, `0`; true otherwise |

A key that is not set gives no attribute here: each source decides what "not set" means for
it (MLflow and SageMaker report `retired` and `watermarked` false when no layer sets them).

Providers differ in what a key or value may contain, which is what a `Dialect` holds:
- tags and metadata (MLflow, SageMaker, AWS tags): keys matched exactly, lists comma-separated;
- Azure metadata: names are case-insensitive (the Blob service keeps the case they were
  written in but matches any), so keys are matched ignoring case; values are HTTP header
  values, so lists are comma-separated;
- GCP labels (Vertex AI, Cloud Storage): keys and values hold only lower-case letters, digits,
  `_` and `-` (at most 63 characters), so a comma cannot appear: lists are separated by a
  double underscore (`authorized_deployments: fraud-prod__fraud-shadow`). A single `_` or `-`
  would split names that contain one; endpoint names of the clouds modelward reads (SageMaker,
  Vertex AI endpoint ids, Azure ML) contain no `__`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OWNER = "owner"
CLASSIFICATION = "classification"
IP_VALUE = "ip_value"
AUTHORIZED_DEPLOYMENTS = "authorized_deployments"
RETIRED = "retired"
OUTPUT_MODE = "output_mode"
WATERMARK = "watermark"

# The vocabulary's keys, each read under the key of the same name unless a source is told
# otherwise (the MLflow source's `tags` option renames them).
FIELDS = (OWNER, CLASSIFICATION, IP_VALUE, AUTHORIZED_DEPLOYMENTS, RETIRED, OUTPUT_MODE, WATERMARK)
DEFAULT_KEYS: Mapping[str, str] = {name: name for name in FIELDS}
# The attribute each key fills, where the two differ.
ATTRIBUTES: Mapping[str, str] = {**DEFAULT_KEYS, WATERMARK: "watermarked"}

TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1"})
NOT_WATERMARKED = frozenset({"", "false", "no", "none", "off", "0"})
_LOWER_CASED = (CLASSIFICATION, IP_VALUE, OUTPUT_MODE)


@dataclass(frozen=True)
class Dialect:
    """How one kind of provider metadata spells keys and lists."""

    name: str
    list_separator: str = ","
    keys_ignore_case: bool = False


TAGS = Dialect("tags")
AZURE_METADATA = Dialect("azure metadata", keys_ignore_case=True)
GCP_LABELS = Dialect("gcp labels", list_separator="__")


def is_true(value: str | None) -> bool:
    """A flag's value read as true (`retired`, and flags such as the IAM just-in-time tag)."""
    return value is not None and value.strip().lower() in TRUE_WORDS


def is_watermarked(value: str) -> bool:
    """A watermark key names the scheme or the mark; only an explicit no-word says none."""
    return value.strip().lower() not in NOT_WATERMARKED


def split_list(value: str, dialect: Dialect = TAGS) -> list[str]:
    return [part.strip() for part in value.split(dialect.list_separator) if part.strip()]


def layered(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """One map from several, the first layer that has a key winning (version tags before the
    model's): a key set in a specific layer overrides the general one, even when empty."""
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged.update(layer)
    return merged


def governance_facts(
    values: Mapping[str, Any],
    *,
    dialect: Dialect = TAGS,
    keys: Mapping[str, str] = DEFAULT_KEYS,
) -> dict[str, Any]:
    """The vocabulary's attributes from one provider key/value map; `keys` maps each field to
    the key it is read from. Values that are not strings are not ours to read and are
    skipped; `owner`, `classification`, `ip_value` and `output_mode` are left out when blank."""
    lookup = _lookup(values, dialect)
    facts: dict[str, Any] = {}
    for field in (OWNER, CLASSIFICATION, IP_VALUE, OUTPUT_MODE):
        value = lookup(keys[field])
        if value is not None and value.strip():
            facts[field] = value.strip().lower() if field in _LOWER_CASED else value.strip()
    deployments = lookup(keys[AUTHORIZED_DEPLOYMENTS])
    if deployments is not None:
        facts[AUTHORIZED_DEPLOYMENTS] = split_list(deployments, dialect)
    retired = lookup(keys[RETIRED])
    if retired is not None:
        facts[ATTRIBUTES[RETIRED]] = is_true(retired)
    mark = lookup(keys[WATERMARK])
    if mark is not None:
        facts[ATTRIBUTES[WATERMARK]] = is_watermarked(mark)
    return facts


def _lookup(values: Mapping[str, Any], dialect: Dialect) -> Callable[[str], str | None]:
    if dialect.keys_ignore_case:
        folded: dict[str, Any] = {}
        for key, value in values.items():
            folded.setdefault(str(key).casefold(), value)

        def get(key: str) -> str | None:
            value = folded.get(key.casefold())
            return value if isinstance(value, str) else None

        return get

    def exact(key: str) -> str | None:
        value = values.get(key)
        return value if isinstance(value, str) else None

    return exact
