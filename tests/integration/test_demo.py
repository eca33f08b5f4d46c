"""`modelward demo` (what `make demo` runs): the README's first command works end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner import results
from scanner.demo import azure_estate, gcp_estate
from tests.helpers import run_subprocess
from tests.standards import in_ci

# The sources each optional cloud adds, and the name the demo gives the cloud when it skips it.
CLOUDS = {"Azure": {"azure-subscription"}, "Google Cloud": {"gcs-project", "vertex-registry"}}
VERTEX_MODEL = f"//aiplatform.googleapis.com/{gcp_estate.FRAUD_MODEL}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    r = run_subprocess("demo", "-o", str(out), timeout=900)
    return r, out


def _skipped(out: str) -> dict[str, str]:
    """Cloud → the one line in which the demo said it skipped it (and why)."""
    lines = [line for line in out.splitlines() if line.startswith("demo: skipped ")]
    skipped = {}
    for line in lines:
        cloud = line.removeprefix("demo: skipped ").split(":", 1)[0]
        assert cloud in CLOUDS and cloud not in skipped, line
        skipped[cloud] = line
    return skipped


def test_demo_scans_every_source_and_writes_the_outputs(demo):
    r, out = demo
    assert r.code == 0, r.err[-3000:]
    doc = results.load(out / "results.json")
    skipped = _skipped(r.out)
    expected = {"mlflow-registry", "aws-account", "evidence"}
    for cloud, names in CLOUDS.items():
        if cloud not in skipped:
            expected |= names
    assert {s["name"]: s["status"] for s in doc["scan"]["sources"]} == dict.fromkeys(expected, "ok")
    types = {res["type"] for res in doc["resources"]}
    assert {"model", "model_version", "storage", "principal", "endpoint", "attestation"} <= types
    assert "demo: open " in r.out
    config = (out / "estate" / "modelward.yaml").read_text()
    assert "mlflow:http://127.0.0.1:" in config


def _every_cloud(demo) -> Path:
    """The outputs of a demo that scanned all three clouds (skip, or fail in CI, naming the
    demo's own line when an emulator was not installed)."""
    r, out = demo
    skipped = _skipped(r.out)
    if skipped:
        message = "; ".join(skipped.values())
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return out


# One public store holding a model per cloud, its well-kept twin, and the provider whose steps
# a finding on it shows.
PUBLIC_AND_TWIN = {
    "aws": ("s3://acme-models-public-share", None, "AWS"),
    "azure": (
        f"azure://{azure_estate.BAD}/models",
        f"azure://{azure_estate.GOOD}/models",
        "Azure",
    ),
    "gcp": (f"gs://{gcp_estate.PUBLIC}", f"gs://{gcp_estate.PRIVATE}", "Google Cloud"),
}


def test_demo_finds_a_public_store_in_each_cloud_beside_its_well_kept_twin(demo):
    out = _every_cloud(demo)
    public = _findings(out, "MW-STO-01")
    for bad, good, _ in PUBLIC_AND_TWIN.values():
        assert public[bad]["status"] == "fail", bad
        if good is not None:
            assert public[good]["status"] == "pass", good


def test_demo_outputs_name_resources_from_each_cloud(demo):
    out = _every_cloud(demo)
    doc = json.loads((out / "results.json").read_text())
    ids = {r["id"] for r in doc["resources"]}
    per_cloud = {
        "aws": "s3://acme-models-public-share",
        "azure": f"azure://{azure_estate.BAD}/models/fraud/v3",  # the model in the container
        "gcp": f"gs://{gcp_estate.PUBLIC}/fraud/v3",
        "vertex": f"{VERTEX_MODEL}@2",
    }
    assert set(per_cloud.values()) <= ids
    report = (out / "report.html").read_text()
    cdx = json.loads((out / "bom.cdx.json").read_text())
    cdx_refs = {c.get("bom-ref") for c in cdx["components"]}
    spdx = (out / "bom.spdx.json").read_text()
    for cloud, rid in per_cloud.items():
        assert rid in report, cloud
    for cloud in ("azure", "gcp", "vertex"):  # models and model files are what a BOM lists
        assert per_cloud[cloud] in cdx_refs, cloud
        assert f'"{per_cloud[cloud]}' in spdx, cloud
    assert any(ref and ref.startswith("s3://") for ref in cdx_refs)


def test_demo_keeps_each_clouds_anonymous_readers_apart(demo):
    out = _every_cloud(demo)
    doc = json.loads((out / "results.json").read_text())
    anonymous = {
        r["id"]: {ref["$ref"] for ref in r["attributes"]["can_read"]}
        for r in doc["resources"]
        if r["type"] == "principal" and r["attributes"].get("kind") == "anonymous"
    }
    assert "s3://acme-models-public-share" in anonymous["*"]
    assert f"azure://{azure_estate.BAD}/models" in anonymous["azure-principal://anonymous"]
    assert f"gs://{gcp_estate.PUBLIC}" in anonymous["allUsers"]
    everything = set().union(*anonymous.values())
    assert not any(store.startswith(("azure://", "gs://")) for store in anonymous["*"])
    assert f"azure://{azure_estate.GOOD}/models" not in everything


def test_demo_sarif_shows_each_cloud_with_its_own_remediation(demo):
    out = _every_cloud(demo)
    sarif = json.loads((out / "results.sarif").read_text())
    public = {}
    for result in sarif["runs"][0]["results"]:
        if result["ruleId"] == "MW-STO-01":
            where = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            public[where] = result
    for provider, (bad, good, label) in PUBLIC_AND_TWIN.items():
        result = public[bad]
        assert result["properties"]["provider"] == provider
        assert f"How to fix on {label}:" in result["message"]["text"]
        assert good not in public  # the well-kept twin passes, and SARIF lists failures


def _findings(out, policy):
    doc = json.loads((out / "results.json").read_text())
    return {f["resource_id"]: f for f in doc["findings"] if f["policy_id"] == policy}


def test_demo_shows_the_seeded_misconfigurations(demo):
    _, out = demo
    assert _findings(out, "MW-STO-01")["s3://acme-models-public-share"]["status"] == "fail"
    assert _findings(out, "MW-IAM-04")["s3://acme-partner-exchange"]["status"] == "fail"
    alice = "arn:aws:iam::123456789012:user/alice"
    assert _findings(out, "MW-IAM-03")[alice]["status"] == "fail"
    endpoints = _findings(out, "MW-API-06")
    statuses = {rid.rsplit("/", 1)[-1]: f["status"] for rid, f in endpoints.items()}
    assert statuses["credit-prod"] == "fail"
    assert statuses["fraud-prod"] == "pass"
    served = _findings(out, "MW-INV-05")
    legacy = next(f for rid, f in served.items() if rid.endswith("/recommender-legacy"))
    assert legacy["status"] == "fail"


def test_demo_flags_the_malicious_pickle_in_the_partner_bucket(demo):
    _, out = demo
    flagged = _findings(out, "MW-INT-03")["s3://acme-partner-exchange/models/churn-v0"]
    assert flagged["status"] == "fail"
    assert "serialization.unsafe" in flagged["message"]
