"""The layer rules (docs/design.md, "Layers") hold, and breaking one fails with the rule's name.

The contracts live in pyproject.toml ([tool.importlinter]); `make layers` runs the same
`lint-imports`. Each broken case copies the package, adds one forbidden import to the copy
and runs the real linter on it, so a contract that could never fail would fail here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]["contracts"]
}


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `scanner` package found in `project` (first on the path)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_layer_contract_holds() -> None:
    r = lint_imports(REPO)
    assert r.returncode == 0, f"an import breaks the layer rules:\n{r.stdout}{r.stderr}"
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in r.stdout


@pytest.mark.parametrize(
    ("module", "added", "contract"),
    [
        ("inventory.py", "import scanner.cli", "layers"),
        ("sources/interface.py", "import scanner.commands.scan", "sources-below-cli"),
        ("outputs/json_writer.py", "import scanner.sources.registry", "no-sources-downstream"),
        ("gate.py", "from scanner.sources import interface", "no-sources-downstream"),
        ("evidence/pack.py", "import scanner.sources.registry", "no-sources-downstream"),
        ("evidence/pack.py", "import scanner.outputs.registry", "layers"),
        ("evidence/check.py", "import scanner.scan", "layers"),
        ("policy/model.py", "import scanner.outputs.registry", "policy-alone"),
        ("sources/interface.py", "import scanner.sources.registry", "source-providers"),
        ("sources/logs/model.py", "import scanner.sources.logs.analyze", "acyclic"),
        ("errors.py", "import scanner.yamlpos", "acyclic"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, added: str, contract: str
) -> None:
    shutil.copytree(
        REPO / "scanner", tmp_path / "scanner", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    target = tmp_path / "scanner" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{added}\n", encoding="utf-8")
    r = lint_imports(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{CONTRACTS[contract]} BROKEN" in r.stdout
    importer = "scanner." + module.removesuffix(".py").replace("/", ".")
    if contract == "acyclic":  # the package whose modules now import each other is named
        assert f"No cycles are allowed in {importer.rsplit('.', 1)[0]}." in r.stdout
    else:  # and so is the import that breaks the rule
        assert f"{importer} -> " in r.stdout, r.stdout
