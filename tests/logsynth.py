"""Synthetic inference logs for the logs-source tests: small, seeded, shaped to the detectors.

Benign clients draw inputs from a mixture of Gaussian blobs (the "natural" distribution) at a
few queries a day; the attackers below each show one pattern a detector exists for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DAY = 86400.0
START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC).timestamp()
DIM = 8


@dataclass
class Log:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    centers: np.ndarray = field(
        default_factory=lambda: np.random.default_rng(1).normal(0, 4, (4, DIM))
    )

    def natural(self, n: int) -> np.ndarray:
        picks = self.rng.integers(0, len(self.centers), n)
        return self.centers[picks] + self.rng.normal(0, 1, (n, DIM))

    def scores(self, x: np.ndarray) -> np.ndarray:
        d = -((x[:, None, :] - self.centers[None]) ** 2).sum(axis=2) / 8
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def add(self, client: str, ts: Iterable[float], x: np.ndarray, **extra: Any) -> None:
        s = self.scores(x)
        for t, row, sc in zip(ts, x, s, strict=True):
            record = {
                "client": client,
                "ts": _iso(t),
                "features": [round(float(v), 4) for v in row],
                "scores": [round(float(v), 4) for v in sc],
            }
            record.update(extra)
            self.rows.append(record)

    def benign(self, clients: int = 40, days: int = 30, per_day: int = 4, **extra: Any) -> None:
        for c in range(clients):
            n = days * per_day
            ts = np.sort(START + self.rng.uniform(0, days * DAY, n))
            self.add(f"user-{c:03d}", ts, self.natural(n), **_extra(extra, c))

    def burst(self, client: str, day: int, n: int, x: np.ndarray | None = None, **extra) -> None:
        ts = START + day * DAY + 3600 + np.arange(n) * 30.0
        self.add(client, ts, self.natural(n) if x is None else x, **extra)

    def random_prober(self, client: str, day: int, n: int = 60, **extra: Any) -> None:
        x = self.rng.uniform(-20, 20, (n, DIM))
        ts = START + day * DAY + np.arange(n) * 900.0
        self.add(client, ts, x, **extra)

    def perturber(self, clients: list[str], day: int, n: int = 80, **extra: Any) -> None:
        """Jacobian-style: natural seeds, then each query a small step from an earlier one;
        spread round-robin over `clients`."""
        seeds = self.natural(8)
        points = [*seeds]
        while len(points) < n:
            parent = points[len(points) - len(seeds)]
            points.append(parent + self.rng.choice([-0.05, 0.05], DIM))
        for i, point in enumerate(points):
            self.add(
                clients[i % len(clients)], [START + day * DAY + i * 900.0], point[None, :], **extra
            )

    def write_jsonl(self, path: Path, drop: tuple[str, ...] = ()) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = sorted(self.rows, key=lambda r: (r["ts"], r["client"]))
        if drop:
            rows = [{k: v for k, v in r.items() if k not in drop} for r in rows]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path


def _extra(extra: dict[str, Any], c: int) -> dict[str, Any]:
    return {k: (v(c) if callable(v) else v) for k, v in extra.items()}


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def boundary_points(log: Log, n: int) -> np.ndarray:
    """Points half-way between two blobs: the model's answer is a coin toss there."""
    a, b = log.centers[0], log.centers[1]
    mid = (a + b) / 2
    return mid + log.rng.normal(0, 0.05, (n, DIM))


def chained_perturber(
    log: Log,
    accounts: list[str],
    day: int,
    seeds: int = 5,
    rounds: int = 24,
    step: float = 0.07,
    **extra: Any,
) -> None:
    """Jacobian-style chains spread so that no account holds two consecutive links of a chain:
    round r of every chain goes to account r mod len(accounts), ten queries a day in all."""
    current = log.natural(seeds)
    i = 0
    for r in range(rounds):
        owner = accounts[r % len(accounts)]
        for point in current:
            ts = START + day * DAY + i * DAY / 10
            log.add(owner, [ts], point[None, :], **extra)
            i += 1
        current = current + log.rng.choice([-step, step], current.shape)


def bulk_jsonl(
    path: Path, clients: int = 100, per_client: int = 640, days: int = 30, padding: int = 2000
) -> Path:
    """A log larger than a small DuckDB memory cap: few rows (cheap to analyse), each padded
    with a note of `padding` bytes, as real logs carry headers and payloads."""
    rng = np.random.default_rng(3)
    n = clients * per_client
    who = np.repeat(np.arange(clients), per_client)
    ts = START + rng.uniform(0, days * DAY, n)
    x = rng.normal(0, 1, (n, DIM)) + (who % 4)[:, None]
    x[who == 0] = rng.uniform(-30, 30, (per_client, DIM))  # one random prober
    lines = [
        f'{{"client":"c{c}","ts":{t:.3f},"note":"{rng.bytes(padding // 2).hex()}",'
        f'"features":[{",".join(f"{v:.3f}" for v in row)}]}}\n'
        for c, t, row in zip(who, ts, x, strict=True)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path
