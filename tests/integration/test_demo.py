"""`modelward demo` (what `make demo` runs): the README's first command works end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner import diff, results
from scanner.demo import azure_estate, gcp_estate
from scanner.demo.servers import free_port, port_is_free
from tests.helpers import REPO, run_subprocess
from tests.standards import in_ci

pytestmark = pytest.mark.slow
DEMO = [sys.executable, "-m", "scanner", "demo"]
# The sources each optional cloud adds, and the name the demo gives the cloud when it skips it.
CLOUDS = {"Azure": {"azure-subscription"}, "Google Cloud": {"gcs-project", "vertex-registry"}}
VERTEX_MODEL = f"//aiplatform.googleapis.com/{gcp_estate.FRAUD_MODEL}"


@pytest.fixture(scope="module")
def port() -> int:
    """Both demo runs of this module on the same ports, as two runs on a user's machine are."""
    for _ in range(50):
        base = free_port()
        if base < 65000 and port_is_free(base + 1):
            return base
    pytest.fail("no two consecutive free ports")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, port):
    out = tmp_path_factory.mktemp("demo") / "out"
    r = run_subprocess("demo", "-o", str(out), "--port", str(port), timeout=900)
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
    expected = {"mlflow-registry", "aws-account", "evidence", "cloudtrail-data-events"}
    for cloud, names in CLOUDS.items():
        if cloud not in skipped:
            expected |= names
    assert {s["name"]: s["status"] for s in doc["scan"]["sources"]} == dict.fromkeys(expected, "ok")
    types = {res["type"] for res in doc["resources"]}
    assert {"model", "model_version", "storage", "principal", "endpoint", "attestation"} <= types
    assert "demo: open " in r.out
    config = (out / "estate" / "modelward.yaml").read_text()
    assert "mlflow:http://127.0.0.1:" in config
    assert "\n  dir: ..\n" in config  # the outputs, relative to the config: reusable
    assert config.startswith("# The config `modelward demo` scanned with")
    assert f"modelward demo -o {out} --keep-running" in config


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
    assert "model.pkl imports os.system" in flagged["message"]


def test_demo_shows_who_can_read_and_who_did(demo):
    """The trail of data events: a standing role idle for 120 days, a just-in-time role that is
    not standing access, and a public-IP download of every production model."""
    _, out = demo
    # The release pipeline writes production models to the registry bucket.
    unused = _findings(out, "MW-IAM-05")["s3://acme-ml-registry"]
    assert unused["status"] == "fail"
    assert "role ml-reporting can read s3://acme-ml-registry" in unused["message"]
    assert "ml-breakglass" not in unused["message"]
    theft = _findings(out, "MW-NET-04")["s3://acme-ml-registry"]
    assert theft["status"] == "fail"
    assert "user alice read" in theft["message"]
    assert "198.51.100.23" in theft["message"]
    html = (out / "report.html").read_text()
    assert "Who can read and who did" in html
    assert "ml-reporting" in html


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
    # The only checks left unanswered are those on the bucket that denies reads on purpose,
    # and access-use checks on buckets whose reads the trail does not log.
    errors = [f for f in doc["findings"] if f["status"] == "error"]
    assert errors and all(
        f["resource_id"].startswith("s3://acme-ml-artifacts/")
        or "no data events for this bucket" in f["message"]
        for f in errors
    ), [(f["policy_id"], f["resource_id"]) for f in errors]


def _env_file(path) -> dict[str, str]:
    pairs = (
        line.removeprefix("export ").split("=", 1)
        for line in path.read_text().splitlines()
        if line.startswith("export ")
    )
    return dict(pairs)


def test_keep_running_serves_the_estate_the_config_scans_it_again_and_ids_stay(
    demo, port, tmp_path
):
    """A second demo run on the same ports, kept running: the written config scans it from
    another process, the resource ids are those of the first run (diff: nothing new, fixed
    or gone), and Ctrl-C stops the servers."""
    _, first = demo
    out = tmp_path / "again"
    proc = subprocess.Popen(
        [*DEMO, "-o", str(out), "--port", str(port), "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 900
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("demo: press Ctrl-C"):
                break
        else:
            pytest.fail("the demo did not say it keeps running")
        assert lines[-1] == "demo: press Ctrl-C to stop the servers", "\n".join(lines[-40:])
        assert f"  MLflow registry (UI and API)  http://127.0.0.1:{port}" in lines
        assert not port_is_free(port) and not port_is_free(port + 1)  # still serving

        env = _env_file(out / "estate" / "demo.env")
        assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port + 1}"
        rescan = run_subprocess(
            "scan", "-q", "-c", str(out / "estate" / "modelward.yaml"), env=env, timeout=300
        )
        assert rescan.code == 3, rescan.err  # as the demo's own scan: Unknowns at critical
        again = results.load(out / "results.json")
        assert {s["status"] for s in again["scan"]["sources"]} == {"ok"}
        compared = diff.diff(results.load(first / "results.json"), again, "first", "again")
        assert {k: v for k, v in compared["summary"].items() if k != "unchanged"} == {
            "new": 0,
            "fixed": 0,
            "gone": 0,
            "changed": 0,
        }
        before = {r["id"] for r in results.load(first / "results.json")["resources"]}
        assert before == {r["id"] for r in again["resources"]}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, rest
    assert "demo: stopping the servers" in rest
    assert port_is_free(port) and port_is_free(port + 1)


def test_the_demo_report_prints_as_a_board_pack(demo):
    """5 to 15 A4 pages, with the Azure and Google Cloud estates beside MLflow and AWS too: the
    executive summary, the overview, what to fix first and the framework tables, naming a few
    failing resources per policy and per control and counting the rest; every finding, policy,
    resource and each provider's steps stay on screen."""
    from tests.integration.report_browser import CHROMIUM, CHROMIUM_ARGS, missing, pdf_pages

    _, out = demo
    if not CHROMIUM.exists():
        missing("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto((out / "report.html").as_uri(), wait_until="load")
        pages = pdf_pages(page)
        browser.close()
    assert 5 <= pages <= 15, pages


SNAPSHOT = REPO / "tests" / "integration" / "snapshots" / "demo_messages.json"
# What a message must never look like: the evaluator talking to itself instead of to an auditor.
EVALUATOR_OUTPUT = re.compile(
    r"is (true|false), expected (true|false)|item\(s\), expected|none of the alternatives holds"
    r"|is not set \(expected|must not hold: |matches: \w+ (equals|in) "
)


def _messages(out) -> dict[str, str]:
    doc = json.loads((out / "results.json").read_text())
    port = re.compile(r"127\.0\.0\.1:\d+")
    run_id = re.compile(r"\b[0-9a-f]{32}\b")  # MLflow run ids differ between demo runs
    # The demo's access logs are dated relative to the day it runs: the log window's times
    # and the day of a bulk read move with the clock.
    moving = [
        (re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"), "TIME"),
        (re.compile(r" on \d{4}-\d{2}-\d{2}\b"), " on DAY"),
    ]

    def masked(text: str) -> str:
        text = run_id.sub("RUN_ID", port.sub("127.0.0.1:PORT", text))
        for pattern, word in moving:
            text = pattern.sub(word, text)
        return text

    return {
        f"{f['policy_id']} {f['resource_name']}": masked(f["message"])
        for f in doc["findings"]
        if f["status"] == "fail"
    }


def test_every_failing_finding_of_the_demo_says_why_in_words(demo):
    """Snapshot of the demo's failure messages (MODELWARD_UPDATE_SNAPSHOTS=1 rewrites it)."""
    r, out = demo
    assert r.code == 0, r.err[-3000:]
    messages = _messages(out)
    assert messages
    talking_to_itself = {k: m for k, m in messages.items() if EVALUATOR_OUTPUT.search(m)}
    assert talking_to_itself == {}
    if os.environ.get("MODELWARD_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(messages, indent=2, sort_keys=True) + "\n")
    assert messages == json.loads(SNAPSHOT.read_text())
