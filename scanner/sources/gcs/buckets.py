"""One bucket's settings, IAM policy, ACLs and listing, read through google-cloud-storage.

Settings come from the bucket resource itself (one `buckets.list` page holds many): uniform
bucket-level access, public access prevention, the default KMS key, versioning, the retention
policy and its lock, soft delete, usage logging, labels. The bucket's IAM policy is one
`getIamPolicy` (policy version 3, so conditions are seen). ACLs matter only while uniform
bucket-level access is off: then the default object ACL and each model object's ACL are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.gcp.calls import Calls, MalformedAnswer
from scanner.sources.gcs.members import from_acl_entity
from scanner.sources.gcs.policies import Policy, parse_policy
from scanner.sources.gcs.reader import GcsReader
from scanner.sources.objectstore import Listing, StoreContents, StoredObject

READ_ROLES = frozenset({"READER", "OWNER"})


@dataclass
class BucketFacts:
    name: str
    project: str
    location: str | Unknown = ""
    project_number: str | None = None
    settings: dict[str, Any] | Unknown = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    iam: Policy | Unknown = field(default_factory=lambda: Unknown("not read"))
    # Readers by ACL (only while uniform bucket-level access is off): member -> where granted.
    acl_readers: dict[str, list[str]] | Unknown = field(default_factory=dict)
    contents: StoreContents = field(default_factory=lambda: StoreContents(Listing(())))
    object_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"gs://{self.name}"

    @property
    def uniform_access(self) -> bool | Unknown:
        if isinstance(self.settings, Unknown):
            return self.settings
        return bool(self.settings.get("uniform_access"))


def facts_from(bucket: Any, project: str) -> BucketFacts:
    """A bucket resource as listed (or got): every setting the policies read, as plain values.
    A field of the wrong shape makes the settings Unknown, never a default.

    The library keeps the API's bucket resource as returned in `_properties`; its typed
    accessors coerce (a malformed `retentionPeriod` raises deep inside, an absent
    `iamConfiguration` reads as defaults), so the resource is read raw and checked here."""
    props: Mapping[str, Any] = getattr(bucket, "_properties", {}) or {}
    facts = BucketFacts(name=str(bucket.name), project=project)
    try:
        facts.settings = settings_of(props)
    except MalformedAnswer as exc:
        facts.settings = Unknown(f"gs://{bucket.name}: malformed bucket resource: {exc}")
        facts.problems.append(facts.settings.reason)
    location = props.get("location")
    facts.location = location.lower() if isinstance(location, str) else Unknown("no location")
    number = props.get("projectNumber")
    facts.project_number = str(number) if isinstance(number, str | int) else None
    labels = props.get("labels") or {}
    facts.labels = (
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
    )
    facts.raw = {
        k: props[k]
        for k in (
            "iamConfiguration",
            "encryption",
            "versioning",
            "retentionPolicy",
            "softDeletePolicy",
            "objectRetention",
            "logging",
            "labels",
            "location",
            "locationType",
            "projectNumber",
        )
        if k in props
    }
    return facts


def _mapping(props: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = props.get(key) or {}
    if not isinstance(value, Mapping):
        raise MalformedAnswer(f"{key} is not an object")
    return value


def _seconds(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | str) and str(value).isdigit():
        return int(value)
    raise MalformedAnswer(f"{what} is not a number of seconds")


def settings_of(props: Mapping[str, Any]) -> dict[str, Any]:
    iam = _mapping(props, "iamConfiguration")
    ubla = iam.get("uniformBucketLevelAccess") or iam.get("bucketPolicyOnly") or {}
    if not isinstance(ubla, Mapping):
        raise MalformedAnswer("uniformBucketLevelAccess is not an object")
    pap = iam.get("publicAccessPrevention") or "inherited"
    if not isinstance(pap, str):
        raise MalformedAnswer("publicAccessPrevention is not a string")
    encryption = _mapping(props, "encryption")
    kms = encryption.get("defaultKmsKeyName")
    versioning = _mapping(props, "versioning")
    retention = _mapping(props, "retentionPolicy")
    soft = _mapping(props, "softDeletePolicy")
    logging = _mapping(props, "logging")
    period = _seconds(retention.get("retentionPeriod"), "retentionPolicy.retentionPeriod")
    soft_seconds = _seconds(
        soft.get("retentionDurationSeconds"), "softDeletePolicy.retentionDurationSeconds"
    )
    object_retention = _mapping(props, "objectRetention").get("mode")
    log_bucket = logging.get("logBucket")
    return {
        "uniform_access": ubla.get("enabled") is True,
        # `unspecified` is the older spelling of `inherited`.
        "public_access_prevention": "inherited" if pap == "unspecified" else pap.lower(),
        "kms_key": kms if isinstance(kms, str) and kms else None,
        "versioning": versioning.get("enabled") is True,
        "retention": {
            "period_seconds": period or 0,
            "locked": retention.get("isLocked") is True,
            "object_retention": object_retention == "Enabled",
        },
        "soft_delete": {
            "enabled": bool(soft_seconds),
            "retention_seconds": soft_seconds or 0,
        },
        "usage_logs": log_bucket if isinstance(log_bucket, str) and log_bucket else None,
    }


def read_iam(client: Any, facts: BucketFacts, calls: Calls) -> None:
    answer = calls.run(
        lambda: client.bucket(facts.name).get_iam_policy(
            requested_policy_version=3, retry=None, timeout=60
        ),
        permission="storage.buckets.getIamPolicy",
        what=f"{facts.id}: IAM policy",
    )
    if isinstance(answer, Unknown):
        facts.iam = answer
        return
    if answer is None:
        facts.iam = calls.malformed(f"{facts.id}: IAM policy", "no answer")
        return
    try:
        facts.iam = parse_policy(answer.to_api_repr(), f"buckets/{facts.name}")
    except MalformedAnswer as exc:
        facts.iam = calls.malformed(f"{facts.id}: IAM policy", str(exc))


def list_objects(client: Any, facts: BucketFacts, calls: Calls, cap: int) -> None:
    reader = GcsReader(client, facts.name, calls)
    facts.contents = StoreContents(reader.list_objects(cap))
    facts.object_metadata = reader.metadata


def read_acls(client: Any, facts: BucketFacts, calls: Calls) -> None:
    """Readers by ACL: the default object ACL (what new objects get) and the ACL of every
    object in a model directory. Only while uniform bucket-level access is off; with it on,
    ACLs grant nothing."""
    if facts.uniform_access is not False:
        facts.acl_readers = {}
        return
    readers: dict[str, list[str]] = {}
    bucket = client.bucket(facts.name)
    default = calls.run(
        lambda: _entries(bucket.default_object_acl),
        permission="storage.buckets.getIamPolicy",
        what=f"{facts.id}: default object ACL",
        absent=True,
    )
    if isinstance(default, Unknown):
        facts.acl_readers = default
        return
    _add_acl(readers, default or [], "default object ACL")
    for obj in _model_objects(facts):
        blob = bucket.blob(obj.key)
        entries = calls.run(
            partial(_entries, blob.acl),
            permission="storage.objects.getIamPolicy",
            what=f"{facts.id}/{obj.key}: ACL",
            absent=True,
        )
        if isinstance(entries, Unknown):
            facts.acl_readers = entries
            return
        _add_acl(readers, entries or [], f"ACL of {obj.key}")
    facts.acl_readers = readers


def _entries(acl: Any) -> list[Any]:
    acl.reload(retry=None, timeout=60)
    return list(acl)


def _model_objects(facts: BucketFacts) -> list[StoredObject]:
    return [o for members in facts.contents.model_dirs().values() for o in members]


def _add_acl(readers: dict[str, list[str]], entries: list[Any], where: str) -> None:
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("role") not in READ_ROLES:
            continue
        member = from_acl_entity(str(entry.get("entity", "")))
        if member is not None and where not in readers.setdefault(member, []):
            readers[member].append(where)
