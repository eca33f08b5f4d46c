"""SageMaker model package groups → `model`, model packages → `model_version`.

Inventory facts (owner, classification, ip_value, retired, watermark, output_mode) of a group
come from the group's tags, else from the CustomerMetadataProperties of its latest package
(highest version); a package's own CustomerMetadataProperties win over the group's values,
key by key — the same "version tag, else the model's" rule the MLflow source follows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.artefacts.signatures.recorded import TAG as SIGNATURE_TAG
from scanner.artefacts.signatures.recorded import recorded_signature
from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact, redact_text, redact_uri
from scanner.sources.aws.sagemaker_calls import Reader, strip_metadata
from scanner.sources.aws.sagemaker_parse import (
    PROVIDER,
    artefact_dirs,
    container_data,
    containers,
    recorded_digest,
    snake,
    tag_map,
    version_stage,
)
from scanner.sources.tags import governance_facts

# Facts a version inherits from its model when its own metadata does not set them.
INHERITED = ("owner", "classification", "ip_value", "output_mode", "retired", "watermarked")
# Booleans that are false when no tag or metadata sets them (the rest are left out then).
FLAGS = ("retired", "watermarked")


@dataclass(frozen=True)
class Served:
    """Model packages some endpoint of the region serves (lower-cased ARNs)."""

    arns: frozenset[str]
    # Set when some endpoint's models could not be read: "not served" cannot be claimed then.
    unknown: Unknown | None = None

    def includes(self, arn: str) -> bool | Unknown:
        if arn.lower() in self.arns:
            return True
        return self.unknown if self.unknown is not None else False


@dataclass(frozen=True)
class Registry:
    resources: tuple[Resource, ...]
    # Package descriptions by lower-cased ARN, for the artefacts of endpoints built from them.
    packages: Mapping[str, Mapping[str, Any] | Unknown]


# What the registry reads before normalising: the groups, for each group its tags and its
# package summaries (each a list, or Unknown), and each package's description by lower ARN.
Read = tuple[
    list[Mapping[str, Any]],
    list[tuple[Any, Any]],
    dict[str, Mapping[str, Any] | Unknown],
]


def collect_registry(reader: Reader, account: str, served: Served, source: str) -> Registry:
    read = _by_search(reader) or _by_listing(reader, account)
    if read is None:
        return Registry((), {})
    groups, parts, descriptions = read
    resources: list[Resource] = []
    for group, (tags, packages) in zip(groups, parts, strict=True):
        arn = _group_arn(group, reader.region, account)
        model = _model(group, arn, tags, packages, descriptions, account, reader.region, source)
        resources.append(model)
        if isinstance(packages, list):
            resources.extend(
                _version(
                    p,
                    model,
                    descriptions[p["ModelPackageArn"].lower()],
                    served,
                    account,
                    reader.region,
                    source,
                )
                for p in packages
            )
    return Registry(tuple(resources), descriptions)


def _by_search(reader: Reader) -> Read | None:
    """Two paginated Search calls (100 records a page) hold every group with its tags and
    every package with its full description: no call per group or per package."""
    groups = reader.search("ModelPackageGroup", "ModelPackageGroupName")
    packages = (
        reader.search("ModelPackage", "ModelPackageArn", "ModelPackageGroupName")
        if groups is not None
        else None
    )
    if groups is None or packages is None:
        return None
    by_group: dict[str, list[Mapping[str, Any]]] = {}
    for package in packages:
        by_group.setdefault(str(package["ModelPackageGroupName"]), []).append(package)
    parts = [
        (list(g.get("Tags") or ()), by_group.get(str(g["ModelPackageGroupName"]), []))
        for g in groups
    ]
    descriptions: dict[str, Mapping[str, Any] | Unknown] = {
        str(p["ModelPackageArn"]).lower(): {k: v for k, v in p.items() if k != "Tags"}
        for members in by_group.values()
        for p in members
    }
    return groups, parts, descriptions


def _by_listing(reader: Reader, account: str) -> Read | None:
    """Without Search: list the groups, then per group its tags and packages, then describe
    each package (the calls a denial can fail one by one)."""
    groups = reader.pages(
        "sagemaker",
        "list_model_package_groups",
        "ModelPackageGroupSummaryList",
        item_key="ModelPackageGroupName",
    )
    if not isinstance(groups, list):
        return None

    def group_parts(group: Mapping[str, Any]) -> tuple[Any, Any]:
        tags = reader.pages(
            "sagemaker", "list_tags", "Tags", ResourceArn=_group_arn(group, reader.region, account)
        )
        packages = reader.pages(
            "sagemaker",
            "list_model_packages",
            "ModelPackageSummaryList",
            item_key="ModelPackageArn",
            ModelPackageGroupName=group["ModelPackageGroupName"],
        )
        return tags, packages

    parts = reader.map(group_parts, groups)
    summaries = [p for _, packages in parts if isinstance(packages, list) for p in packages]

    def describe(summary: Mapping[str, Any]) -> Mapping[str, Any] | Unknown:
        answer = reader.call(
            "sagemaker", "describe_model_package", ModelPackageName=summary["ModelPackageArn"]
        )
        if isinstance(answer, dict):
            return strip_metadata(answer)
        return answer if isinstance(answer, Unknown) else Unknown("no answer")

    descriptions = dict(
        zip(
            (s["ModelPackageArn"].lower() for s in summaries),
            reader.map(describe, summaries),
            strict=True,
        )
    )
    return groups, parts, descriptions


def _group_arn(group: Mapping[str, Any], region: str, account: str) -> str:
    arn = group.get("ModelPackageGroupArn")
    if isinstance(arn, str) and arn:
        return arn
    return (
        f"arn:aws:sagemaker:{region}:{account}:model-package-group/{group['ModelPackageGroupName']}"
    )


def _model(
    group: Mapping[str, Any],
    arn: str,
    tags: list[Any] | Unknown | None,
    packages: list[Mapping[str, Any]] | Unknown | None,
    descriptions: Mapping[str, Mapping[str, Any] | Unknown],
    account: str,
    region: str,
    source: str,
) -> Resource:
    attributes: dict[str, Any] = {"provider": PROVIDER, "account": account, "region": region}
    if group.get("ModelPackageGroupDescription"):
        attributes["description"] = redact_text(str(group["ModelPackageGroupDescription"]))
    if group.get("ModelPackageGroupStatus"):
        attributes["status"] = snake(str(group["ModelPackageGroupStatus"]))
    tag_values = tag_map(tags) if isinstance(tags, list) else {}
    attributes["tags"] = (
        redact(tag_values, mask_keys=True) if isinstance(tags, list) else _unknown(tags)
    )
    if isinstance(packages, list):
        attributes["version_count"] = len(packages)
        latest = max(packages, key=lambda p: p.get("ModelPackageVersion") or 0, default=None)
        latest_description = (
            descriptions[latest["ModelPackageArn"].lower()] if latest is not None else {}
        )
    else:
        attributes["version_count"] = _unknown(packages)
        latest_description = _unknown(packages)
    tag_facts = governance_facts(tag_values)
    meta_facts = (
        governance_facts(_metadata(latest_description))
        if isinstance(latest_description, Mapping)
        else {}
    )
    # authorized_deployments is not among them: an authorisation belongs to one version.
    for key in INHERITED:
        if not isinstance(tags, list):
            attributes[key] = _unknown(tags)
        elif key in tag_facts:
            attributes[key] = tag_facts[key]
        elif isinstance(latest_description, Unknown):
            attributes[key] = latest_description
        elif key in meta_facts:
            attributes[key] = meta_facts[key]
        elif key in FLAGS:
            attributes[key] = False
    if isinstance(attributes.get("owner"), str):
        attributes["owner"] = redact_text(attributes["owner"])
    return Resource(
        id=arn,
        type="model",
        name=str(group["ModelPackageGroupName"]),
        source=source,
        attributes=attributes,
        raw=redact({"group": strip_metadata(dict(group)), "tags": tag_values}, mask_keys=True),
    )


def _version(
    summary: Mapping[str, Any],
    model: Resource,
    description: Mapping[str, Any] | Unknown,
    served: Served,
    account: str,
    region: str,
    source: str,
) -> Resource:
    arn = str(summary["ModelPackageArn"])
    version = str(summary.get("ModelPackageVersion", arn.rsplit("/", 1)[-1]))
    approval = str(summary.get("ModelApprovalStatus", ""))
    attributes: dict[str, Any] = {
        "provider": PROVIDER,
        "account": account,
        "region": region,
        "model": Ref(model.id),
        "version": version,
        "approval_status": snake(approval) if approval else "none",
    }
    if summary.get("ModelPackageStatus"):
        attributes["status"] = snake(str(summary["ModelPackageStatus"]))
    if isinstance(description, Unknown):
        for key in (
            "source_uri",
            "artefact",
            "provenance",
            "recorded_digest",
            "metadata",
            "authorized_deployments",
            *INHERITED,
        ):
            attributes[key] = description
    else:
        attributes.update(_described(description, model))
    retired = attributes.get("retired", Unknown("retirement not recorded"))
    attributes["stage"] = version_stage(approval, served.includes(arn), retired)
    return Resource(
        id=arn,
        type="model_version",
        name=f"{model.name}/{version}",
        source=source,
        attributes=attributes,
        raw=redact(
            dict(description) if isinstance(description, Mapping) else dict(summary),
            mask_keys=True,
        ),
    )


def _described(description: Mapping[str, Any], model: Resource) -> dict[str, Any]:
    out: dict[str, Any] = {}
    props = _metadata(description)
    out["metadata"] = redact(dict(props), mask_keys=True)
    facts = governance_facts(props)
    for key in INHERITED:
        if key in facts:
            out[key] = facts[key]
        elif key in model.attributes:
            out[key] = model.attributes[key]
    if "authorized_deployments" in facts:
        out["authorized_deployments"] = facts["authorized_deployments"]
    if isinstance(out.get("owner"), str):
        out["owner"] = redact_text(out["owner"])
    for container in containers(description):
        data = container_data(container)
        if data is not None:
            out["source_uri"] = redact_uri(data[0])
            break
    dirs = artefact_dirs(description)
    if dirs:
        out["artefact"] = Ref(dirs[0])
        pointer = recorded_signature(
            props.get(SIGNATURE_TAG), dirs[0], f"CustomerMetadataProperties.{SIGNATURE_TAG}"
        ) or recorded_signature(
            _card_details(description).get(SIGNATURE_TAG),
            dirs[0],
            f"ModelCard additional_information.custom_details.{SIGNATURE_TAG}",
        )
        if pointer is not None:
            out["recorded_signature"] = pointer
    digest = recorded_digest(props, description)
    if digest is not None:
        out["recorded_digest"] = digest
    out["provenance"] = _provenance(description)
    return out


def _provenance(description: Mapping[str, Any]) -> dict[str, Any]:
    meta = description.get("MetadataProperties") or {}
    provenance: dict[str, Any] = {}
    code = {}
    if meta.get("Repository"):
        code["repo"] = redact_uri(str(meta["Repository"]))
    if meta.get("CommitId"):
        code["commit"] = str(meta["CommitId"])
    if code:
        provenance["code"] = code
    created_by = meta.get("GeneratedBy")
    if not created_by:
        creator = description.get("CreatedBy") or {}
        created_by = creator.get("UserProfileName") or (creator.get("IamIdentity") or {}).get("Arn")
    if created_by:
        provenance["created_by"] = redact_text(str(created_by))
    created = description.get("CreationTime")
    if isinstance(created, dt.datetime):
        created = created.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if created:
        provenance["created_at"] = str(created)
    if meta.get("ProjectId"):
        provenance["project"] = str(meta["ProjectId"])
    return provenance


def _metadata(description: Mapping[str, Any]) -> Mapping[str, Any]:
    props = description.get("CustomerMetadataProperties")
    return props if isinstance(props, Mapping) else {}


def _card_details(description: Mapping[str, Any]) -> Mapping[str, Any]:
    """The custom details of the package's model card: the free-form string map of the model
    card schema (`additional_information.custom_details`), where teams that document a version
    in its card keep the signature's location. A card that is absent, not JSON or not shaped
    like the schema records nothing (the signature is then looked for beside the files)."""
    card = description.get("ModelCard")
    content = card.get("ModelCardContent") if isinstance(card, Mapping) else None
    if not isinstance(content, str):
        return {}
    try:
        doc = json.loads(content)
    except ValueError:
        return {}
    info = doc.get("additional_information") if isinstance(doc, dict) else None
    details = info.get("custom_details") if isinstance(info, dict) else None
    return details if isinstance(details, dict) else {}


def _unknown(value: Any) -> Unknown:
    return value if isinstance(value, Unknown) else Unknown("no answer")
