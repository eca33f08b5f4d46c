"""The README's example is what the command prints: run it as written, compare every line."""

from __future__ import annotations

import re
import shlex

from tests.helpers import REPO, pickle_model, run_subprocess, safe_model, write

README = (REPO / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str) -> str:
    start = README.index(marker)
    match = re.compile(r"```[a-z]*\n(.*?)```", re.S).search(README, start)
    assert match is not None
    return match.group(1)


def test_the_readme_example_prints_what_the_readme_shows(tmp_path):
    write(tmp_path / "my-policies" / "no-pickle.yaml", _block_after("A policy (`my-policies"))
    safe_model(tmp_path / "models", "fraud-detector")
    pickle_model(tmp_path / "models", "legacy")
    console = _block_after("A scan of the model files under `./models`")
    command, *expected = console.splitlines()
    args = shlex.split(command.removeprefix("$ "))
    assert args[0] == "modelward"
    r = run_subprocess(*args[1:], cwd=tmp_path)
    assert r.code == 1, r.err
    assert [line.rstrip() for line in r.out.splitlines()] == expected

    # "Without --no-builtin-policies the same scan evaluates the 39 built-in policies too: 14
    # findings"
    claim = re.search(r"the (\d+) built-in policies too: (\d+)\s+findings", README)
    assert claim is not None
    args.remove("--no-builtin-policies")
    r = run_subprocess(*args[1:-1], str(tmp_path / "out2"), cwd=tmp_path)
    total = re.search(r"^(\d+) findings:", r.out, re.M)
    assert total is not None and total.group(1) == claim.group(2)
    assert f"evaluating {int(claim.group(1)) + 1} policies" in r.err
