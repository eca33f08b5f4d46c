"""How listing commands print: JSON for pipelines, a plain table for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from scanner.terminal import safe


def dump_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    grid = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        grid.add_row(*(Text(safe(row.get(c, ""))) for c in columns))
    console.print(grid)
