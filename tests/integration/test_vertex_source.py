"""The vertex: source against the GCP shape server. Shape tests: no emulator of Vertex AI
exists, so the server answers models.list, models.listVersions, endpoints.list and
trainingPipelines.get exactly as the v1 REST reference documents them
(scanner/demo/gcp_estate.py)."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.demo.gcp_estate import (
    CHURN_MODEL,
    FRAUD_MODEL,
    KMS_KEY,
    LOCATION,
    PIPELINE,
    PRIVATE,
    PRIVATE_ENDPOINT,
    PROJECT,
    PUBLIC,
    PUBLIC_ENDPOINT,
    seed_vertex,
)
from scanner.inventory import Ref, Unknown
from scanner.sources.interface import Collection, SourceError
from scanner.sources.registry import build_source, parse_spec

pytestmark = pytest.mark.slow

SPEC = f"vertex:project={PROJECT},location={LOCATION}"
FULL = "//aiplatform.googleapis.com/"


def scan(spec: str = SPEC, **options: Any) -> Collection:
    return build_source(parse_spec(spec, options=options)).collect(lambda _line: None)


def attrs(collection: Collection, rid: str) -> dict[str, Any]:
    return dict({r.id: r for r in collection.resources}[rid].attributes)


def test_models_and_versions_with_labels_aliases_and_artefacts(gcp) -> None:
    found = scan()
    model = attrs(found, FULL + FRAUD_MODEL)
    assert model["owner"] == "fraud-team"
    assert model["classification"] == "confidential"
    assert model["version_count"] == 2
    v1 = attrs(found, f"{FULL}{FRAUD_MODEL}@1")
    v2 = attrs(found, f"{FULL}{FRAUD_MODEL}@2")
    assert v1["aliases"] == ["default"] and v1["stage"] == "none"
    assert v2["aliases"] == ["production"] and v2["stage"] == "production"
    assert v2["artefact"] == Ref(f"gs://{PRIVATE}/fraud/v3")  # the id gcs: reports
    assert v2["source_uri"] == f"gs://{PRIVATE}/fraud/v3/"
    assert v2["model"] == Ref(FULL + FRAUD_MODEL)
    assert v2["encryption"] == {"kms_key": KMS_KEY}
    # A label cannot hold a resource name: the endpoint's numeric id is completed.
    assert f"{FULL}{PRIVATE_ENDPOINT}" in v2["authorized_deployments"]
    assert "fraud-shadow" in v2["authorized_deployments"]
    # The churn version has no alias but is served: production all the same.
    churn = attrs(found, f"{FULL}{CHURN_MODEL}@1")
    assert churn["stage"] == "production"
    assert "owner" not in churn and churn["retired"] is False
    assert found.problems == ()


def test_provenance_from_the_training_pipeline(gcp) -> None:
    v2 = attrs(scan(), f"{FULL}{FRAUD_MODEL}@2")
    provenance = v2["provenance"]
    assert provenance["run"] == PIPELINE
    assert provenance["created_at"] == "2026-03-02T10:00:00Z"
    assert provenance["metadata_artifact"].endswith("/artifacts/5001")
    assert provenance["datasets"] == [
        {
            "name": "4001",
            "source": PIPELINE.split("/trainingPipelines/")[0] + "/datasets/4001",
            "context": "training",
        }
    ]


def test_public_endpoint_beside_its_private_service_connect_twin(gcp) -> None:
    found = scan()
    public = attrs(found, FULL + PUBLIC_ENDPOINT)
    private = attrs(found, FULL + PRIVATE_ENDPOINT)
    assert public["network_isolation"] is False and public["in_private_network"] is False
    assert "public endpoint" in public["network_exposure"]
    assert private["network_isolation"] is True and private["in_private_network"] is True
    assert "Private Service Connect" in private["network_exposure"]
    # Deployed as `projects/acme-ml/...` (the id): still the version the registry reports.
    assert public["model_versions"] == [Ref(f"{FULL}{CHURN_MODEL}@1")]
    assert public["artefacts"] == [Ref(f"gs://{PUBLIC}/churn")]
    assert private["model_versions"] == [Ref(f"{FULL}{FRAUD_MODEL}@2")]
    assert private["encryption"] == {"kms_key": KMS_KEY}
    assert public["encryption"] == {"kms_key": None}
    assert private["auth_required"] is True and public["auth_required"] is True
    assert private["decision_api"] is True and private["output_mode"] == "label"


def test_a_peered_network_endpoint_is_private(gcp) -> None:
    endpoints = gcp.shapes.state.endpoints[f"projects/{PROJECT}/locations/{LOCATION}"]
    endpoints[0]["network"] = "projects/123456789012/global/networks/ml-vpc"
    public = attrs(scan(), FULL + PUBLIC_ENDPOINT)
    assert public["in_private_network"] is True
    assert "ml-vpc" in public["network_exposure"]


def test_request_logging_on_and_off(gcp) -> None:
    on = attrs(scan(), FULL + PRIVATE_ENDPOINT)
    assert on["data_capture"] == {
        "enabled": True,
        "destination": f"bq://{PROJECT}.prediction_logs.fraud",
        "sampling_rate": 1.0,
    }
    assert on["access_logging"] is True
    seed_vertex(gcp.shapes, private_endpoint_logged=False)
    off = attrs(scan(), FULL + PRIVATE_ENDPOINT)
    assert off["data_capture"]["enabled"] is False
    assert off["access_logging"] is False
    assert attrs(scan(), FULL + PUBLIC_ENDPOINT)["access_logging"] is False


def test_every_listing_is_followed_to_its_last_page(gcp) -> None:
    gcp.shapes.state.page_max = 1
    found = scan()
    assert attrs(found, FULL + FRAUD_MODEL)["version_count"] == 2
    assert {r.id for r in found.resources if r.type == "endpoint"} == {
        FULL + PUBLIC_ENDPOINT,
        FULL + PRIVATE_ENDPOINT,
    }
    tokens = [p for m, p, _ in gcp.shapes.requests if p.endswith(":listVersions")]
    assert len(tokens) >= 3  # fraud's two versions took two pages


def test_a_denied_version_listing_is_unknown_and_one_problem_line(gcp) -> None:
    gcp.shapes.state.deny.add(f"GET /v1/{FRAUD_MODEL}:listVersions")
    found = scan()
    count = attrs(found, FULL + FRAUD_MODEL)["version_count"]
    assert isinstance(count, Unknown)
    assert count.reason == "denied: aiplatform.models.list"
    assert f"vertex:{PROJECT}/{LOCATION}: denied: aiplatform.models.list (1 call)" in (
        found.problems
    )
    assert attrs(found, f"{FULL}{CHURN_MODEL}@1")["stage"] == "production"


def test_a_denied_pipeline_leaves_the_datasets_unknown(gcp) -> None:
    gcp.shapes.state.deny.add("GET /v1/.*/trainingPipelines/")
    provenance = attrs(scan(), f"{FULL}{FRAUD_MODEL}@2")["provenance"]
    assert isinstance(provenance["datasets"], Unknown)
    assert "aiplatform.trainingPipelines.get" in provenance["datasets"].reason


def test_throttling_is_retried(gcp) -> None:
    gcp.shapes.state.throttle = {r"GET /v1/projects/[^/]+/locations/[^/]+/endpoints": 2}
    found = scan()
    assert found.problems == ()
    assert len([r for r in found.resources if r.type == "endpoint"]) == 2


def test_a_malformed_listing_is_a_problem_never_an_empty_registry(gcp) -> None:
    gcp.shapes.state.malformed.add(r"GET /v1/projects/[^/]+/locations/[^/]+/models$")
    found = scan()
    assert not [r for r in found.resources if r.type == "model"]
    assert any("models: malformed answer" in p for p in found.problems)


def test_unreachable_api_fails_the_source(gcp, monkeypatch) -> None:
    from scanner.demo.servers import free_port

    monkeypatch.setenv(
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_AIPLATFORM", f"http://127.0.0.1:{free_port()}/"
    )
    with pytest.raises(SourceError, match="cannot reach"):
        scan()


def test_no_credentials_fails_the_source(gcp, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(SourceError, match="credentials"):
        scan()


def test_only_reads_are_sent(gcp) -> None:
    scan()
    methods = {(m, p) for m, p, _ in gcp.shapes.requests}
    assert {m for m, p in methods if p != "/token"} == {"GET"}


def test_a_version_without_an_id_is_a_problem_not_a_guess(gcp) -> None:
    del gcp.shapes.state.versions[FRAUD_MODEL][0]["versionId"]
    found = scan()
    ids = {r.id for r in found.resources if r.type == "model_version"}
    assert f"{FULL}{FRAUD_MODEL}@2" in ids
    assert not any(i.endswith("@") for i in ids)
    assert any("a version has no versionId" in p for p in found.problems)
