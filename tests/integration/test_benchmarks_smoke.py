"""Benchmarks must keep running: each one at a tiny size, checking it prints its ratio."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("benchmarks.bench_evaluate", ["--storages", "300", "--repeat", "1"]),
        ("benchmarks.bench_report", ["--scale", "20", "--repeat", "1"]),
        ("benchmarks.bench_evidence", ["--scale", "20", "--repeat", "1"]),
        ("benchmarks.bench_gate", ["--findings", "300", "--waivers", "20", "--repeat", "1"]),
        ("benchmarks.bench_answer_checks", ["--keys", "50", "--records", "5", "--repeat", "1"]),
        ("benchmarks.bench_bom", ["--versions", "20", "--repeat", "1"]),
        (
            "benchmarks.bench_path_source",
            ["--models", "2", "--mb-per-model", "1", "--small-files", "20"],
        ),
        ("benchmarks.bench_serialization", ["--layers", "5", "--repeat", "1"]),
        ("benchmarks.bench_oci_layout", ["--weights-mb", "2", "--small-files", "50"]),
        (
            "benchmarks.bench_aws_source",
            ["--buckets", "8", "--roles", "5", "--endpoints", "2", "--repeat", "1"],
        ),
        ("benchmarks.bench_scale", ["--resources", "500"]),
        ("benchmarks.bench_org", ["--accounts", "2", "--buckets", "2", "--roles", "1"]),
        ("benchmarks.bench_signatures", ["--models", "2", "--size", "1", "--repeat", "1"]),
        # Starts a real MLflow server: about half a minute, most of it the server's start-up.
        ("benchmarks.bench_mlflow_source", ["--models", "2", "--versions", "10"]),
    ],
)
def test_benchmark_runs(module, args):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "ratio" in proc.stdout


def test_extraction_benchmark_runs():
    """The extraction evaluation end to end at a tiny size (its numbers mean nothing here)."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.extraction", "--tiny"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for line in ("calibrated thresholds", "combined |", "PRADA:", "target ("):
        assert line in proc.stdout
