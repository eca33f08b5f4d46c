"""A Google Cloud estate for the gcs: and vertex: tests and the demo: buckets and
model files in fake-gcs-server, and what it does not emulate set on the shape server.

`seed_estate` builds one project with three model buckets, each the misconfigured or the
well-kept twin of a setting:
- `acme-models-public`: allUsers can read (bucket IAM) and the default object ACL gives
  allUsers READER (uniform bucket-level access off), public access prevention inherited, no
  CMEK, no versioning, no retention, soft delete off;
- `acme-models-private`: uniform access on, public access prevention enforced, a CMEK key,
  versioning (set in the emulator), a locked retention policy, soft delete on, usage logs; a
  human reader through a time-bound (just-in-time) binding;
- `acme-models-blocked`: allUsers in its IAM policy, but public access prevention enforced.
Project-level: the data-read audit config and the VPC Service Controls perimeter are
switched by the tests (`audit_reads`, `perimeter`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner.demo.gcp_shapes import FakeGcs, GcpShapeServer

PROJECT = "acme-ml"
NUMBER = "123456789012"
FOLDER = "77"
ORG = "4242"
LOCATION = "europe-west4"
PUBLIC = "acme-models-public"
PRIVATE = "acme-models-private"
BLOCKED = "acme-models-blocked"
KMS_KEY = f"projects/{PROJECT}/locations/europe/keyRings/models/cryptoKeys/weights"
PERIMETER_POLICY = "accessPolicies/555"


def safetensors(payload: bytes = b"\x00" * 16) -> bytes:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [len(payload) // 4], "data_offsets": [0, len(payload)]}}
    ).encode()
    return struct.pack("<Q", len(header)) + header + payload


def pickle_bytes() -> bytes:
    return pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)


def storage_client(emulator: FakeGcs) -> Any:
    """A google-cloud-storage client writing straight into the emulator (not through the
    shape server), for seeding only."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator.url},
    )


def put(
    client: Any, bucket: str, key: str, data: bytes, metadata: dict[str, str] | None = None
) -> None:
    blob = client.bucket(bucket).blob(key)
    if metadata:
        blob.metadata = metadata
    blob.upload_from_file(io.BytesIO(data), size=len(data))


def binding(role: str, *members: str, condition: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": role, "members": list(members)}
    if condition:
        out["condition"] = condition
    return out


def seed_estate(emulator: FakeGcs, shapes: GcpShapeServer) -> None:
    seed_storage(emulator)
    seed_shapes(shapes)


def seed_storage(emulator: FakeGcs) -> None:
    """The buckets and objects, in the emulator."""
    client = storage_client(emulator)
    for name, versioned in ((PUBLIC, False), (PRIVATE, True), (BLOCKED, False)):
        bucket = client.bucket(name)
        bucket.versioning_enabled = versioned
        client.create_bucket(bucket, location=LOCATION)
    put(client, PUBLIC, "fraud/v3/model.safetensors", safetensors(), {"owner": "fraud-team"})
    put(client, PUBLIC, "fraud/v3/config.json", b'{"arch": "mlp"}')
    put(client, PUBLIC, "churn/model.pkl", pickle_bytes())
    put(client, PUBLIC, "docs/readme.txt", b"not a model")
    put(client, PRIVATE, "fraud/v3/model.safetensors", safetensors(b"\x01" * 16))
    put(client, BLOCKED, "ranker/model.safetensors", safetensors(b"\x02" * 16))


def seed_shapes(shapes: GcpShapeServer) -> None:
    """The project, its ancestors and policies, and the bucket settings fake-gcs-server drops."""
    s = shapes.state
    s.projects[PROJECT] = {
        "projectNumber": NUMBER,
        "projectId": PROJECT,
        "lifecycleState": "ACTIVE",
        "name": "ACME ML",
        "parent": {"type": "folder", "id": FOLDER},
    }
    s.ancestry[PROJECT] = [
        {"resourceId": {"type": "project", "id": PROJECT}},
        {"resourceId": {"type": "folder", "id": FOLDER}},
        {"resourceId": {"type": "organization", "id": ORG}},
    ]
    s.iam[f"projects/{PROJECT}"] = {
        "version": 3,
        "etag": "BwYAAAA=",
        "bindings": [
            binding("roles/owner", "user:owner@acme.example"),
            binding(
                "roles/storage.objectViewer",
                f"serviceAccount:trainer@{PROJECT}.iam.gserviceaccount.com",
            ),
            binding(f"projects/{PROJECT}/roles/modelReader", "group:ml-readers@acme.example"),
        ],
    }
    s.iam[f"folders/{FOLDER}"] = {"version": 1, "etag": "BwYAAAE=", "bindings": []}
    s.iam[f"organizations/{ORG}"] = {
        "version": 1,
        "etag": "BwYAAAI=",
        "bindings": [binding("roles/viewer", "domain:acme.example")],
    }
    s.roles[f"projects/{PROJECT}/roles/modelReader"] = {
        "name": f"projects/{PROJECT}/roles/modelReader",
        "title": "Model reader",
        "includedPermissions": ["storage.objects.get", "storage.objects.list"],
        "stage": "GA",
        "etag": "BwYAAAM=",
    }
    s.access_policies[ORG] = [
        {"name": PERIMETER_POLICY, "parent": f"organizations/{ORG}", "title": "acme"}
    ]
    s.perimeters[PERIMETER_POLICY] = []
    s.bucket_iam[PUBLIC] = {
        "kind": "storage#policy",
        "resourceId": f"projects/_/buckets/{PUBLIC}",
        "version": 1,
        "etag": "CAE=",
        "bindings": [
            binding("roles/storage.legacyBucketOwner", f"projectOwner:{PROJECT}"),
            binding("roles/storage.objectViewer", "allUsers"),
        ],
    }
    s.bucket_iam[PRIVATE] = {
        "kind": "storage#policy",
        "resourceId": f"projects/_/buckets/{PRIVATE}",
        "version": 3,
        "etag": "CAI=",
        "bindings": [
            binding("roles/storage.legacyBucketOwner", f"projectOwner:{PROJECT}"),
            binding(
                "roles/storage.objectViewer",
                "user:oncall@acme.example",
                condition={
                    "title": "pam-grant",
                    "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")',
                },
            ),
        ],
    }
    s.bucket_iam[BLOCKED] = {
        "kind": "storage#policy",
        "version": 1,
        "etag": "CAM=",
        "bindings": [binding("roles/storage.objectViewer", "allUsers")],
    }
    s.default_object_acl[PUBLIC] = [
        {"kind": "storage#objectAccessControl", "entity": "allUsers", "role": "READER"},
        {
            "kind": "storage#objectAccessControl",
            "entity": f"project-owners-{NUMBER}",
            "role": "OWNER",
        },
    ]
    s.bucket_fields[PUBLIC] = {
        "projectNumber": NUMBER,
        "location": LOCATION.upper(),
        "iamConfiguration": {
            "uniformBucketLevelAccess": {"enabled": False},
            "publicAccessPrevention": "inherited",
        },
        "softDeletePolicy": {"retentionDurationSeconds": "0"},
        "labels": {"classification": "confidential", "owner": "fraud-team"},
    }
    s.bucket_fields[PRIVATE] = {
        "projectNumber": NUMBER,
        "location": LOCATION.upper(),
        "iamConfiguration": {
            "uniformBucketLevelAccess": {"enabled": True, "lockedTime": "2027-01-01T00:00:00Z"},
            "publicAccessPrevention": "enforced",
        },
        "encryption": {"defaultKmsKeyName": KMS_KEY},
        "retentionPolicy": {
            "retentionPeriod": "2592000",
            "effectiveTime": "2026-01-01T00:00:00Z",
            "isLocked": True,
        },
        "softDeletePolicy": {
            "retentionDurationSeconds": "604800",
            "effectiveTime": "2026-01-01T00:00:00Z",
        },
        "logging": {"logBucket": "acme-usage-logs", "logObjectPrefix": PRIVATE},
        "labels": {"classification": "confidential", "ip_value": "high"},
    }
    s.bucket_fields[BLOCKED] = {
        "projectNumber": NUMBER,
        "location": LOCATION.upper(),
        "iamConfiguration": {
            "uniformBucketLevelAccess": {"enabled": True},
            "publicAccessPrevention": "enforced",
        },
    }


def audit_reads(shapes: GcpShapeServer, on: bool, *, where: str = f"projects/{PROJECT}") -> None:
    """Data Access audit logs (DATA_READ) for Cloud Storage on (or off) at `where`."""
    policy = shapes.state.iam[where]
    policy.pop("auditConfigs", None)
    if on:
        policy["auditConfigs"] = [
            {
                "service": "storage.googleapis.com",
                "auditLogConfigs": [{"logType": "DATA_READ"}, {"logType": "ADMIN_READ"}],
            }
        ]


def perimeter(shapes: GcpShapeServer, restricted: bool) -> None:
    """The project in an enforced perimeter restricting Cloud Storage (or in none)."""
    perimeters = [
        {
            "name": f"{PERIMETER_POLICY}/servicePerimeters/analytics",
            "title": "analytics",
            "perimeterType": "PERIMETER_TYPE_REGULAR",
            "status": {
                "resources": ["projects/999"],
                "restrictedServices": ["bigquery.googleapis.com"],
            },
        }
    ]
    if restricted:
        perimeters.append(
            {
                "name": f"{PERIMETER_POLICY}/servicePerimeters/models",
                "title": "models",
                "perimeterType": "PERIMETER_TYPE_REGULAR",
                "status": {
                    "resources": [f"projects/{NUMBER}"],
                    "restrictedServices": ["storage.googleapis.com", "aiplatform.googleapis.com"],
                },
            }
        )
    shapes.state.perimeters[PERIMETER_POLICY] = perimeters


# -- Vertex AI ---------------------------------------------------------------------------------

PARENT = f"projects/{NUMBER}/locations/{LOCATION}"
FRAUD_MODEL = f"{PARENT}/models/1001"
CHURN_MODEL = f"{PARENT}/models/1002"
PUBLIC_ENDPOINT = f"{PARENT}/endpoints/2001"
PRIVATE_ENDPOINT = f"{PARENT}/endpoints/2002"
PIPELINE = f"{PARENT}/trainingPipelines/3001"
DATASET = f"{PARENT}/datasets/4001"


def model(name: str, version: str, **fields: Any) -> dict[str, Any]:
    out = {
        "name": name,
        "displayName": fields.pop("displayName", name.rsplit("/", 1)[-1]),
        "versionId": version,
        "versionAliases": [],
        "createTime": "2026-03-01T10:00:00Z",
        "versionCreateTime": f"2026-03-0{version}T10:00:00Z",
        "updateTime": "2026-03-05T10:00:00Z",
        "etag": "AMEw9yM=",
        "labels": {},
        "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES"],
        "containerSpec": {
            "imageUri": "europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest",
            "env": [{"name": "API_KEY", "value": "hunter2"}],
        },
    }
    out.update(fields)
    return out


def seed_vertex(shapes: GcpShapeServer, *, private_endpoint_logged: bool = True) -> None:
    """Two registered models and two endpoints: `fraud` v1 (default) and v2 (production, served
    by the private endpoint with request logging and CMEK; its files in the private bucket),
    `churn` v1 (served by the public endpoint without logging; files in the public bucket)."""
    s = shapes.state
    fraud_labels = {"owner": "fraud-team", "classification": "confidential", "ip_value": "high"}
    fraud_v1 = model(
        FRAUD_MODEL,
        "1",
        displayName="fraud",
        versionAliases=["default"],
        labels=fraud_labels,
        artifactUri=f"gs://{PRIVATE}/fraud/v2/",
    )
    fraud_v2 = model(
        FRAUD_MODEL,
        "2",
        displayName="fraud",
        versionAliases=["production"],
        labels={**fraud_labels, "authorized_deployments": "2002__fraud-shadow"},
        artifactUri=f"gs://{PRIVATE}/fraud/v3/",
        trainingPipeline=PIPELINE,
        metadataArtifact=f"{PARENT}/metadataStores/default/artifacts/5001",
        encryptionSpec={"kmsKeyName": KMS_KEY},
        deployedModels=[{"endpoint": PRIVATE_ENDPOINT, "deployedModelId": "6002"}],
    )
    churn_v1 = model(
        CHURN_MODEL,
        "1",
        displayName="churn",
        versionAliases=["default"],
        artifactUri=f"gs://{PUBLIC}/churn/",
        deployedModels=[{"endpoint": PUBLIC_ENDPOINT, "deployedModelId": "6001"}],
    )
    s.models[f"projects/{PROJECT}/locations/{LOCATION}"] = [fraud_v1, churn_v1]
    s.versions[FRAUD_MODEL] = [fraud_v1, fraud_v2]
    s.versions[CHURN_MODEL] = [churn_v1]
    s.pipelines[PIPELINE] = {
        "name": PIPELINE,
        "displayName": "fraud-training",
        "inputDataConfig": {"datasetId": "4001", "fractionSplit": {"trainingFraction": 0.8}},
        "trainingTaskDefinition": "gs://google-cloud-aiplatform/schema/trainingjob/definition/custom_task_1.0.0.yaml",
        "state": "PIPELINE_STATE_SUCCEEDED",
        "createTime": "2026-03-02T09:00:00Z",
        "modelToUpload": {"name": FRAUD_MODEL, "versionId": "2"},
    }
    logging = {
        "enabled": private_endpoint_logged,
        "samplingRate": 1.0,
        "bigqueryDestination": {"outputUri": f"bq://{PROJECT}.prediction_logs.fraud"},
    }
    s.endpoints[f"projects/{PROJECT}/locations/{LOCATION}"] = [
        {
            "name": PUBLIC_ENDPOINT,
            "displayName": "churn-public",
            "deployedModels": [
                {
                    # As the deployer wrote it: the project by id, not number.
                    "id": "6001",
                    "model": f"projects/{PROJECT}/locations/{LOCATION}/models/1002",
                    "modelVersionId": "1",
                    "displayName": "churn",
                    "createTime": "2026-03-06T10:00:00Z",
                }
            ],
            "trafficSplit": {"6001": 100},
            "etag": "AMEw9yN=",
            "createTime": "2026-03-06T10:00:00Z",
            "updateTime": "2026-03-06T10:00:00Z",
        },
        {
            "name": PRIVATE_ENDPOINT,
            "displayName": "fraud-prod",
            "deployedModels": [
                {
                    "id": "6002",
                    "model": FRAUD_MODEL,
                    "modelVersionId": "2",
                    "displayName": "fraud",
                    "createTime": "2026-03-07T10:00:00Z",
                }
            ],
            "trafficSplit": {"6002": 100},
            "labels": {"output_mode": "label", "exposure": "decision-api"},
            "privateServiceConnectConfig": {
                "enablePrivateServiceConnect": True,
                "projectAllowlist": [PROJECT],
            },
            "predictRequestResponseLoggingConfig": logging,
            "encryptionSpec": {"kmsKeyName": KMS_KEY},
            "createTime": "2026-03-07T10:00:00Z",
            "updateTime": "2026-03-07T10:00:00Z",
        },
    ]


@contextlib.contextmanager
def gcp_env(shapes: GcpShapeServer, tmp: Path) -> Iterator[dict[str, str]]:
    """The process environment pointing every GCP client at the local servers."""
    env = shapes.env(shapes.write_adc(tmp / "adc.json"))
    saved = {k: os.environ.get(k) for k in [*env, "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG"]}
    os.environ.update(env)
    os.environ.pop("GOOGLE_CLOUD_PROJECT", None)
    os.environ["CLOUDSDK_CONFIG"] = str(tmp / "no-gcloud")  # never the developer's gcloud login
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
