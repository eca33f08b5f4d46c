"""Where the policy pack, mappings and report templates are, installed or in a checkout.

In a wheel they sit in ``scanner/_bundled/`` (see pyproject's force-include); in an editable
install or a source checkout they are the top-level folders the authors edit.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """``policies``, ``mappings`` or ``reports``."""
    installed = _PACKAGE_DIR / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / name
