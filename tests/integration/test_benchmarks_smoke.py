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
        ("benchmarks.bench_bom", ["--versions", "20", "--repeat", "1"]),
        (
            "benchmarks.bench_path_source",
            ["--models", "2", "--mb-per-model", "1", "--small-files", "20"],
        ),
    ],
)
def test_benchmark_runs(module, args):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "ratio" in proc.stdout
