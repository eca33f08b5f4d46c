"""The SPDX 3.0.1 AI and Dataset profiles' conformance rules, checked on the built objects.

The SHACL model checks each class's own properties; what a profile adds (properties a
package must have although its class makes them optional, and exactly one concluded and one
declared licence relationship) is written in the profiles' pages of the specification, and
checked here so that a document claims a profile only when it meets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spdx_python_model import v3_0_1 as spdx

AI_REQUIRED: tuple[str, ...] = (
    "suppliedBy",
    "releaseTime",
    "software_downloadLocation",
    "software_packageVersion",
    "software_primaryPurpose",
)
DATASET_REQUIRED = (
    "originatedBy",
    "builtTime",
    "releaseTime",
    "software_downloadLocation",
    "software_primaryPurpose",
    "dataset_datasetType",
)
LICENCE_RELATIONSHIPS = ("hasConcludedLicense", "hasDeclaredLicense")


@dataclass(frozen=True)
class Gap:
    profile: str  # "ai" or "dataset"
    name: str  # the package's name
    missing: tuple[str, ...]


def profile_gaps(objects: Iterable[Any]) -> dict[str, Gap]:
    """What each AI or dataset package lacks for its profile, by spdxId.

    The AI profile: suppliedBy, releaseTime, downloadLocation, packageVersion, primaryPurpose,
    and exactly one concluded and one declared licence relationship. The Dataset profile:
    originatedBy (exactly one), builtTime, releaseTime, downloadLocation, primaryPurpose,
    datasetType, and the same licence relationships.
    """
    objects = list(objects)
    licences: dict[str, dict[str, int]] = {}
    for o in objects:
        if isinstance(o, spdx.Relationship):
            kind = _relationship_name(o.relationshipType or "")
            if kind in LICENCE_RELATIONSHIPS and o.from_ is not None:
                # `_id` is the element's id in spdx-python-model, which declares no type for it
                source = o.from_ if isinstance(o.from_, str) else o.from_._id  # type: ignore[attr-defined]
                counts = licences.setdefault(source, {})
                counts[kind] = counts.get(kind, 0) + 1
    gaps: dict[str, Gap] = {}
    for o in objects:
        if isinstance(o, spdx.ai_AIPackage):
            profile, required = "ai", AI_REQUIRED
        elif isinstance(o, spdx.dataset_DatasetPackage):
            profile, required = "dataset", DATASET_REQUIRED
        else:
            continue
        missing = [_short(p) for p in required if not _has(o, p)]
        if isinstance(o, spdx.dataset_DatasetPackage) and len(o.originatedBy) > 1:
            missing.append("a single originatedBy")
        counts = licences.get(o._id, {})
        missing += [
            f"exactly one {k} relationship" for k in LICENCE_RELATIONSHIPS if counts.get(k) != 1
        ]
        if missing:
            gaps[o._id] = Gap(profile, o.name, tuple(missing))
    return gaps


def _has(obj: Any, name: str) -> bool:
    value = getattr(obj, name)
    if value is None:
        return False
    try:
        return len(value) > 0
    except TypeError:
        return True


def _short(name: str) -> str:
    return name.removeprefix("software_").removeprefix("dataset_")


def _relationship_name(value: str) -> str:
    return value.rsplit("/", 1)[-1]
