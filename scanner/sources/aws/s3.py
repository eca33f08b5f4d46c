"""S3 bucket settings, and the bucket's object listing: one bucket, one pass, read-only.

Each setting is read with the call that owns it (policy, ACL, public-access block, default
encryption, versioning, object lock, server access logging); "not configured" answers
(`NoSuchBucketPolicy`, the 404s for unset encryption or object lock) mean absent, a denial
means Unknown naming the action. The listing (`s3_reader.S3Reader.list_objects`) is bounded
by `max_objects_per_bucket` and happens once per bucket: artefacts and `holds_models` are both
built from it (`contents`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.iam_eval import PolicyDocumentError, Statement, parse_policy
from scanner.sources.objectstore import Listing, StoreContents

PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass
class BucketFacts:
    name: str
    account: str
    region: str
    policy: tuple[Statement, ...] | Unknown | None = None
    policy_raw: Any = None
    acl: list[dict[str, Any]] | Unknown = field(default_factory=list)
    owner_id: str | None = None
    pab: dict[str, bool] | Unknown | None = None
    encryption: dict[str, Any] | Unknown | None = None
    versioning: bool | Unknown = False
    versioning_raw: Any = None
    object_lock: bool | Unknown = False
    server_access: bool | Unknown = False
    logging_raw: Any = None
    # The listing and what reading its model objects found (filled after the settings).
    contents: StoreContents = field(default_factory=lambda: StoreContents(Listing(())))
    problems: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"s3://{self.name}"


def unreadable(
    listed: dict[str, Any], ctx: AwsContext, region: str, exc: BaseException
) -> BucketFacts:
    """A listed bucket whose reading failed as a whole: still reported, every setting Unknown,
    so its policies error instead of the bucket vanishing from the scan."""
    reason = Unknown(f"bucket {listed['Name']} could not be read ({type(exc).__name__})")
    where = listed.get("BucketRegion")
    facts = BucketFacts(str(listed["Name"]), ctx.account, str(where) if where else region)
    facts.policy = facts.acl = facts.pab = facts.encryption = reason
    facts.versioning = facts.object_lock = facts.server_access = reason
    facts.contents = StoreContents(Listing(reason))
    return facts


class KeyCache:
    """kms:DescribeKey once per key: many buckets share one key."""

    def __init__(self, ctx: AwsContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._done: dict[tuple[str, str], bool | Unknown] = {}

    def customer_managed(self, region: str, key_id: str) -> bool | Unknown:
        k = (region, key_id)
        with self._lock:
            if k in self._done:
                return self._done[k]
        answer = self._ctx.call(
            "kms", region, "describe_key", absent=("NotFoundException",), KeyId=key_id
        )
        result: bool | Unknown
        if isinstance(answer, Unknown):
            result = answer
        elif answer is None:
            result = Unknown(f"KMS key {key_id} not found")
        elif not isinstance(manager := (answer.get("KeyMetadata") or {}).get("KeyManager"), str):
            result = self._ctx.malformed("kms:DescribeKey", "no KeyManager")
        else:
            result = manager == "CUSTOMER"
        with self._lock:
            self._done[k] = result
        return result


def bucket_region(ctx: AwsContext, name: str, listed: dict[str, Any]) -> str | Unknown:
    if listed.get("BucketRegion"):
        return str(listed["BucketRegion"])
    answer = ctx.call("s3", None, "get_bucket_location", Bucket=name)
    if isinstance(answer, Unknown):
        return answer
    assert answer is not None
    constraint = answer.get("LocationConstraint")
    if not constraint:
        return "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


def read_settings(ctx: AwsContext, facts: BucketFacts, keys: KeyCache) -> None:
    b, r = facts.name, facts.region
    policy = ctx.call("s3", r, "get_bucket_policy", absent=("NoSuchBucketPolicy",), Bucket=b)
    if isinstance(policy, Unknown):
        facts.policy = policy
    elif policy is not None:
        facts.policy_raw = policy.get("Policy")
        try:
            facts.policy = parse_policy(policy.get("Policy", ""), "bucket policy")
        except PolicyDocumentError as exc:
            facts.policy = Unknown(f"bucket policy cannot be read: {exc}")
            facts.problems.append(f"{facts.id}: {exc}")

    acl = ctx.call("s3", r, "get_bucket_acl", Bucket=b)
    if isinstance(acl, Unknown):
        facts.acl = acl
    elif acl is not None:
        facts.acl = list(acl.get("Grants", []))
        facts.owner_id = acl.get("Owner", {}).get("ID")

    pab = ctx.call(
        "s3",
        r,
        "get_public_access_block",
        absent=("NoSuchPublicAccessBlockConfiguration",),
        Bucket=b,
    )
    if isinstance(pab, Unknown) or pab is None:
        facts.pab = pab
    else:
        conf = pab.get("PublicAccessBlockConfiguration", {})
        facts.pab = {flag: bool(conf.get(flag, False)) for flag in PAB_FLAGS}

    enc = ctx.call(
        "s3",
        r,
        "get_bucket_encryption",
        absent=("ServerSideEncryptionConfigurationNotFoundError",),
        Bucket=b,
    )
    facts.encryption = _encryption(enc, r, keys)

    ver = ctx.call("s3", r, "get_bucket_versioning", Bucket=b)
    if isinstance(ver, Unknown):
        facts.versioning = ver
    else:
        facts.versioning_raw = {k: v for k, v in (ver or {}).items() if k != "ResponseMetadata"}
        facts.versioning = (ver or {}).get("Status") == "Enabled"

    lock = ctx.call(
        "s3",
        r,
        "get_object_lock_configuration",
        absent=("ObjectLockConfigurationNotFoundError",),
        Bucket=b,
    )
    if isinstance(lock, Unknown):
        facts.object_lock = lock
    else:
        conf = (lock or {}).get("ObjectLockConfiguration", {})
        facts.object_lock = conf.get("ObjectLockEnabled") == "Enabled"

    logging = ctx.call("s3", r, "get_bucket_logging", Bucket=b)
    if isinstance(logging, Unknown):
        facts.server_access = logging
    else:
        enabled = (logging or {}).get("LoggingEnabled")
        facts.server_access = bool(enabled)
        facts.logging_raw = enabled


def _encryption(answer: Any, region: str, keys: KeyCache) -> dict[str, Any] | Unknown:
    if isinstance(answer, Unknown):
        return answer
    if answer is None:
        # Only emulators and pre-2023 APIs answer "not configured": AWS now encrypts every
        # bucket with SSE-S3 by default, and says so here.
        return {
            "at_rest": False,
            "algorithm": "none",
            "kms_key": None,
            "customer_managed_key": False,
        }
    rules = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = next((r.get("ApplyServerSideEncryptionByDefault") for r in rules if r), None) or {}
    algorithm = str(default.get("SSEAlgorithm", "none"))
    key = default.get("KMSMasterKeyID")
    customer: bool | Unknown = False
    if algorithm.startswith("aws:kms"):
        # No key named: the AWS-managed aws/s3 key.
        customer = keys.customer_managed(region, key) if key else False
    return {
        "at_rest": algorithm != "none",
        "algorithm": algorithm.lower(),
        "kms_key": key,
        "customer_managed_key": customer,
        "bucket_key": bool(next((r.get("BucketKeyEnabled") for r in rules if r), False)),
    }
