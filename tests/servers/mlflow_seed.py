"""A small registry estate, written through `MlflowClient` (a server URL or a local store URI).

It holds what the source must tell apart: production (alias), staging (alias), archived (legacy
stage, retired tag) and unaliased versions; a model without tags; run provenance (git tags,
user, params, a dataset input); a deleted run; a purged run; an MLflow 3 logged model; an
external S3 source; files the server stores; hostile tag values. Reused by the demo with an S3
artifact root.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HOSTILE = {
    "html": "<script>alert('x')</script><b>bold</b>",
    "control": "line1\nline2\x1b[31mred\x00nul\u202eevil",
    "big": "A" * 100_000,  # the most MLflow accepts in a tag value
}
PURGED_RUN = "0badc0de" * 4  # a run id no store holds: as after `mlflow gc`
DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@dataclass
class Estate:
    """What was seeded, for assertions."""

    experiment_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # label → run id
    logged_model_id: str = ""
    model_names: list[str] = field(default_factory=list)


def _model_dir(root: Path, body: bytes) -> Path:
    d = root / "model"
    (d / "data").mkdir(parents=True, exist_ok=True)
    (d / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (d / "data" / "weights.bin").write_bytes(body)
    return d


def seed(
    tracking_uri: str,
    *,
    external_uri: str = "s3://models-bucket/fraud/4/",
    artifact_location: str | None = None,
) -> Estate:
    """Write the estate. For a local store, give `artifact_location` (else MLflow writes under
    ./mlruns of the working directory)."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    # A local registry store looks logged models up through the global tracking URI.
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return _seed(tracking_uri, external_uri, artifact_location)
    finally:
        mlflow.set_tracking_uri(previous)


def _seed(tracking_uri: str, external_uri: str, artifact_location: str | None) -> Estate:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    estate = Estate()
    exp = client.create_experiment("fraud-training", artifact_location=artifact_location)
    estate.experiment_id = exp

    def run(label: str, *, user: str, commit: str, with_files: bool) -> str:
        r = client.create_run(
            exp,
            tags={
                "mlflow.user": user,
                "mlflow.source.git.commit": commit,
                "mlflow.source.git.repoURL": "https://github.com/acme/fraud",
            },
        )
        run_id = r.info.run_id
        client.log_param(run_id, "learning_rate", "0.1")
        dataset = Dataset(
            name="transactions-2026",
            digest="d41d8cd9",
            source_type="s3",
            source=json.dumps({"uri": "s3://data-bucket/transactions/2026.parquet"}),
        )
        client.log_inputs(
            run_id,
            datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])],
        )
        if with_files:
            with tempfile.TemporaryDirectory() as tmp:
                client.log_artifacts(run_id, str(_model_dir(Path(tmp), b"w" * 100)), "model")
        client.set_terminated(run_id)
        estate.runs[label] = run_id
        return run_id

    # fraud: every inventory tag, four versions in four different states.
    client.create_registered_model(
        "fraud",
        description="Card fraud scoring",
        tags={
            "owner": "alice@acme.example",
            "classification": "Confidential",
            "ip_value": "HIGH",
            "authorized_deployments": "fraud-prod, fraud-canary,",
            "output_mode": "label",
            "watermark": "v1",
        },
    )
    r1 = run("v1", user="alice", commit="1111111", with_files=True)
    client.create_model_version(
        "fraud", f"runs:/{r1}/model", run_id=r1, tags={"sha256": f"sha256:{DIGEST}"}
    )
    client.set_registered_model_alias("fraud", "champion", "1")
    r2 = run("v2", user="bob", commit="2222222", with_files=False)
    client.create_model_version("fraud", f"runs:/{r2}/model", run_id=r2, tags={"owner": "bob"})
    client.transition_model_version_stage("fraud", "2", "Archived")
    r3 = run("v3", user="carol", commit="3333333", with_files=False)
    client.create_model_version("fraud", f"runs:/{r3}/model", run_id=r3)
    client.set_registered_model_alias("fraud", "challenger", "3")
    client.delete_run(r3)
    client.create_model_version("fraud", external_uri, tags={"retired": "true"})

    # churn: no tags at all; one MLflow 3 logged model version.
    client.create_registered_model("churn")
    r4 = run("churn", user="dave", commit="4444444", with_files=False)
    lm = client.create_logged_model(exp, name="churn-model", source_run_id=r4)
    with tempfile.TemporaryDirectory() as tmp:
        client.log_model_artifacts(lm.model_id, str(_model_dir(Path(tmp), b"c" * 50)))
    client.create_model_version("churn", f"models:/{lm.model_id}", model_id=lm.model_id)
    estate.logged_model_id = lm.model_id

    # hostile: tag values that must stay data.
    client.create_registered_model("hostile", tags={"owner": HOSTILE["html"], **HOSTILE})
    client.create_model_version(
        "hostile", "s3://models-bucket/hostile/1", tags={"classification": HOSTILE["control"]}
    )
    # orphan: its run is gone for good (purged), not just marked deleted.
    client.create_registered_model("orphan", tags={"owner": "erin"})
    client.create_model_version("orphan", "s3://models-bucket/orphan/1", run_id=PURGED_RUN)
    estate.model_names = ["churn", "fraud", "hostile", "orphan"]
    return estate
