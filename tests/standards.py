"""Standard documents the project does not own, found through one setting.

The official SARIF 2.1.0 JSON Schema and the SPDX 3.0.1 JSON Schema, JSON-LD context and SHACL
model are published by OASIS and the SPDX project; they are not copied into this repository.
Conformance tests read them from `MODELWARD_STANDARDS_DIR` (default: `../shared/data` beside
the checkout), laid out as `sarif-2.1.0/sarif-schema-2.1.0.json` and `spdx-3.0.1/...`.

Where a document is absent, its conformance tests skip with a reason that names the setting;
under CI (`CI` set to anything but "", "0" or "false") they fail instead, so a CI run never
passes without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import REPO

ENV = "MODELWARD_STANDARDS_DIR"
STANDARDS_DIR = Path(
    os.environ.get(ENV) or REPO.parent / "shared" / "data"
)  # MODELWARD_STANDARDS_DIR


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def standard(relative: str) -> Path:
    """The path of one standard document, or skip (fail under CI) naming the setting."""
    path = STANDARDS_DIR / relative
    if path.is_file():
        return path
    reason = (
        f"standard document {relative} not found in {STANDARDS_DIR}: set {ENV} to the folder "
        f"holding the official schemas (see docs/testing.md)"
    )
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
