"""The wheel carries the policy pack, mappings and templates: `pip install .` in a fresh venv,
then modelward works from an unrelated directory (not the checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO, pickle_model, policy_pack, safe_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
        check=True,
        timeout=300,
    )
    return next(dist.glob("modelward-*.whl"))


def test_wheel_ships_the_data_folders(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("policies", "mappings", "reports"):
        tracked = [p for p in (REPO / folder).rglob("*") if p.is_file()]
        assert tracked, folder
        for file in tracked:
            assert f"scanner/_bundled/{file.relative_to(REPO).as_posix()}" in names
    for schema in ("results", "config", "mapping", "attestations", "policy-test", "diff"):
        assert f"scanner/schemas/{schema}.schema.json" in names
    assert "scanner/policy/schema/policy.schema.json" in names


def test_installed_modelward_works_from_any_directory(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=600
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exe = str(venv / "bin" / "modelward")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], cwd=elsewhere, capture_output=True, text=True, timeout=120
        )

    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("modelward ")
    # The package must not be importing the checkout: its bundled data comes from the wheel.
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import scanner.bundled as b; print(b.bundled_dir('policies'))",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_bundled" in where.stdout and str(REPO) not in where.stdout
    pack = policy_pack(tmp_path / "pack")
    assert run("policies", "validate", str(pack)).returncode == 0
    listed = run("policies", "list")
    assert listed.returncode == 0 and "MW-STO-01" in listed.stdout
    frameworks = run("frameworks", "list")
    assert frameworks.returncode == 0 and "9 frameworks" in frameworks.stdout
    assert run("policies", "test", str(REPO / "policies")).returncode == 0
    models = tmp_path / "models"
    safe_model(models)
    pickle_model(models)
    scan = run(
        "scan",
        "--source",
        f"path:{models}",
        "--policies",
        str(pack),
        "-o",
        "out",
        "--format",
        "json,html,md,csv",
        "--skip-policy",
        "T-GOV-*",
        "--skip-policy",
        "MW-*",
    )
    assert scan.returncode == 1, scan.stderr
    assert (elsewhere / "out" / "results.json").is_file()
    # The report templates come from the wheel, and Jinja2 came with it as a dependency.
    assert "Model IP protection gap report" in (elsewhere / "out" / "report.html").read_text()
    diff = run("diff", "out/results.json", "out/results.json", "--format", "json")
    assert diff.returncode == 0, diff.stderr
