"""The detectors' arithmetic, against brute force and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from scanner.sources.logs import detectors as det


def brute_nearest_previous(points: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(points), np.inf)
    for i in range(1, len(points)):
        lo = max(0, i - window)
        out[i] = np.min(np.linalg.norm(points[lo:i] - points[i], axis=1))
    return out


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 700), window=st.integers(1, 600), seed=st.integers(0, 2**16))
def test_nearest_previous_matches_brute_force(n, window, seed):
    points = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float64)
    got = det.nearest_previous(points, window)
    want = brute_nearest_previous(points, window)
    assert np.isinf(got[0]) and np.isinf(want[0])
    np.testing.assert_allclose(got[1:], want[1:], rtol=1e-6, atol=1e-6)


def test_knn_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    q, p = rng.normal(size=(2100, 4)), rng.normal(size=(300, 4))
    got = det.knn_distance(q, p, 5)
    want = np.sort(np.linalg.norm(q[:, None] - p[None], axis=2), axis=1)[:, 4]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_share_alarm_crosses_when_the_lower_bound_does():
    flags = np.ones(10, bool)
    alarm = det.share_alarm("ood", flags, np.arange(10), np.arange(10.0), 0.3, 0.999, "odd")
    # Clopper-Pearson lower bound with k = n: 0.001 ** (1 / n) >= 0.3 from n = 6 on.
    assert 0.001 ** (1 / 5) < 0.3 <= 0.001 ** (1 / 6)
    assert alarm.alarmed and alarm.queries_until_alarm == 6 and alarm.alarm_ts == 5.0
    assert alarm.score == pytest.approx(stats.beta.ppf(0.001, 10, 1))


def test_share_alarm_ignores_a_steady_low_rate_however_long():
    flags = np.zeros(100_000, bool)
    flags[::30] = True  # 3.3 %, a heavy but unremarkable client
    alarm = det.share_alarm(
        "ood", flags, np.arange(flags.size), np.arange(flags.size, dtype=float), 0.3, 0.999, "odd"
    )
    assert not alarm.alarmed and alarm.queries_until_alarm is None
    assert 0.02 < alarm.score < 0.04


def test_share_alarm_positions_skip_queries_without_inputs():
    positions = np.array([3, 7, 8, 9, 12, 15, 20])
    ts = np.arange(21.0) * 10
    alarm = det.share_alarm("ood", np.ones(7, bool), positions, ts, 0.3, 0.999, "odd")
    assert alarm.queries_until_alarm == 16 and alarm.alarm_ts == 150.0


def test_running_counts_restart_per_bucket():
    got = det.running_counts(np.array([1, 1, 1, 4, 4, 9]))
    assert got.tolist() == [1, 2, 3, 1, 2, 1]


def test_volume_alarm_at_the_first_query_over_the_line():
    ts = 86400.0 * 100 + np.arange(50) * 1000.0  # 50 queries in one day, 1 per 10 minutes
    alarm = det.volume_alarm("volume", ts, p99_daily=10, p99_10min=5, threshold=2.0)
    assert alarm.alarmed and alarm.queries_until_alarm == 21
    assert alarm.score == 5.0
    calm = det.volume_alarm("volume", ts[:20], p99_daily=10, p99_10min=5, threshold=2.0)
    assert not calm.alarmed and calm.score == 2.0


def test_margins():
    scores = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(det.margins(scores), [0.5, 0.05])
    np.testing.assert_allclose(det.margins(np.array([[0.9], [0.5]])), [0.8, 0.0])


def test_reference_flags_about_one_percent_of_its_own_distribution():
    rng = np.random.default_rng(5)
    ref = det.fit_reference(rng.normal(size=(2000, 6)), None, rng)
    fresh = ref.project(rng.normal(size=(5000, 6)))
    assert 0.002 < det.ood_flags(ref, fresh).mean() < 0.03
    far = ref.project(rng.normal(size=(100, 6)) + 8)
    assert det.ood_flags(ref, far).all()


def test_wide_inputs_are_projected_with_a_residual():
    rng = np.random.default_rng(6)
    basis = rng.normal(size=(10, 100))
    x = rng.normal(size=(1500, 10)) @ basis
    ref = det.fit_reference(x, None, rng)
    assert ref.components is not None and ref.points.shape[1] == det.MAX_DIMS + 1
    off_manifold = ref.project(rng.normal(size=(50, 100)) * 8)
    assert det.ood_flags(ref, off_manifold).all()
