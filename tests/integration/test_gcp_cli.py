"""`modelward scan --source gcs:… --source vertex:…` in a real process with the built-in pack:
fake-gcs-server behind the GCP shape server (scanner/demo/gcp_estate.py), findings explained
in words, and exit 3 when a provider cannot be read."""

from __future__ import annotations

import pytest

from scanner.demo.gcp_estate import (
    FRAUD_MODEL,
    LOCATION,
    PRIVATE,
    PRIVATE_ENDPOINT,
    PROJECT,
    PUBLIC,
    PUBLIC_ENDPOINT,
    audit_reads,
    perimeter,
)
from tests.helpers import load_results, run_subprocess

pytestmark = pytest.mark.slow

GCS = f"gcs:project={PROJECT},org_domains=acme.example"
VERTEX = f"vertex:project={PROJECT},location={LOCATION}"
FULL = "//aiplatform.googleapis.com/"


def finding(results: dict, policy: str, resource: str) -> dict:
    (found,) = [
        f for f in results["findings"] if f["policy_id"] == policy and f["resource_id"] == resource
    ]
    return found


def test_gcs_and_vertex_scan_with_the_builtin_pack(gcp, tmp_path) -> None:
    audit_reads(gcp.shapes, True)
    perimeter(gcp.shapes, True)
    out = tmp_path / "out"
    result = run_subprocess(
        "scan", "--source", GCS, "--source", VERTEX, "-o", str(out), env=gcp.env
    )
    assert result.code == 1, result.err  # failures, and every source read completely
    results = load_results(out)
    assert {s["status"] for s in results["scan"]["sources"]} == {"ok"}

    public = finding(results, "MW-STO-01", f"gs://{PUBLIC}")
    assert public["status"] == "fail"
    assert "can be read by anyone: " in public["message"]
    assert public["evidence"]["$check"].startswith("`public` is true")
    assert finding(results, "MW-STO-01", f"gs://{PRIVATE}")["status"] == "pass"

    # Versions and retention: the private bucket keeps them, the public one does not.
    assert finding(results, "MW-STO-04", f"gs://{PUBLIC}")["status"] == "fail"
    assert finding(results, "MW-STO-04", f"gs://{PRIVATE}")["status"] == "pass"
    # Data Access logs cover both; the perimeter restricts both.
    assert finding(results, "MW-STO-03", f"gs://{PUBLIC}")["status"] == "pass"
    assert finding(results, "MW-STO-05", f"gs://{PRIVATE}")["status"] == "pass"
    # The private bucket holds the high-value production model (linked from Vertex): CMEK.
    assert finding(results, "MW-STO-02", f"gs://{PRIVATE}")["status"] == "pass"

    # Endpoints: the public one is neither private nor logged, its PSC twin is both.
    net = finding(results, "MW-NET-01", FULL + PUBLIC_ENDPOINT)
    assert net["status"] == "fail"
    assert "neither in a private network nor with network isolation" in net["message"]
    assert finding(results, "MW-NET-01", FULL + PRIVATE_ENDPOINT)["status"] == "pass"
    assert finding(results, "MW-API-04", FULL + PUBLIC_ENDPOINT)["status"] == "fail"
    assert finding(results, "MW-API-04", FULL + PRIVATE_ENDPOINT)["status"] == "pass"

    # The production version's registry entry says who owns it and where it may run.
    assert finding(results, "MW-INV-01", f"{FULL}{FRAUD_MODEL}@2")["status"] == "pass"
    assert finding(results, "MW-INV-05", FULL + PRIVATE_ENDPOINT)["status"] == "pass"
    # The served churn version was never authorised for its endpoint.
    served = finding(results, "MW-INV-05", FULL + PUBLIC_ENDPOINT)
    assert served["status"] == "fail"
    assert "authorised: no" in served["message"]
    # Registered files are registered; files no registry names are not.
    assert finding(results, "MW-INV-03", f"gs://{PRIVATE}/fraud/v3")["status"] == "pass"
    assert finding(results, "MW-INV-03", f"gs://{PUBLIC}/fraud/v3")["status"] == "fail"


def test_a_denied_provider_exits_3_never_passes(gcp, tmp_path) -> None:
    gcp.shapes.state.deny.add(r"GET /storage/v1/b$")
    result = run_subprocess("scan", "--source", GCS, "-o", str(tmp_path / "out"), env=gcp.env)
    assert result.code == 3
    assert "storage.buckets.list" in result.err


def test_an_unreachable_provider_exits_3(gcp, tmp_path) -> None:
    from scanner.demo.servers import free_port

    env = {
        **gcp.env,
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_AIPLATFORM": f"http://127.0.0.1:{free_port()}/",
    }
    result = run_subprocess("scan", "--source", VERTEX, "-o", str(tmp_path / "out"), env=env)
    assert result.code == 3
    assert "cannot reach" in result.err
