"""A results document for AI-BOM tests, built from resources shaped as docs/resource-model.md
says: several MLflow models and versions with datasets, a signed and an unsigned artefact, a
version with almost no metadata, an artefact nobody registered, and findings about them."""

from __future__ import annotations

from typing import Any

from scanner import results
from scanner.findings import ControlRef, Finding
from scanner.inventory import Ref, Resource, Unknown

REGISTRY = "mlflow+http://127.0.0.1:5000"
SHA = "ab" * 32
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def model(name: str, **attrs: Any) -> Resource:
    return Resource(
        id=f"{REGISTRY}/models/{name}",
        type="model",
        name=name,
        source="mlflow",
        attributes={"provider": "mlflow", "tags": {}, "version_count": 1, **attrs},
    )


def version(name: str, n: int, **attrs: Any) -> Resource:
    return Resource(
        id=f"{REGISTRY}/models/{name}/versions/{n}",
        type="model_version",
        name=f"{name}/{n}",
        source="mlflow",
        attributes={"model": Ref(f"{REGISTRY}/models/{name}"), "version": str(n), **attrs},
    )


def artefact(uri: str, files: list[dict[str, Any]], **attrs: Any) -> Resource:
    return Resource(
        id=uri,
        type="artefact",
        name=uri.rsplit("/", 1)[-1],
        source="s3",
        attributes={
            "uri": uri,
            "files": files,
            "file_count": len(files),
            "total_size": sum(f.get("size", 0) for f in files),
            "serialization": {"formats": ["safetensors"], "pickle_based": False},
            **attrs,
        },
    )


def finding(policy: str, resource: Resource, status: str, severity: str = "high") -> Finding:
    return Finding(
        policy_id=policy,
        title=f"{policy} title",
        severity=severity,
        maturity="applied",
        resource_id=resource.id,
        resource_type=resource.type,
        resource_name=resource.name,
        status=status,
        message=f"{policy} says {status} on {resource.name}",
        controls=(ControlRef("iso-iec-42001-2023", "A.6.2.7"), ControlRef("eu-ai-act", "Annex-IV")),
    )


def estate_resources() -> list[Resource]:
    fraud = model(
        "fraud",
        description="Card fraud scoring",
        owner="fraud-team@example.com",
        classification="confidential",
        ip_value="high",
        tags={
            "task": "binary-classification",
            "architecture": "gradient-boosted trees",
            "limitations": "Not for card-not-present transactions",
            "intended_use": "Real-time card fraud scoring",
            "license": "Apache-2.0",
        },
    )
    signed = artefact(
        "s3://ml-models/fraud/3",
        [
            {"path": "MLmodel", "size": 120, "sha256": "cd" * 32, "etag": "e1", "format": None},
            {
                "path": "model.safetensors",
                "size": 4096,
                "sha256": SHA,
                "etag": "e2",
                "format": "safetensors",
            },
            {"path": "model.sig", "size": 900, "sha256": "ef" * 32, "etag": "e3", "format": None},
        ],
        signature={
            "present": True,
            "kind": "openssf-model-signing",
            "verified": True,
            "identity": "ci@example.com",
            "error": None,
        },
    )
    fraud3 = version(
        "fraud",
        3,
        stage="production",
        aliases=["champion"],
        status="ready",
        source_uri="s3://ml-models/fraud/3",
        artefact=Ref(signed.id),
        owner="fraud-team@example.com",
        classification="confidential",
        ip_value="high",
        provenance={
            "run": "run-fraud-3",
            "datasets": [
                {
                    "name": "transactions-2024",
                    "digest": "d1g3st01",
                    "context": "training",
                    "source": '{"uri": "s3://ml-data/transactions/2024.parquet"}',
                },
                {
                    "name": "holdout-2024",
                    "digest": "d1g3st02",
                    "context": "test",
                    "source": "s3://ml-data/holdout/2024.parquet",
                },
            ],
            "code": {"repo": "https://git.example.com/risk/fraud.git", "commit": COMMIT},
            "created_by": "alice",
            "created_at": "2025-03-01T10:00:00Z",
        },
        model_signature={
            "inputs": '[{"type": "double", "name": "amount"}, {"type": "string", "name": "mcc"}]',
            "outputs": [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}],
        },
    )
    unsigned = artefact(
        "s3://ml-models/fraud/2",
        [
            {
                "path": "model.pkl",
                "size": 2048,
                "sha256": "12" * 32,
                "etag": "e4",
                "format": "pickle",
            }
        ],
        serialization={"formats": ["pickle"], "pickle_based": True},
        signature={
            "present": False,
            "kind": None,
            "verified": None,
            "identity": None,
            "error": None,
        },
    )
    fraud2 = version(
        "fraud",
        2,
        stage="archived",
        status="ready",
        source_uri="s3://ml-models/fraud/2",
        artefact=Ref(unsigned.id),
        owner="fraud-team@example.com",
        provenance={
            "run": "run-fraud-2",
            "datasets": [
                {
                    "name": "transactions-2024",
                    "digest": "d1g3st01",
                    "context": "training",
                    "source": '{"uri": "s3://ml-data/transactions/2024.parquet"}',
                }
            ],
            "code": {"repo": "git@git.example.com:risk/fraud.git", "commit": "not-a-sha"},
            "created_by": "bob",
            "created_at": "2024-11-01T08:00:00Z",
        },
    )
    churn = model("churn", tags={"base_model": "distilbert-base-uncased"})
    bare = version(
        "churn",
        1,
        stage="none",
        source_uri="s3://ml-models/churn/1",
        artefact=Ref("s3://ml-models/churn/1"),
        provenance={
            "run": Unknown("mlflow: run deleted"),
            "datasets": Unknown("mlflow: run deleted"),
        },
    )
    stray = artefact(
        "s3://ml-models/scratch/exp7",
        [
            {
                "path": "weights.bin",
                "size": 10,
                "sha256": Unknown("read denied"),
                "etag": "e5",
                "format": "pytorch",
            }
        ],
    )
    return [fraud, signed, fraud3, unsigned, fraud2, churn, bare, stray]


def estate_document(resources: list[Resource] | None = None, scan_id: str = "scan-1") -> dict:
    resources = estate_resources() if resources is None else resources
    by_name = {r.name: r for r in resources}
    wanted = [
        ("MW-INT-01", "fraud/3", "pass", "high"),
        ("MW-INV-02", "churn/1", "fail", "medium"),
        ("MW-INT-03", "2", "fail", "critical"),  # the fraud/2 artefact
        ("MW-INV-01", "churn", "error", "high"),
        ("MW-STO-01", "exp7", "fail", "high"),
    ]
    findings = [
        finding(policy, by_name[name], status, severity)
        for policy, name, status, severity in wanted
        if name in by_name
    ]
    document = results.build(
        scan={
            "id": scan_id,
            "started_at": "2025-06-30T09:00:00Z",
            "finished_at": "2025-06-30T09:01:00Z",
            "sources": [
                {
                    "name": "mlflow",
                    "type": "mlflow",
                    "status": "ok",
                    "error": None,
                    "resource_count": len(resources),
                }
            ],
            "as_of": "2025-06-30T09:00:00Z",
            "policy_pack": {"count": 0, "sha256": "0" * 64},
            "params": {},
        },
        resources=resources,
        findings=findings,
        frameworks=[],
        maturity={"level": "foundational", "next": "applied", "rungs": []},
        gate={
            "fail_on": "high",
            "allow_partial": False,
            "exit_code": 0,
            "passed": True,
            "reasons": [],
        },
    )
    assert not results.problems(document), results.problems(document)
    return results.plain(document)  # as read back from results.json


HOSTILE = "<script>alert(1)</script>\x00\x1b[31m\u202e\r\n\"'&{{x}}"
MEGABYTE = "A" * (1024 * 1024)


def hostile_resources() -> list[Resource]:
    """Registry strings as an attacker would write them: markup, control characters, a 1 MB
    tag, bidi overrides, strings that look like URLs and are not."""
    name = f"evil{HOSTILE}"
    bad = model(
        name,
        description=HOSTILE,
        tags={
            "limitations": MEGABYTE,
            "task": HOSTILE,
            f"k{HOSTILE}": HOSTILE,
            "license": f"MIT OR {HOSTILE}",
            "base_model": HOSTILE,
        },
    )
    files = [
        {
            "path": f"weights{HOSTILE}.bin",
            "size": 1,
            "sha256": "AB" * 32,
            "etag": HOSTILE,
            "format": "pytorch",
        }
    ]
    store = artefact(
        f"s3://bucket/{HOSTILE}",
        files,
        signature={
            "present": True,
            "kind": HOSTILE,
            "verified": False,
            "identity": HOSTILE,
            "error": MEGABYTE,
        },
    )
    bad_version = Resource(
        id=f"{REGISTRY}/models/evil/versions/1",
        type="model_version",
        name=f"{name}/1",
        source="mlflow",
        attributes={
            "model": Ref(bad.id),
            "version": HOSTILE,
            "owner": f"{HOSTILE}@example.com",
            "classification": HOSTILE,
            "stage": "production",
            "source_uri": f"javascript:{HOSTILE}",
            "artefact": Ref(store.id),
            "aliases": [HOSTILE],
            "provenance": {
                "run": HOSTILE,
                "datasets": [
                    {
                        "name": HOSTILE,
                        "digest": HOSTILE,
                        "context": HOSTILE,
                        "source": '{"uri": "' + "x" * 70000 + '"}',
                    },
                    {"name": MEGABYTE, "digest": None, "source": f"http://{HOSTILE}"},
                ],
                "code": {"repo": f"https://git/{HOSTILE}", "commit": HOSTILE},
                "created_by": HOSTILE,
                "created_at": f"2025-01-01T00:00:00Z{HOSTILE}",
            },
            "model_signature": {"inputs": [{"name": HOSTILE, "type": HOSTILE}], "outputs": HOSTILE},
        },
    )
    return [bad, store, bad_version]
