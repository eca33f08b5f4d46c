"""The demo's MLflow registry, seeded through `MlflowClient` with artefacts in (emulated) S3.

Four models, each showing something an assessor looks for: a well-documented production
model (and its retrained candidate, promoted as champion), a restricted model in production
with no provenance, an unclassified experiment, and a retired recommender that an endpoint
still serves. `signing_estate` signs the production versions afterwards, as a release
pipeline would.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def safetensors_bytes(tensor_bytes: int = 256) -> bytes:
    header = json.dumps(
        {
            "weight": {
                "dtype": "F32",
                "shape": [tensor_bytes // 4],
                "data_offsets": [0, tensor_bytes],
            }
        }
    ).encode()
    return struct.pack("<Q", len(header)) + header + bytes(tensor_bytes)


def mlmodel(flavor: str, files: str) -> bytes:
    return (
        f"artifact_path: model\nflavors:\n  {flavor}:\n    data: {files}\n"
        "mlflow_version: 3.17.0\nmodel_uuid: demo\n"
    ).encode()


@dataclass(frozen=True)
class Version:
    model: str
    version: str
    source: str  # the artefact URI MLflow recorded


@dataclass(frozen=True)
class RegistryEstate:
    fraud: Version
    fraud_candidate: Version  # fraud-detector's champion: signed, then swapped in storage
    pricing: Version
    churn: Version
    recommender: Version


def _run_with_files(
    client: Any, experiment_id: str, model: str, files: dict[str, bytes], tags: dict[str, str]
) -> tuple[str, str]:
    """A run (its tags and datasets are the version's lineage) and the model's files, stored
    under a path named after the model rather than after the run. MLflow's run ids are random
    and an artefact's id is its path: with the run id in it, two demo runs would name the same
    artefact differently, and `modelward diff` of them would show every artefact as gone and
    new again. Registering files from a location of one's choosing is ordinary MLflow use."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    run = client.create_run(experiment_id, tags=tags)
    location = client.get_experiment(experiment_id).artifact_location
    source = f"{location}/{model}/artifacts/model"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        for name, body in files.items():
            (model_dir / name).write_bytes(body)
        repository = get_artifact_repository(source)
        repository.log_artifacts(str(model_dir))  # type: ignore[no-untyped-call]
    client.set_terminated(run.info.run_id)
    return run.info.run_id, source


def _dataset(name: str, digest: str, uri: str) -> Any:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    return DatasetInput(
        dataset=Dataset(
            name=name, digest=digest, source_type="s3", source=json.dumps({"uri": uri})
        ),
        tags=[InputTag(key="mlflow.data.context", value="training")],
    )


def seed_registry(tracking_uri: str, release_root: str) -> RegistryEstate:
    """`release_root`: where the release experiment keeps its artefacts (the models that go
    to production); the others stay under the server's default artefact root."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.create_experiment("releases", artifact_location=release_root)
    research = client.create_experiment("research")

    weights = safetensors_bytes()
    fraud_files = {"model.safetensors": weights, "MLmodel": mlmodel("pytorch", "model.safetensors")}
    fraud_run, fraud_src = _run_with_files(
        client,
        experiment,
        "fraud-detector",
        fraud_files,
        {
            "mlflow.source.git.commit": "4f2a9c1d7e8b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
            "mlflow.source.git.repoURL": "https://git.example.com/ml/fraud-detector",
            "mlflow.user": "ml-pipeline",
        },
    )
    client.log_inputs(
        fraud_run,
        datasets=[
            _dataset(
                "transactions-2026-q3", "9a1b2c3d", "s3://acme-training-data/tx/2026-q3.parquet"
            ),
            _dataset(
                "chargebacks-2026-q3", "77e1f0aa", "s3://acme-training-data/cb/2026-q3.parquet"
            ),
        ],
    )
    client.create_registered_model(
        "fraud-detector",
        tags={
            "owner": "fraud-ml@acme.example",
            "classification": "confidential",
            "ip_value": "high",
            "output_mode": "label",
        },
        description="Card-not-present fraud scoring.",
    )
    fraud = client.create_model_version(
        "fraud-detector",
        fraud_src,
        run_id=fraud_run,
        tags={
            "authorized_deployments": "fraud-prod",
            "sha256": hashlib.sha256(weights).hexdigest(),
        },
    )
    client.set_registered_model_alias("fraud-detector", "production", fraud.version)

    # The retrained candidate, promoted as champion (signed later, then tampered with).
    candidate_weights = safetensors_bytes(384)
    candidate_run, candidate_src = _run_with_files(
        client,
        experiment,
        "fraud-detector-candidate",
        {
            "model.safetensors": candidate_weights,
            "MLmodel": mlmodel("pytorch", "model.safetensors"),
        },
        {"mlflow.user": "ml-pipeline"},
    )
    candidate = client.create_model_version(
        "fraud-detector",
        candidate_src,
        run_id=candidate_run,
        tags={"sha256": hashlib.sha256(candidate_weights).hexdigest()},
    )
    client.set_registered_model_alias("fraud-detector", "champion", candidate.version)

    # Restricted, in production, and nobody recorded what it was trained on.
    pricing_run, pricing_src = _run_with_files(
        client,
        experiment,
        "pricing-llm-adapter",
        {
            "adapter.safetensors": safetensors_bytes(512),
            "MLmodel": mlmodel("transformers", "adapter"),
        },
        {},
    )
    client.create_registered_model(
        "pricing-llm-adapter",
        tags={"owner": "pricing@acme.example", "classification": "restricted"},
    )
    pricing = client.create_model_version("pricing-llm-adapter", pricing_src, run_id=pricing_run)
    client.set_registered_model_alias("pricing-llm-adapter", "champion", pricing.version)

    # An experiment nobody classified; never promoted.
    churn_run, churn_src = _run_with_files(
        client, research, "churn-predictor", {"model.safetensors": safetensors_bytes(64)}, {}
    )
    client.create_registered_model("churn-predictor")
    churn = client.create_model_version("churn-predictor", churn_src, run_id=churn_run)

    # Retired, archived, and (see the SageMaker estate) still served.
    rec_run, rec_src = _run_with_files(
        client,
        research,
        "recommender",
        {"model.safetensors": safetensors_bytes(128), "MLmodel": mlmodel("sklearn", "model")},
        {"mlflow.user": "former-employee"},
    )
    client.create_registered_model(
        "recommender", tags={"owner": "growth@acme.example", "classification": "internal"}
    )
    rec = client.create_model_version(
        "recommender", rec_src, run_id=rec_run, tags={"retired": "true"}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated, and still widely used
        client.transition_model_version_stage("recommender", rec.version, "Archived")

    return RegistryEstate(
        fraud=Version("fraud-detector", fraud.version, fraud_src),
        fraud_candidate=Version("fraud-detector", candidate.version, candidate_src),
        pricing=Version("pricing-llm-adapter", pricing.version, pricing_src),
        churn=Version("churn-predictor", churn.version, churn_src),
        recommender=Version("recommender", rec.version, rec_src),
    )
