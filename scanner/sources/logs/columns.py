"""Rows of the requests table as plain arrays, the one way the analysis reads the table."""

from __future__ import annotations

import duckdb
import numpy as np


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> dict[str, np.ndarray]:
    """Columns as plain arrays: DuckDB hands nullable columns over as masked arrays, whose
    masked cells are not None (and compare slowly); here a NULL is None."""
    out = {}
    for name, column in con.execute(sql, params).fetchnumpy().items():
        if isinstance(column, np.ma.MaskedArray):
            mask = np.ma.getmaskarray(column)
            data = column.data.astype(object) if mask.any() else column.data
            if mask.any():
                data[mask] = None
            column = data
        out[name] = column
    return out
