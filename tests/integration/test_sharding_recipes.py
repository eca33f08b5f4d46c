"""The sharded-scan recipes in docs/ci: each one's commands, run as written on local sources,
give the result one unsharded scan gives (after normalising the scan's id and times)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, safe_model

pytestmark = pytest.mark.slow

CI = REPO / "docs" / "ci"
BIN = Path(sys.executable).parent


def _load(name: str) -> list[dict]:
    return list(yaml.safe_load_all((CI / name).read_text(encoding="utf-8")))


MODELS = ("fraud", "churn", "vision")


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> tuple[Path, str]:
    """Local models (one source each), and what one unsharded scan of them writes."""
    root = tmp_path_factory.mktemp("estate")
    for name in MODELS:
        safe_model(root / "models" / name)
    sources = "\n".join(f"  - path:{root}/models/{n}" for n in MODELS)
    (root / "modelward.yaml").write_text(f"sources:\n{sources}\n")
    assert _sh("modelward scan -c modelward.yaml -o whole -q", root) in (0, 1)
    return root, _normalised(root / "whole" / "results.json")


@pytest.fixture
def workspace(estate, tmp_path: Path) -> Path:
    shutil.copy(estate[0] / "modelward.yaml", tmp_path / "modelward.yaml")
    return tmp_path


def _sh(command: str, cwd: Path, **env: str) -> int:
    environment = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env}
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=environment, timeout=300, check=False
    ).returncode


def _normalised(path: Path) -> str:
    document = json.loads(path.read_text())
    for key in ("id", "started_at", "finished_at", "as_of"):
        document["scan"][key] = "-"
    # The digests of the files written beside results.json: the recipes' merge writes the
    # report and SARIF too, the reference scan results.json alone; the verdicts must agree.
    document["scan"].pop("outputs", None)
    return json.dumps(document, indent=2, sort_keys=True)


def _without_install(command: str) -> str:
    return command.replace("pip install --quiet modelward &&", "").strip()


def test_github_actions_matrix(workspace, estate):
    (workflow,) = _load("github-actions-sharded.yml")
    scan, merge = workflow["jobs"]["scan"], workflow["jobs"]["merge"]
    shards = scan["strategy"]["matrix"]["shard"]
    assert scan["strategy"]["fail-fast"] is False
    assert shards == list(range(1, int(workflow["env"]["SHARDS"]) + 1))
    assert merge["needs"] == "scan" and merge["if"] == "always()"
    run = next(s["run"] for s in scan["steps"] if s.get("name", "").startswith("Scan shard"))
    upload = next(s for s in scan["steps"] if "upload-artifact" in s.get("uses", ""))
    for k in shards:
        command = run.replace("${{ matrix.shard }}", str(k))
        assert _sh(command, workspace, SHARDS=workflow["env"]["SHARDS"]) == 0
        # download-artifact with a pattern puts each artifact in a directory of its name
        name = upload["with"]["name"].replace("${{ matrix.shard }}", str(k))
        path = upload["with"]["path"].replace("${{ matrix.shard }}", str(k))
        (workspace / "shards" / name).mkdir(parents=True)
        shutil.copy(workspace / path, workspace / "shards" / name / "results.json")
    step = next(s["run"] for s in merge["steps"] if s.get("name") == "Merge and gate")
    assert _sh(step, workspace) in (0, 1)
    assert _normalised(workspace / "modelward-results" / "results.json") == estate[1]
    assert (workspace / "modelward-results" / "results.sarif").exists()


def test_gitlab_parallel_job(workspace, estate):
    (pipeline,) = _load("gitlab-ci-sharded.yml")
    shard, merge = pipeline["modelward-shard"], pipeline["modelward-merge"]
    total = shard["parallel"]
    assert merge["needs"] == ["modelward-shard"]
    for k in range(1, total + 1):
        for line in shard["script"][1:]:
            env = {"CI_NODE_INDEX": str(k), "CI_NODE_TOTAL": str(total)}
            assert _sh(line, workspace, **env) == 0
    for line in merge["script"][1:]:
        assert _sh(line, workspace) in (0, 1)
    assert _normalised(workspace / "modelward-results" / "results.json") == estate[1]


def test_kubernetes_indexed_job(workspace, estate):
    scan, merge = _load("kubernetes-indexed-job.yaml")
    spec = scan["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"]
    (container,) = spec["template"]["spec"]["containers"]
    (merger,) = merge["spec"]["template"]["spec"]["containers"]

    def local(command: str) -> str:
        return (
            _without_install(command)
            .replace(" /config/", f" {workspace}/")
            .replace('"/results/', f'"{workspace}/results/')
            .replace(" /results/", f" {workspace}/results/")
        )

    for index in range(spec["completions"]):  # Kubernetes counts from 0
        assert _sh(local(container["args"][0]), workspace, JOB_COMPLETION_INDEX=str(index)) == 0
    assert _sh(local(merger["args"][0]), workspace) in (0, 1)
    merged = workspace / "results" / "merged" / "results.json"
    assert _normalised(merged) == estate[1]
