"""One endpoint's traffic, analysed: baseline, reference, every client through every detector
that can run, then the groups (Sybil clusters of new accounts, organisations).

Clients are processed in partitions (by a hash of the client id) sized so that the vectors of
one partition fit the memory budget; the rows of a partition come out of DuckDB already sorted
by client and time. Which detectors ran, and why the others did not, is part of the answer.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable

import duckdb
import numpy as np

from scanner.sources.logs import detectors as det
from scanner.sources.logs.calibration import baselines
from scanner.sources.logs.columns import fetch
from scanner.sources.logs.groups import analyse_groups
from scanner.sources.logs.model import ClientVerdict, Context, EndpointAnalysis, Window
from scanner.sources.logs.options import LogOptions

REFERENCE_PER_CLIENT = 50  # no client shapes more than this many points of the reference
REFERENCE_SAMPLE = 5000
SEED = 20240601  # analysis is deterministic: same logs, same answer
DEFAULT_BUDGET = 256 * 1024 * 1024
MAX_PARTITIONS = 256  # each partition re-reads the table; past this, partitions grow instead
UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def _iso(ts: float) -> str:
    moment = dt.datetime.fromtimestamp(ts, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def budget_bytes(options: LogOptions) -> int:
    if not options.memory_limit:
        return DEFAULT_BUDGET
    text = options.memory_limit.upper()
    unit = next(u for u in sorted(UNITS, key=len, reverse=True) if text.endswith(u))
    return max(1, int(float(text[: -len(unit)]) * UNITS[unit]) // 2)


def analyse_endpoint(
    con: duckdb.DuckDBPyConnection,
    endpoint: str,
    roles: frozenset[str],
    options: LogOptions,
    progress: Callable[[str], None],
) -> EndpointAnalysis:
    row = con.execute(
        "SELECT count(*), min(ts), max(ts), count(DISTINCT client), "
        "count(*) FILTER (WHERE features IS NOT NULL), max(len(features)) "
        "FROM q WHERE endpoint = $1",
        [endpoint],
    ).fetchone()
    assert row is not None
    requests, start, end, n_clients, featured, dim = row
    days = int(math.floor(end / 86400) - math.floor(start / 86400)) + 1
    window = Window(float(start), float(end), days)
    overall, tiers = baselines(con, endpoint)
    skipped: dict[str, str] = {}
    ran: set[str] = set()
    if overall is not None:
        ran.add("volume")
    else:
        skipped["volume"] = f"{n_clients} client(s); a population baseline needs at least 20"
    reference, score_dim, ref_info = _reference(con, endpoint, window, roles, options)
    for name, role in (("ood", "input"), ("near_duplicate", "input"), ("boundary", "output")):
        if role not in roles:
            skipped[name] = f"no {role} field in the mapping"
        elif reference is None or (name == "boundary" and reference.margin is None):
            what = "input vectors" if role == "input" else "numeric output scores"
            skipped[name] = f"fewer than 50 {what} in the reference window"
        else:
            ran.add(name)
    ctx = Context(options, overall, reference, score_dim, frozenset(ran))
    progress(f"endpoint {endpoint or '(unnamed)'}: {requests} requests, {n_clients} clients")
    verdicts = _clients(con, endpoint, ctx, featured or 0, dim or 0)
    groups, group_ran, group_skipped = analyse_groups(con, endpoint, window, roles, ctx, verdicts)
    ran |= group_ran
    skipped.update(group_skipped)
    return EndpointAnalysis(
        endpoint=endpoint,
        requests=requests,
        window=window,
        baseline=overall,
        tiers=tiers,
        detectors_ran=tuple(
            d
            for d in ("volume", "org_volume", "ood", "near_duplicate", "boundary", "sybil")
            if d in ran
        ),
        detectors_skipped=dict(sorted(skipped.items())),
        clients=verdicts,
        groups=groups,
        reference=ref_info,
    )


def _reference(
    con: duckdb.DuckDBPyConnection,
    endpoint: str,
    window: Window,
    roles: frozenset[str],
    options: LogOptions,
) -> tuple[det.Reference | None, int | None, dict[str, float | int | str]]:
    if "input" not in roles and "output" not in roles:
        return None, None, {}
    cutoff = window.start + options.reference_days * 86400.0
    if window.end <= cutoff:
        cutoff = window.end + 1  # a log shorter than the reference window is its own reference
    rows = fetch(
        con,
        f"""
        SELECT client, features, scores FROM q
        WHERE endpoint = $1 AND ts < $2 AND (features IS NOT NULL OR scores IS NOT NULL)
        QUALIFY row_number() OVER (PARTITION BY client ORDER BY hash(ts, client))
                <= {REFERENCE_PER_CLIENT}
        ORDER BY hash(client, ts) LIMIT {REFERENCE_SAMPLE}
        """,
        [endpoint, cutoff],
    )
    rng = np.random.default_rng(SEED)
    owners = np.array(
        [c for c, f in zip(rows["client"], rows["features"], strict=True) if f is not None],
        dtype=object,
    )
    features = [f for f in rows["features"] if f is not None]
    scores = [s for s in rows["scores"] if s is not None]
    score_dim = None
    if scores:
        lengths = np.bincount([len(s) for s in scores])
        score_dim = int(lengths.argmax())
        scores = [s for s in scores if len(s) == score_dim]
    if len(features) < 50:
        if len(scores) < 50:
            return None, None, {}
        # Scores alone: a reference that only knows margins.
        margin = float(np.quantile(det.margins(np.stack(scores)), det.FLAG_RATE))
        empty = np.zeros(0)
        ref = det.Reference(
            empty, empty + 1, None, np.empty((0, 0), np.float32), 0.0, 0.0, 0.0, margin, len(scores)
        )
        return ref, score_dim, {"size": len(scores), "margin": round(margin, 6)}
    ref = det.fit_reference(
        np.stack(features).astype(np.float64),
        np.stack(scores).astype(np.float64) if len(scores) >= 50 else None,
        rng,
        owners,
    )
    assert ref is not None
    info: dict[str, float | int | str] = {
        "size": ref.size,
        "until": _iso(min(cutoff, window.end)),
        "ood_radius": round(ref.ood_radius, 6),
        "close_radius": round(ref.close_radius, 6),
    }
    if ref.margin is not None:
        info["margin"] = round(ref.margin, 6)
    return ref, score_dim, info


def _clients(
    con: duckdb.DuckDBPyConnection, endpoint: str, ctx: Context, featured: int, dim: int
) -> tuple[ClientVerdict, ...]:
    need = featured * max(dim, 1) * 8
    parts = min(MAX_PARTITIONS, max(1, math.ceil(need / budget_bytes(ctx.options))))
    out: list[ClientVerdict] = []
    orgs = dict(
        con.execute(
            "SELECT client, mode(org) FROM q WHERE endpoint = $1 AND org IS NOT NULL "
            "GROUP BY client",
            [endpoint],
        ).fetchall()
    )
    for part in range(parts):
        rows = fetch(
            con,
            "SELECT client, ts, features, scores FROM q "
            "WHERE endpoint = $1 AND hash(client) % $2 = $3 ORDER BY client, ts",
            [endpoint, parts, part],
        )
        clients = rows["client"]
        if len(clients) == 0:
            continue
        cuts = np.r_[0, np.flatnonzero(clients[1:] != clients[:-1]) + 1, len(clients)]
        for lo, hi in itertools.pairwise(cuts):
            ts = np.asarray(rows["ts"][lo:hi], dtype=np.float64)
            features = rows["features"][lo:hi]
            scores = rows["scores"][lo:hi]
            alarms = ctx.judge(ts, features, scores)
            client = str(clients[lo])
            out.append(ClientVerdict(client, int(hi - lo), alarms, orgs.get(client)))
    return tuple(sorted(out, key=lambda v: v.client))
