"""`modelward scan --source mlflow:…` in a real process against the seeded MLflow server:
results.json, registry policies, exit codes, and no credential anywhere in what is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import load_results, run_subprocess, write
from tests.servers.mlflow_fixtures import SeededServer

# Small policies in the spirit of the built-in inventory checks (MW-INV-01/02/04/06).
POLICIES = {
    "owner.yaml": """
        id: T-INV-01
        title: Every registered model version has an owner
        severity: high
        maturity: applied
        resource: model_version
        check: {field: owner, exists: true}
    """,
    "classification.yaml": """
        id: T-INV-02
        title: Registered models carry a data classification
        severity: medium
        maturity: applied
        resource: model
        check: {field: classification, in: [public, internal, confidential, restricted]}
    """,
    "provenance.yaml": """
        id: T-INV-04
        title: Production versions record their training run and datasets
        severity: high
        maturity: applied
        resource: model_version
        scope: {field: stage, equals: production}
        check:
          all:
            - {field: provenance.run, exists: true}
            - {field: provenance.datasets, count_at_least: 1}
            - {field: provenance.code.commit, exists: true}
    """,
    "deployments.yaml": """
        id: T-INV-06
        title: Production versions name the deployments they may be served by
        severity: medium
        maturity: applied
        resource: model_version
        scope: {field: stage, equals: production}
        check: {field: authorized_deployments, count_at_least: 1}
    """,
}
TOKEN = "tok-SECRET-7f3a"
PASSWORD = "pw-SECRET-91b2"


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mlflow-pack")
    for name, text in POLICIES.items():
        write(root / name, text)
    return root


def scan(url: str, pack: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    return run_subprocess(
        "scan", "--no-builtin-policies", "--source", f"mlflow:{url}", "--policies", str(pack),
        "-o", str(out), *extra, env=env,
    )  # fmt: skip


def test_scan_evaluates_registry_policies(mlflow_registry: SeededServer, pack, tmp_path):
    url = mlflow_registry.url.replace("http://", f"http://ci-user:{PASSWORD}@")
    env = {"MLFLOW_TRACKING_TOKEN": TOKEN, "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    r = scan(url, pack, tmp_path / "out", "-v", env=env)
    # The deleted run is a problem: the source is in error, so the gate exits 3.
    assert r.code == 3, r.err
    doc = load_results(tmp_path / "out")
    source = doc["scan"]["sources"][0]
    assert source["status"] == "error"
    assert "run" in source["error"] and "was deleted" in source["error"]
    types = {res["type"] for res in doc["resources"]}
    assert {"model", "model_version", "artefact"} <= types
    base = f"mlflow+{mlflow_registry.url}/models"
    status = {(f["policy_id"], f["resource_id"]): f["status"] for f in doc["findings"]}
    assert status[("T-INV-01", f"{base}/fraud/versions/1")] == "pass"
    assert status[("T-INV-01", f"{base}/churn/versions/1")] == "fail"
    assert status[("T-INV-02", f"{base}/fraud")] == "pass"
    assert status[("T-INV-02", f"{base}/churn")] == "fail"
    assert status[("T-INV-04", f"{base}/fraud/versions/1")] == "pass"
    assert status[("T-INV-04", f"{base}/fraud/versions/3")] == "not_applicable"
    assert status[("T-INV-06", f"{base}/fraud/versions/1")] == "pass"
    # No credential in anything written or printed, whether from the URI or the environment.
    written = (tmp_path / "out" / "results.json").read_text()
    for secret in (TOKEN, PASSWORD):
        assert secret not in written
        assert secret not in r.err and secret not in r.out


def test_allow_partial_leaves_the_verdict_to_the_findings(mlflow_registry, pack, tmp_path):
    r = scan(mlflow_registry.url, pack, tmp_path / "out", "--allow-partial")
    assert r.code == 1, r.err  # T-INV-01 fails on churn/1 (high)
    doc = load_results(tmp_path / "out")
    hostile = next(x for x in doc["resources"] if x["name"] == "hostile")
    assert hostile["attributes"]["tags"]["control"] == "line1\nline2\x1b[31mred\x00nul\u202eevil"
    assert "\x1b" not in r.out and "\x1b" not in r.err  # the terminal gets escapes, not ESC


def test_unreachable_server_exits_3_with_one_line(pack, tmp_path):
    from tests.servers.mlflow_server import free_port

    port = free_port()
    r = scan(f"http://127.0.0.1:{port}", pack, tmp_path / "out", "-q")
    assert r.code == 3
    assert f"MLflow server http://127.0.0.1:{port}: connection refused" in r.err
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["scan"]["sources"][0]["status"] == "error"


def test_skinny_client_names_the_extra_for_a_sqlite_store(pack, tmp_path):
    """Without SQLAlchemy (as with mlflow-skinny alone) a local store cannot be read."""
    blocker = tmp_path / "blocker"
    write(
        blocker / "sqlalchemy" / "__init__.py",
        "raise ModuleNotFoundError(\"No module named 'sqlalchemy'\", name='sqlalchemy')\n",
    )
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"SQLite format 3\x00")
    from tests.helpers import REPO

    r = scan(
        f"sqlite:///{db}", pack, tmp_path / "out", "-q",
        env={"PYTHONPATH": f"{blocker}:{REPO}"},
    )  # fmt: skip
    assert r.code == 3, r.err
    assert "pip install 'modelward[mlflow-local]'" in r.err
    assert len([line for line in r.err.splitlines() if "mlflow-local" in line]) == 1
