"""The extraction detectors, on NumPy arrays of one client's (or one group's) queries.

Three of them share one statistic. Each query gets a yes/no flag (far from the reference
distribution; a near-duplicate of one of the client's recent queries; an answer close to the
decision boundary), tuned so that about 1 % of reference queries are flagged. A client is
alarmed when the *lower confidence bound* of its flagged share (Clopper-Pearson, at
`confidence`) reaches the threshold share. A bound on the share rather than a count or a
p-value is what keeps heavy benign users quiet: a client with a slightly unusual 3 % rate never
reaches 30 % however many queries it sends, while a client whose every query is flagged is
alarmed after a handful. The score is the highest bound reached; the alarm is the first query
at which it crossed the threshold.

The volume detector compares a client's running count within each UTC day and each 10-minute
bucket against the population's p99 of those counts.

Distances are computed with matrix products in bounded chunks (NumPy/BLAS), not with a k-d
tree: inputs have tens to hundreds of dimensions, where trees degrade to brute force anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

FLAG_RATE = 0.01  # share of reference queries each per-query flag is tuned to
K_NEIGHBOURS = 5
WINDOW = 1000  # a query is compared with the client's previous WINDOW queries
MAX_REFERENCE = 2000
MAX_DIMS = 64  # inputs with more dimensions are projected (PCA on the reference) + residual
MIN_HITS = 3
CHUNK = 1024


@dataclass(frozen=True)
class Alarm:
    """One detector's verdict on one client or group."""

    detector: str
    score: float
    threshold: float
    alarmed: bool
    queries_until_alarm: int | None  # 1-based position in the client's own queries
    alarm_ts: float | None
    reason: str


@dataclass(frozen=True)
class Reference:
    """What normal looks like, fitted on the reference window."""

    center: np.ndarray
    scale: np.ndarray
    components: np.ndarray | None  # (d, r) projection when d > MAX_DIMS
    points: np.ndarray  # the projected reference sample
    ood_radius: float  # k-th neighbour distance that ~1 % of reference queries exceed
    close_radius: float  # nearest-previous distance that ~1 % of reference queries undercut
    exact: float  # distances at or below this are exact repeats (retries), not probing
    margin: float | None  # top-1 minus top-2 score that ~1 % of reference answers undercut
    size: int

    def project(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.center) / self.scale
        if self.components is None:
            projected: np.ndarray = z.astype(np.float32)
            return projected
        p = z @ self.components
        residual = np.linalg.norm(z - p @ self.components.T, axis=1, keepdims=True)
        return np.hstack([p, residual]).astype(np.float32)


def fit_reference(
    features: np.ndarray,
    scores: np.ndarray | None,
    rng: np.random.Generator,
    owners: np.ndarray | None = None,
) -> Reference | None:
    """Fit on a sample of reference queries (at most MAX_REFERENCE, already capped per client
    by the caller so that no single client shapes the reference); `owners` names each
    query's client. None when too few."""
    if features.shape[0] < 50:
        return None
    if features.shape[0] > MAX_REFERENCE:
        pick = rng.choice(features.shape[0], MAX_REFERENCE, replace=False)
        features = features[pick]
        owners = owners[pick] if owners is not None else None
    x = features.astype(np.float64)
    # The reference window may hold probing already: ten Sybil accounts bring ten per-client
    # quotas of random points, enough to inflate the feature scales and the 99th percentile
    # (measured: 7 % of the benchmark's reference). Clients whose typical neighbourhood is an
    # outlier among clients are dropped before the scales are fitted, and single points whose
    # neighbourhood is an outlier before the radius is set.
    if owners is not None:
        x = x[_typical_owners(x / max(float(x.std()), 1e-12), owners)]
    center = x.mean(axis=0)
    std = x.std(axis=0)
    # A constant feature gets a floor, not a zero: a query that moves it is then far away,
    # which is right (nothing normal ever did), without dividing by zero.
    scale = std + 0.01 * max(float(std.mean()), 1e-12)
    z = (x - center) / scale
    components = None
    if z.shape[1] > MAX_DIMS:
        _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
        components = vt[:MAX_DIMS].T
    ref = Reference(center, scale, components, np.empty((0, 0), np.float32), 0, 0, 0, None, 0)
    points = ref.project(x)
    points = points[_typical(points)]
    kth = knn_distance(points, points, K_NEIGHBOURS + 1)  # +1: each point is its own nearest
    ood_radius = float(np.quantile(kth, 1 - FLAG_RATE))
    window = min(WINDOW, points.shape[0] - 1)
    nearest = _nearest_in_random_subsets(points, window, rng)
    typical = float(np.median(nearest))
    exact = 1e-6 * max(typical, 1e-12)
    positive = nearest[nearest > exact]
    close_radius = float(np.quantile(positive, FLAG_RATE)) if positive.size else 0.0
    margin = None
    if scores is not None and scores.shape[0] >= 50:
        margin = float(np.quantile(margins(scores), FLAG_RATE))
    return Reference(
        center, scale, components, points, ood_radius, close_radius, exact, margin, len(points)
    )


def _typical_owners(points: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Points of clients whose median log k-th neighbour distance is within the clients'
    median plus 3 robust deviations: a client-level test, far sharper than a point-level one
    (a probing client is far away with every query, a benign one only now and then)."""
    logk = np.log(np.maximum(knn_distance(points, points, K_NEIGHBOURS + 1), 1e-12))
    names, index = np.unique(owners.astype(str), return_inverse=True)
    medians = np.array([np.median(logk[index == i]) for i in range(len(names))])
    center = float(np.median(medians))
    spread = 1.4826 * float(np.median(np.abs(medians - center))) or 1e-6
    keep = (medians <= center + 3 * spread)[index]
    return keep if keep.sum() >= 50 else np.ones(len(points), bool)


def _typical(points: np.ndarray) -> np.ndarray:
    """Which points have an ordinary neighbourhood: k-th neighbour distance within the median
    plus 5 robust deviations, on a log scale. On clean data this drops a handful."""
    kth = knn_distance(points, points, K_NEIGHBOURS + 1)
    logk = np.log(np.maximum(kth, 1e-12))
    median = float(np.median(logk))
    spread = 1.4826 * float(np.median(np.abs(logk - median))) or 1e-6
    keep = logk <= median + 5 * spread
    return keep if keep.sum() >= 50 else np.ones(len(points), bool)


def knn_distance(queries: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each query to its k-th nearest point, in chunks to bound memory."""
    out = np.empty(queries.shape[0], dtype=np.float64)
    p_sq = np.einsum("ij,ij->i", points, points)
    k = min(k, points.shape[0])
    for start in range(0, queries.shape[0], CHUNK):
        q = queries[start : start + CHUNK]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + p_sq[None, :] - 2.0 * (q @ points.T)
        out[start : start + CHUNK] = np.sqrt(
            np.maximum(np.partition(d2, k - 1, axis=1)[:, k - 1], 0.0)
        )
    return out


def _nearest_in_random_subsets(
    points: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """For each reference point, the distance to its nearest among `size` other random
    reference points: what a benign client with a full window would see."""
    n = points.shape[0]
    picks = min(n, 500)
    chosen = rng.choice(n, picks, replace=False)
    out = np.empty(picks)
    for i, idx in enumerate(chosen):
        others = rng.choice(n - 1, size, replace=False)
        others[others >= idx] += 1
        diff = points[others] - points[idx]
        out[i] = np.sqrt(np.min(np.einsum("ij,ij->i", diff, diff)))
    return out


def margins(scores: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 score; for a single probability p, |2p - 1| (binary classifier)."""
    if scores.shape[1] == 1:
        return np.abs(2.0 * scores[:, 0] - 1.0)
    top = -np.partition(-scores, 1, axis=1)[:, :2]
    return top[:, 0] - top[:, 1]


def nearest_previous(points: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Distance from each query to the nearest of the `window` queries before it (inf for the
    first). Chunked: each block of queries is compared with itself and the window before it."""
    n = points.shape[0]
    out = np.full(n, np.inf)
    sq = np.einsum("ij,ij->i", points, points)
    block = 512
    for start in range(0, n, block):
        stop = min(n, start + block)
        lo = max(0, start - window)
        q = points[start:stop]
        cand = points[lo:stop]
        d2 = sq[start:stop, None] + sq[None, lo:stop] - 2.0 * (q @ cand.T)
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(lo, stop)[None, :]
        d2[(cols >= rows) | (cols < rows - window)] = np.inf
        out[start:stop] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def share_alarm(
    detector: str,
    flags: np.ndarray,
    positions: np.ndarray,
    ts: np.ndarray,
    threshold: float,
    confidence: float,
    what: str,
) -> Alarm:
    """The lower-confidence-bound test on flagged shares (see the module docstring).

    `flags` are per examined query; `positions` map them to 0-based positions in the client's
    whole stream (queries without a usable input are not examined but still counted)."""
    n = flags.size
    hits = np.flatnonzero(flags)
    if hits.size == 0:
        return Alarm(detector, 0.0, threshold, False, None, None, f"0 of {n} queries {what}")
    k = np.arange(1, hits.size + 1)
    seen = hits + 1
    bound = stats.beta.ppf(1.0 - confidence, k, seen - k + 1)
    crossed = np.flatnonzero((bound >= threshold) & (k >= MIN_HITS))
    score = float(bound.max())
    share = hits.size / n
    if crossed.size == 0:
        reason = (
            f"{hits.size} of {n} queries {what} ({share:.0%}); lower bound {score:.0%} "
            f"stays under {threshold:.0%}"
        )
        return Alarm(detector, score, threshold, False, None, None, reason)
    at = hits[crossed[0]]
    position = int(positions[at])
    reason = (
        f"{hits.size} of {n} queries {what} ({share:.0%}); the lower bound reached "
        f"{threshold:.0%} after {position + 1} queries"
    )
    return Alarm(detector, score, threshold, True, position + 1, float(ts[position]), reason)


def ood_flags(ref: Reference, points: np.ndarray) -> np.ndarray:
    return knn_distance(points, ref.points, K_NEIGHBOURS) > ref.ood_radius


def near_duplicate_flags(ref: Reference, points: np.ndarray) -> np.ndarray:
    nearest = nearest_previous(points)
    return (nearest > ref.exact) & (nearest <= ref.close_radius)


def boundary_flags(ref: Reference, scores: np.ndarray) -> np.ndarray:
    assert ref.margin is not None
    return margins(scores) < ref.margin


def running_counts(buckets: np.ndarray) -> np.ndarray:
    """For sorted bucket ids, each query's 1-based position within its bucket."""
    n = buckets.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(buckets)) + 1]
    lengths = np.diff(np.r_[starts, n])
    positions: np.ndarray = np.arange(n) - np.repeat(starts, lengths) + 1
    return positions


def volume_alarm(
    detector: str,
    ts: np.ndarray,
    p99_daily: float,
    p99_10min: float,
    threshold: float,
) -> Alarm:
    """Running daily and 10-minute counts against threshold x the population p99."""
    daily = running_counts(np.floor(ts / 86400.0).astype(np.int64))
    tenmin = running_counts(np.floor(ts / 600.0).astype(np.int64))
    ratio_d = daily / max(p99_daily, 1.0)
    ratio_t = tenmin / max(p99_10min, 1.0)
    ratio = np.maximum(ratio_d, ratio_t)
    score = float(ratio.max()) if ratio.size else 0.0
    peak_day, peak_10 = int(daily.max(initial=0)), int(tenmin.max(initial=0))
    summary = (
        f"peak {peak_day} queries in a day (population p99 {p99_daily:g}) and {peak_10} in "
        f"10 minutes (p99 {p99_10min:g})"
    )
    over = np.flatnonzero(ratio > threshold)
    if over.size == 0:
        return Alarm(detector, score, threshold, False, None, None, summary)
    at = int(over[0])
    return Alarm(
        detector,
        score,
        threshold,
        True,
        at + 1,
        float(ts[at]),
        f"{summary}: over {threshold:g} x p99 after {at + 1} queries",
    )
