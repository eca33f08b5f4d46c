"""Rate-limit calibration: what normal per-client volume is, and the limits it supports.

Percentiles are over *active* client-days (and client-10-minute buckets): a day on which a
client sent nothing is not a zero in the population, or a mostly idle population would put
p99 near nothing. Computed in DuckDB, so a month of logs never leaves the database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

MIN_CLIENTS = 20  # a p99 over fewer clients is one client's habits, not a population's


@dataclass(frozen=True)
class Baseline:
    clients: int
    p50_daily: float
    p90_daily: float
    p99_daily: float
    p50_10min: float
    p90_10min: float
    p99_10min: float

    def attributes(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "p50_daily": self.p50_daily,
            "p90_daily": self.p90_daily,
            "p99_daily": self.p99_daily,
            "p50_10min": self.p50_10min,
            "p90_10min": self.p90_10min,
            "p99_10min": self.p99_10min,
        }


def baselines(
    con: duckdb.DuckDBPyConnection, endpoint: str
) -> tuple[Baseline | None, dict[str, Baseline]]:
    """The whole population's baseline and one per tier (clients take their usual tier).
    None / absent where fewer than MIN_CLIENTS clients are there to measure."""
    rows = con.execute(
        """
        WITH qe AS (SELECT client, ts, tier FROM q WHERE endpoint = $1),
        c AS (SELECT client, coalesce(mode(tier), '') AS tier FROM qe GROUP BY client),
        d AS (SELECT client, count(*) AS n FROM qe GROUP BY client, floor(ts / 86400)),
        t AS (SELECT client, count(*) AS n FROM qe GROUP BY client, floor(ts / 600)),
        dq AS (
            SELECT c.tier, count(DISTINCT d.client) AS clients,
                   quantile_cont(d.n, [0.5, 0.9, 0.99]) AS qs
            FROM d JOIN c USING (client) GROUP BY GROUPING SETS ((c.tier), ())
        ),
        tq AS (
            SELECT c.tier, quantile_cont(t.n, [0.5, 0.9, 0.99]) AS qs
            FROM t JOIN c USING (client) GROUP BY GROUPING SETS ((c.tier), ())
        )
        SELECT dq.tier, dq.clients, dq.qs, tq.qs FROM dq
        JOIN tq ON dq.tier IS NOT DISTINCT FROM tq.tier
        ORDER BY dq.tier NULLS FIRST
        """,
        [endpoint],
    ).fetchall()
    overall: Baseline | None = None
    tiers: dict[str, Baseline] = {}
    for tier, clients, daily, tenmin in rows:
        if clients < MIN_CLIENTS:
            continue
        base = Baseline(clients, *(_round(v) for v in daily), *(_round(v) for v in tenmin))
        if tier is None:
            overall = base
        else:
            tiers[tier] = base
    if set(tiers) == {""}:
        tiers = {}  # no tier field: the overall baseline says it all
    return overall, tiers


def recommended_limits(base: Baseline, factor: float) -> dict[str, Any]:
    return {
        "daily": math.ceil(base.p99_daily * factor),
        "per_10min": math.ceil(base.p99_10min * factor),
        "factor": factor,
        "basis": "p99 of active client-days (and client-10-minute buckets) x factor",
    }


def attacker_cost(limits: Mapping[str, Any], queries: Sequence[int]) -> list[dict[str, Any]]:
    """What the limits cost an extractor: account-days to send N queries at the limit.

    An account can send at most min(daily, 144 x per_10min) a day; N queries then take
    ceil(N / that) account-days, spent as one account for that many days or that many
    accounts for a day."""
    per_day = max(1, min(int(limits["daily"]), 144 * int(limits["per_10min"])))
    out = []
    for n in queries:
        account_days = math.ceil(n / per_day)
        out.append(
            {
                "queries": n,
                "per_account_per_day": per_day,
                "account_days": account_days,
                "days_with_1_account": account_days,
                "days_with_10_accounts": math.ceil(account_days / 10),
            }
        )
    return out


def _round(value: float) -> float:
    return round(float(value), 2)
