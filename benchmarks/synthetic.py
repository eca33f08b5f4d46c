"""A large estate as the sources would report it, built in memory for evaluation benchmarks.

Servers cannot hold 100,000 resources in a benchmark's time (moto writes ~300 objects a
second), so the evaluation and memory benchmarks build the collected inventory directly: the
same resource types and attributes the MLflow and AWS sources report (docs/resource-model.md),
in the proportions of an ML estate (three versions per model, one artefact per version, a
bucket per ten models, readers and endpoints for some), with the failures a real estate has
(public buckets, unknown values, unsigned pickles). `estate(n)` returns about `n` resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.inventory import Ref, Resource, Unknown

ACCOUNT = "123456789012"
MLFLOW = "mlflow+http://mlflow.example:5000"
SOURCE_AWS = "aws:"
SOURCE_MLFLOW = "mlflow:http://mlflow.example:5000"

# Resources per "model group": 1 model, 3 versions, 3 artefacts, 0.1 buckets, 2 principals,
# 0.5 endpoints, plus a little of everything else.
PER_MODEL = 1 + 3 + 3 + 0.1 + 2 + 0.5 + 0.02


def _role(i: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/reader-{i:06d}"


def _bucket(i: int) -> str:
    return f"s3://models-{i:05d}"


def _grant(principal: Ref | None, storage: Ref | None, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "via": "identity_policy",
        "policy": f"read-{i}",
        "statement": "Read",
        "actions": ["s3:GetObject", "s3:ListBucket"],
        "conditions": {},
        "restricted_by": ["vpce"] if i % 4 == 0 else [],
        "cross_account": i % 17 == 0,
        "wildcard_action": i % 11 == 0,
        "wildcard_resource": i % 13 == 0,
        "limited_by_denies": [],
    }
    if principal is not None:
        out["principal"] = principal
    if storage is not None:
        out["storage"] = storage
    return out


def _storage(b: int, models: int) -> Resource:
    readers = [Ref(_role(b * 20 + k)) for k in range(6 if b % 9 else 12)]
    grants = [_grant(r, None, b + k) for k, r in enumerate(readers)]
    return Resource(
        _bucket(b),
        "storage",
        f"models-{b:05d}",
        SOURCE_AWS,
        {
            "provider": "aws",
            "account": ACCOUNT,
            "region": "us-east-1",
            "holds_models": True,
            "listing_truncated": False,
            "object_count": 30,
            "public": Unknown("denied: s3:GetBucketPolicy") if b % 97 == 5 else b % 23 == 0,
            "public_reasons": [],
            "public_access_block": {
                "bucket": {"BlockPublicAcls": b % 2 == 0, "IgnorePublicAcls": True},
                "account": {"BlockPublicAcls": True, "IgnorePublicAcls": True},
            },
            "encryption": {
                "at_rest": b % 7 != 0,
                "algorithm": "aws:kms",
                "kms_key": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{b}",
                "customer_managed_key": b % 3 == 0,
            },
            "versioning": b % 2 == 0,
            "object_lock": b % 5 == 0,
            "tls_only": b % 4 != 0,
            "network_restricted": b % 6 == 0,
            "access_logging": {"server_access": b % 2 == 1, "read_events": b % 3 == 0},
            "readers": readers,
            "reader_count": len(readers),
            "access_grants": grants,
        },
    )


def _principal(i: int) -> Resource:
    return Resource(
        _role(i),
        "principal",
        f"reader-{i:06d}",
        SOURCE_AWS,
        {
            "provider": "aws",
            "kind": ("human", "service", "service", "group")[i % 4],
            "principal_type": "role",
            "account": ACCOUNT,
            "arn": _role(i),
            "admin": i % 50 == 0,
            "cross_account": i % 31 == 0,
            "just_in_time": i % 3 == 0,
            "max_session_seconds": 3600,
        },
    )


def _model(m: int) -> Resource:
    return Resource(
        f"{MLFLOW}/models/model-{m:06d}",
        "model",
        f"model-{m:06d}",
        SOURCE_MLFLOW,
        {
            "provider": "mlflow",
            "tags": {"owner": f"team-{m % 9}", "ip_value": "high" if m % 4 == 0 else "low"},
            "owner": f"team-{m % 9}",
            "classification": "confidential" if m % 5 == 0 else "internal",
            "ip_value": "high" if m % 4 == 0 else "low",
            "retired": False,
            "watermarked": m % 6 == 0,
            "version_count": 3,
        },
    )


def _version(m: int, v: int, bucket: int) -> Resource:
    name = f"model-{m:06d}"
    artefact = f"{_bucket(bucket)}/{name}/{v}"
    production = v == 3
    attrs: dict[str, Any] = {
        "provider": "mlflow",
        "model": Ref(f"{MLFLOW}/models/{name}"),
        "version": str(v),
        "stage": "production" if production else ("archived" if v == 1 else "staging"),
        "aliases": ["champion"] if production else [],
        "status": "ready",
        "source_uri": artefact,
        "artefact": Ref(artefact),
        "provenance": {
            "run": f"run-{m}-{v}",
            "datasets": [{"name": "train", "digest": f"d{m}", "source": f"s3://data/{m}"}]
            if m % 8
            else [],
            "code": {"repo": "https://git.example/ml", "commit": f"{m:08x}"} if m % 5 else {},
            "created_by": "ci",
            "created_at": "2026-01-01T00:00:00Z",
        },
        "tags": {"owner": f"team-{m % 9}"},
        "owner": f"team-{m % 9}",
        "classification": "confidential" if m % 5 == 0 else "internal",
        "ip_value": "high" if m % 4 == 0 else "low",
        "authorized_deployments": [f"ep-{m:06d}"] if m % 3 else [],
        "retired": False,
        "watermarked": m % 6 == 0,
    }
    if m % 2 == 0:
        attrs["recorded_digest"] = {"algorithm": "sha256", "value": f"{m:064x}", "source": "tag"}
    return Resource(
        f"{MLFLOW}/models/{name}/versions/{v}", "model_version", f"{name}/{v}", SOURCE_MLFLOW, attrs
    )


def _artefact(m: int, v: int, bucket: int) -> Resource:
    name = f"model-{m:06d}"
    uri = f"{_bucket(bucket)}/{name}/{v}"
    pickled = m % 4 == 1
    weights = "model.pkl" if pickled else "model.safetensors"
    files = [
        {
            "path": weights,
            "size": 1 << 20,
            "etag": f'"{m:032x}"',
            "sha256": f"{m:064x}",
            "format": "pickle" if pickled else "safetensors",
        },
        {"path": "config.json", "size": 512, "etag": f'"{v:032x}"', "format": "json"},
    ]
    serialization: dict[str, Any] = {
        "formats": ["pickle" if pickled else "safetensors", "json"],
        "pickle_based": pickled,
    }
    if pickled:
        serialization["unsafe"] = (
            [{"file": weights, "global": "os.system", "reason": "runs a shell", "risk": "exec"}]
            if m % 8 == 1
            else []
        )
    return Resource(
        uri,
        "artefact",
        f"{name}/{v}",
        SOURCE_AWS,
        {
            "uri": uri,
            "location": {"provider": "s3", "bucket": f"models-{bucket:05d}", "prefix": name},
            "files": files,
            "file_count": len(files),
            "total_size": sum(f["size"] for f in files),
            "listing_truncated": False,
            "serialization": serialization,
            "signature": {
                "present": m % 3 == 0,
                "verified": m % 6 == 0,
                "kind": "model-signing",
            },
        },
    )


def _endpoint(m: int, bucket: int) -> Resource:
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/ep-{m:06d}"
    return Resource(
        arn,
        "endpoint",
        f"ep-{m:06d}",
        SOURCE_AWS,
        {
            "provider": "sagemaker",
            "account": ACCOUNT,
            "region": "us-east-1",
            "status": "in_service",
            "model_versions": [],
            "artefacts": [Ref(f"{_bucket(bucket)}/model-{m:06d}/3")],
            "auth_required": m % 10 != 0,
            "network_isolation": m % 2 == 0,
            "in_private_network": m % 3 != 0,
            "vpcs": [Ref(f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-{m % 20}")],
            "data_capture": {"enabled": m % 4 == 0, "destination": None},
            "access_logging": m % 4 == 0,
            "gateway": {"present": m % 2 == 0, "apis": []},
            "rate_limit": {
                "configured": m % 2 == 0,
                "per_client": m % 4 == 0,
                "quota": 10000 if m % 4 == 0 else None,
                "daily_per_client": 10000 if m % 4 == 0 else None,
            },
            "output_mode": "label" if m % 3 else "logits",
            "decision_api": m % 5 == 0,
            "encryption": {"kms_key": None},
        },
    )


def _network(i: int) -> Resource:
    return Resource(
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-{i}",
        "network",
        f"vpc-{i}",
        SOURCE_AWS,
        {
            "provider": "aws",
            "account": ACCOUNT,
            "region": "us-east-1",
            "vpc_id": f"vpc-{i}",
            "flow_logs": {"enabled": i % 2 == 0},
        },
    )


def _detector() -> Resource:
    return Resource(
        f"aws-guardduty://{ACCOUNT}/us-east-1",
        "threat_detection",
        f"guardduty {ACCOUNT} us-east-1",
        SOURCE_AWS,
        {
            "provider": "aws",
            "account": ACCOUNT,
            "region": "us-east-1",
            "enabled": True,
            "storage_protection": False,
        },
    )


def resources(target: int) -> Iterator[Resource]:
    """About `target` resources (never fewer than one model group)."""
    models = max(1, int(target / PER_MODEL))
    buckets = max(1, models // 10)
    yield _detector()
    for i in range(20):
        yield _network(i)
    for b in range(buckets):
        yield _storage(b, models)
    for i in range(2 * models):
        yield _principal(i)
    for m in range(models):
        bucket = m % buckets
        yield _model(m)
        for v in (1, 2, 3):
            yield _version(m, v, bucket)
            yield _artefact(m, v, bucket)
        if m % 2 == 0:
            yield _endpoint(m, bucket)
