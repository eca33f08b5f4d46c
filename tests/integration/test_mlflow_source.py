"""The `mlflow:` source against a real `mlflow server` (sqlite backend) seeded through
MlflowClient, and against local stores (sqlite file, ./mlruns directory)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.errors import UsageError
from scanner.inventory import Ref, Resource, Unknown
from scanner.sources.interface import Collection, SourceError
from scanner.sources.registry import build_source, parse_spec
from tests.servers.mlflow_fixtures import SeededServer
from tests.servers.mlflow_seed import DIGEST, HOSTILE, PURGED_RUN, seed
from tests.servers.mlflow_server import free_port


def collect(target: str, **options: Any) -> Collection:
    source = build_source(parse_spec(f"mlflow:{target}", options=options))
    return source.collect(lambda message: None)


def by_name(collection: Collection, kind: str) -> dict[str, Resource]:
    return {r.name: r for r in collection.resources if r.type == kind}


@pytest.fixture(scope="module")
def scanned(mlflow_registry: SeededServer) -> Collection:
    return collect(mlflow_registry.url)


def test_models_carry_tags_fields_and_counts(scanned: Collection, mlflow_registry: SeededServer):
    models = by_name(scanned, "model")
    assert sorted(models) == ["churn", "fraud", "hostile", "orphan"]
    fraud = models["fraud"]
    assert fraud.id == f"mlflow+{mlflow_registry.url}/models/fraud"
    a = fraud.attributes
    assert a["provider"] == "mlflow"
    assert a["description"] == "Card fraud scoring"
    assert a["owner"] == "alice@acme.example"
    assert (a["classification"], a["ip_value"]) == ("confidential", "high")
    assert a["output_mode"] == "label"
    assert a["authorized_deployments"] == ["fraud-prod", "fraud-canary"]
    assert (a["retired"], a["watermarked"], a["version_count"]) == (False, True, 4)
    assert a["tags"]["classification"] == "Confidential"  # every tag as read
    assert fraud.raw["aliases"] == {"champion": "1", "challenger": "3"}


def test_missing_tags_leave_fields_absent(scanned: Collection):
    churn = by_name(scanned, "model")["churn"].attributes
    for field in ("owner", "classification", "ip_value", "output_mode", "authorized_deployments"):
        assert field not in churn
    assert churn["retired"] is False and churn["watermarked"] is False
    version = by_name(scanned, "model_version")["churn/1"].attributes
    assert "owner" not in version and "recorded_digest" not in version


def test_production_version_with_full_provenance(scanned: Collection, mlflow_registry):
    v = by_name(scanned, "model_version")["fraud/1"]
    run_id = mlflow_registry.estate.runs["v1"]
    assert v.id == f"mlflow+{mlflow_registry.url}/models/fraud/versions/1"
    a = v.attributes
    assert a["model"] == Ref(f"mlflow+{mlflow_registry.url}/models/fraud")
    assert (a["version"], a["stage"], a["aliases"], a["status"]) == (
        "1",
        "production",
        ["champion"],
        "ready",
    )
    assert a["source_uri"] == f"runs:/{run_id}/model"
    p = a["provenance"]
    assert p["run"] == run_id
    assert p["code"] == {"repo": "https://github.com/acme/fraud", "commit": "1111111"}
    assert p["created_by"] == "alice"
    assert p["created_at"].endswith("Z")
    assert p["datasets"] == [
        {
            "name": "transactions-2026",
            "digest": "d41d8cd9",
            "source": "s3://data-bucket/transactions/2026.parquet",
            "source_type": "s3",
            "context": "training",
        }
    ]
    assert a["recorded_digest"] == {
        "algorithm": "sha256",
        "value": DIGEST,
        "source": "version tag sha256",
    }
    assert v.raw["run"]["data"]["params"] == {"learning_rate": "0.1"}


def test_server_stored_artefact_is_listed(scanned: Collection, mlflow_registry):
    v = by_name(scanned, "model_version")["fraud/1"].attributes
    run_id = mlflow_registry.estate.runs["v1"]
    host = mlflow_registry.url.removeprefix("http://")
    expected = (
        f"mlflow-artifacts://{host}/{mlflow_registry.estate.experiment_id}/{run_id}/artifacts/model"
    )
    assert v["artefact"] == Ref(expected)
    artefact = next(r for r in scanned.resources if r.id == expected)
    a = artefact.attributes
    assert a["files"] == [
        {"path": "MLmodel", "size": 31},
        {"path": "data/weights.bin", "size": 100},
    ]
    assert (a["file_count"], a["total_size"], a["listing_truncated"]) == (2, 131, False)
    assert a["location"]["provider"] == "mlflow-artifacts"
    assert isinstance(a["storage"], Unknown)  # the proxy hides the backing store


def test_legacy_stage_archived_and_version_tags_override(scanned: Collection):
    a = by_name(scanned, "model_version")["fraud/2"].attributes
    assert (a["stage"], a["legacy_stage"]) == ("archived", "archived")
    assert a["owner"] == "bob"  # version tag beats the model's
    assert a["classification"] == "confidential"  # inherited


def test_retired_tag_archives_and_external_source_is_only_a_reference(scanned: Collection):
    a = by_name(scanned, "model_version")["fraud/4"].attributes
    assert (a["stage"], a["retired"]) == ("archived", True)
    assert a["artefact"] == Ref("s3://models-bucket/fraud/4")
    assert "run" not in a["provenance"]  # registered from a path, no training run
    assert not any(r.id.startswith("s3://") for r in scanned.resources)


def test_deleted_run_makes_provenance_unknown_and_is_a_problem(scanned, mlflow_registry):
    run_id = mlflow_registry.estate.runs["v3"]
    a = by_name(scanned, "model_version")["fraud/3"].attributes
    assert a["stage"] == "staging"  # alias challenger
    p = a["provenance"]
    assert p["run"] == run_id
    for key in ("datasets", "code", "created_by"):
        assert isinstance(p[key], Unknown) and "deleted" in p[key].reason
    assert f"model fraud version 3: run {run_id} was deleted; provenance unknown" in (
        scanned.problems
    )


def test_purged_run_is_asked_for_alone_and_reported(scanned: Collection):
    p = by_name(scanned, "model_version")["orphan/1"].attributes["provenance"]
    assert p["run"] == PURGED_RUN
    assert p["datasets"] == Unknown(f"run {PURGED_RUN} no longer exists (deleted)")
    assert (
        f"model orphan version 1: run {PURGED_RUN} no longer exists (deleted); provenance unknown"
        in scanned.problems
    )


def test_logged_model_version_reaches_its_run_and_files(scanned, mlflow_registry):
    estate = mlflow_registry.estate
    a = by_name(scanned, "model_version")["churn/1"].attributes
    assert a["source_uri"] == f"models:/{estate.logged_model_id}"
    assert a["provenance"]["run"] == estate.runs["churn"]
    assert a["provenance"]["code"]["commit"] == "4444444"
    artefact_id = a["artefact"].id
    assert artefact_id.endswith(f"/models/{estate.logged_model_id}/artifacts")
    artefact = next(r for r in scanned.resources if r.id == artefact_id)
    assert artefact.attributes["file_count"] == 2


def test_hostile_tags_are_kept_as_data(scanned: Collection):
    model = by_name(scanned, "model")["hostile"].attributes
    assert model["owner"] == HOSTILE["html"]
    assert model["tags"]["big"] == HOSTILE["big"]
    version = by_name(scanned, "model_version")["hostile/1"].attributes
    assert version["classification"] == HOSTILE["control"].lower()


def test_small_pages_give_the_same_inventory(mlflow_registry, scanned: Collection):
    paged = collect(mlflow_registry.url, page_size=1, workers=1)
    assert [(r.id, r.attributes) for r in paged.resources] == [
        (r.id, r.attributes) for r in scanned.resources
    ]
    assert paged.problems == scanned.problems


def test_options_change_conventions(mlflow_registry):
    c = collect(
        mlflow_registry.url,
        production_aliases=["challenger"],
        tags={"owner": "html", "digest": "nope"},
    )
    versions = by_name(c, "model_version")
    assert versions["fraud/3"].attributes["stage"] == "production"
    assert versions["fraud/1"].attributes["stage"] == "none"
    assert "recorded_digest" not in versions["fraud/1"].attributes
    assert by_name(c, "model")["hostile"].attributes["owner"] == HOSTILE["html"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page_size": 0}, "option 'page_size' must be an integer from 1 to 1000, got 0"),
        ({"workers": "many"}, "option 'workers' must be an integer"),
        ({"tags": {"colour": "c"}}, "option 'tags' has unknown field 'colour'"),
        ({"production_aliases": [1]}, "option 'production_aliases' must be a list"),
    ],
)
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_source(parse_spec("mlflow:http://127.0.0.1:9", options=options))


def test_unreachable_server_is_a_source_error_naming_it():
    port = free_port()
    with pytest.raises(SourceError) as info:
        collect(f"http://127.0.0.1:{port}", max_retries=0, timeout=5)
    assert info.value.message == f"MLflow server http://127.0.0.1:{port}: connection refused"


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 401

    def do_GET(self) -> None:  # MLflow searches with GET
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"You are not authenticated. Please see the documentation.")

    do_POST = do_GET

    def log_message(self, *args: Any) -> None: ...


@pytest.fixture(params=[401, 403, 503])
def failing_server(request) -> Iterator[tuple[str, int]]:
    """A server that answers every request with one status (a stand-in for an auth proxy)."""
    handler = type("Handler", (_Answer,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()
        server.server_close()


def test_refused_answers_are_source_errors(failing_server, monkeypatch):
    url, status = failing_server
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-SECRET-123")
    with pytest.raises(SourceError) as info:
        collect(url.replace("http://", "http://user:pw-SECRET@"), max_retries=1)
    message = info.value.message
    assert message.startswith(f"MLflow server {url}: ")
    expected = {
        401: "authentication failed (HTTP 401): set MLFLOW_TRACKING_TOKEN or",
        403: "permission denied (HTTP 403)",
        503: "server error (HTTP 503) after retries",
    }[status]
    assert expected in message
    assert "SECRET" not in message


# Local stores -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> tuple[Path, Any]:
    """A local sqlite store with local artifacts, written by an in-process client."""
    root = tmp_path_factory.mktemp("sqlite-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    estate = seed(uri, artifact_location=(root / "art").as_uri())
    return root, estate


def test_sqlite_store_is_read_and_local_artefacts_listed(sqlite_store):
    root, _ = sqlite_store
    db = root / "mlflow.db"
    c = collect(f"sqlite:///{db}")
    assert sorted(by_name(c, "model")) == ["churn", "fraud", "hostile", "orphan"]
    version = by_name(c, "model_version")["fraud/1"]
    assert version.id == f"mlflow+sqlite:///{db}/models/fraud/versions/1"
    assert version.attributes["stage"] == "production"
    artefact_id = version.attributes["artefact"].id
    assert artefact_id.startswith("file:///") and artefact_id.endswith("/artifacts/model")
    artefact = next(r for r in c.resources if r.id == artefact_id)
    assert artefact.attributes["location"]["provider"] == "local"
    assert "storage" not in artefact.attributes  # local disks have no storage controls
    assert [f["path"] for f in artefact.attributes["files"]] == ["MLmodel", "data/weights.bin"]


def test_missing_local_store_fails_without_creating_one(tmp_path):
    db = tmp_path / "nope.db"
    with pytest.raises(SourceError, match="no such MLflow database"):
        collect(f"sqlite:///{db}")
    assert not db.exists()
    with pytest.raises(SourceError, match="no such directory"):
        collect(str(tmp_path / "mlruns"))
    assert not (tmp_path / "mlruns").exists()


def test_file_store_directory(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.create_run(client.create_experiment("e"))
    client.create_registered_model("iris", tags={"owner": "erin"})
    client.create_model_version("iris", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    c = collect("./mlruns")
    version = by_name(c, "model_version")["iris/1"]
    assert version.id == f"mlflow+{uri}/models/iris/versions/1"
    assert version.attributes["owner"] == "erin"
    assert version.attributes["provenance"]["run"] == run.info.run_id


def test_results_json_survives_the_estate(scanned: Collection):
    """Hostile values and Unknowns go through the results writer as plain JSON."""
    from scanner.inventory import to_jsonable

    for r in scanned.resources:
        text = json.dumps(to_jsonable(r.attributes), ensure_ascii=False)
        assert json.loads(text) == to_jsonable(r.attributes)
