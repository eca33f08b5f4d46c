"""PRADA (Juuti et al., 2019) as a candidate detector, evaluated before it may ship.

For each query, the distance to the nearest earlier query of the same predicted class; PRADA
expects those distances to be roughly normal for benign clients and alarms when the
Shapiro-Wilk statistic W of the set falls below a threshold. Here the score is 1 - min W over
checkpoints (every 10 queries once 20 distances exist), calibrated like the shipped detectors.
It ships only if it adds detections at the same false-positive rate.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from benchmarks.extraction.world import Stream, World
from scanner.sources.logs.detectors import nearest_previous

MIN_SIZE, EVERY = 20, 10


def trajectory(stream: Stream, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(checkpoint positions, 1 - W at each)."""
    distances = np.full(len(stream.x), np.nan)
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        near = nearest_previous(stream.x[idx].astype(np.float32), window=len(idx))
        distances[idx] = near
    finite = np.isfinite(distances)
    order = np.flatnonzero(finite)
    positions, values = [], []
    for k in range(MIN_SIZE, len(order) + 1, EVERY):
        sample = distances[order[:k]]
        if np.ptp(sample) == 0:
            continue
        positions.append(order[k - 1])
        values.append(1.0 - stats.shapiro(sample).statistic)
    return np.asarray(positions, dtype=np.int64), np.asarray(values)


def prada_all(world: World) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for stream in world.streams:
        out[stream.client] = trajectory(stream, world.data.victim.predict(stream.x))
    return out


def scores(trajectories: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, float]]:
    return {c: {"prada": float(v.max()) if v.size else 0.0} for c, (_, v) in trajectories.items()}


def alarms(
    world: World, trajectories: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float
) -> dict[str, float]:
    ts = {s.client: s.ts for s in world.streams}
    out = {}
    for client, (positions, values) in trajectories.items():
        over = np.flatnonzero(values >= threshold)
        if over.size:
            out[client] = float(ts[client][positions[over[0]]])
    return out
