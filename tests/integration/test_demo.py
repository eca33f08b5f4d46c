"""`modelward demo` (what `make demo` runs): the README's first command works end to end."""

from __future__ import annotations

import json

import pytest

from scanner import results
from tests.helpers import run_subprocess


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    r = run_subprocess("demo", "-o", str(out), timeout=900)
    return r, out


def test_demo_scans_every_source_and_writes_the_outputs(demo):
    r, out = demo
    assert r.code == 0, r.err[-3000:]
    doc = results.load(out / "results.json")
    assert {s["name"]: s["status"] for s in doc["scan"]["sources"]} == {
        "mlflow-registry": "ok",
        "aws-account": "ok",
        "evidence": "ok",
    }
    types = {res["type"] for res in doc["resources"]}
    assert {"model", "model_version", "storage", "principal", "endpoint", "attestation"} <= types
    assert "demo: open " in r.out
    config = (out / "estate" / "modelward.yaml").read_text()
    assert "mlflow:http://127.0.0.1:" in config


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


def test_demo_verifies_the_signed_production_models_where_they_live(demo):
    _, out = demo
    doc = json.loads((out / "results.json").read_text())

    def status(policy: str, model: str, version: str) -> dict:
        return next(
            f
            for f in doc["findings"]
            if f["policy_id"] == policy
            and f["resource_id"].endswith(f"/models/{model}/versions/{version}")
        )

    # fraud-detector 1: keyless (the demo's own Sigstore), with verified SLSA provenance.
    for policy in ("MW-INT-01", "MW-INT-02", "MW-INT-05"):
        assert status(policy, "fraud-detector", "1")["status"] == "pass", policy
    # pricing-llm-adapter 1: the release key; nobody recorded how it was built.
    assert status("MW-INT-02", "pricing-llm-adapter", "1")["status"] == "pass"
    assert status("MW-INT-05", "pricing-llm-adapter", "1")["status"] == "fail"
    # fraud-detector 2: signed, then its weights were swapped in the bucket.
    tampered = status("MW-INT-02", "fraud-detector", "2")
    assert tampered["status"] == "fail"
    assert "changed: model.safetensors" in tampered["message"]
    # The only checks left unanswered are those on the bucket that denies reads on purpose.
    errors = [f for f in doc["findings"] if f["status"] == "error"]
    assert errors and all(f["resource_id"].startswith("s3://acme-ml-artifacts/") for f in errors)
