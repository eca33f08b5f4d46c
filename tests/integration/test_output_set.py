"""An output set stays consistent, or detectably mixed, when the run writing it is killed.

A real process writes a second output set over a first and is SIGKILLed at each step of the
write: after the k-th temporary file is staged, or before the k-th rename. Afterwards the
directory must hold the old set, the new set, or a results.json whose recorded digests show
which files are not its own (`modelward report --check` exits 2); the temporary files the
killed process left are removed by the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.commands.documents import render_all
from scanner.outputs.interface import mismatched_outputs
from tests.helpers import REPO
from tests.results_builder import build_results

FORMATS = ["json", "html", "csv", "sarif"]

KILLER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from scanner.commands.documents import render_all
    import scanner.outputs.interface as interface

    out, document = Path(sys.argv[1]), json.load(open(sys.argv[2]))
    step, when = int(sys.argv[3]), sys.argv[4]
    calls = {"replace": 0, "fsync": 0}
    real = {"replace": os.replace, "fsync": os.fsync}

    def counting(name):
        def call(*args):
            if when == name and calls[name] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            calls[name] += 1
            return real[name](*args)
        return call

    interface.os.replace = counting("replace")
    interface.os.fsync = counting("fsync")
    render_all(out, sys.argv[5].split(","), document)
    """
)


def _set(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _write(out: Path, seed: int) -> dict[str, bytes]:
    out.mkdir(parents=True, exist_ok=True)
    render_all(out, FORMATS, build_results(seed=seed))
    return {k: v for k, v in _set(out).items() if not k.startswith(".")}


@pytest.mark.parametrize("when", ["fsync", "replace"])
def test_a_run_killed_while_writing_leaves_an_old_new_or_detectably_mixed_set(
    tmp_path: Path, when: str
) -> None:
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(build_results(seed=2)))
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    steps = len(_write(tmp_path / "probe", 2))
    outcomes = set()
    for step in range(steps):
        out = tmp_path / f"{when}-{step}"
        old = _write(out, 1)
        new = _write(tmp_path / f"expected-{when}-{step}", 2)
        proc = subprocess.run(
            [sys.executable, str(script), str(out), str(newer), str(step), when, ",".join(FORMATS)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        present = {k: v for k, v in _set(out).items() if not k.startswith(".")}
        assert any(k.startswith(".") for k in _set(out)), "a killed run leaves temporaries"
        if present == old:
            outcomes.add("old")
            assert mismatched_outputs(out) == []
        elif _same_run(present, new):
            outcomes.add("new")
        else:
            outcomes.add("mixed")
            assert mismatched_outputs(out), f"step {step}: a mixed set went unnoticed"
        # The next run finishes the job and removes what the killed one left.
        render_all(out, FORMATS, build_results(seed=2))
        assert [k for k in _set(out) if k.startswith(".")] == []
        assert mismatched_outputs(out) == []
    assert "old" in outcomes
    if when == "replace":
        assert "mixed" in outcomes  # the kills between renames are the ones that need the index


def _same_run(present: dict[str, bytes], expected: dict[str, bytes]) -> bool:
    """The same set rendered twice from one document is byte-identical."""
    return present == expected


def test_report_check_names_the_files_of_another_run(cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, 1)
    assert cli("report", str(out / "results.json"), "--check").code == 0
    (out / "report.html").write_bytes(b"<html>from another run</html>")
    r = cli("report", str(out / "results.json"), "--check")
    assert r.code == 2
    assert "report.html: written by another run" in r.err


def test_a_temporary_file_of_a_live_writer_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    live = out / f".results.json.{os.getpid()}.abcdefgh.tmp"
    dead = out / ".results.json.999999999.abcdefgh.tmp"
    legacy = out / ".report.html.k2j4h5g6.tmp"
    foreign = out / ".notes.txt.k2j4h5g6.tmp"
    for path in (live, dead, legacy, foreign):
        path.write_bytes(b"x")
    render_all(out, FORMATS, build_results(seed=3))
    assert live.exists() and foreign.exists()
    assert not dead.exists() and not legacy.exists()
