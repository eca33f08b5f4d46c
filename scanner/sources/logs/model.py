"""What the analysis of one endpoint is made of, shared by `analyze` (single clients) and
`groups` (groups of clients judged together): the verdicts, the time window, the result, and
the `Context` every stream of queries is judged against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from scanner.sources.logs import detectors as det
from scanner.sources.logs.calibration import Baseline
from scanner.sources.logs.options import LogOptions


@dataclass(frozen=True)
class ClientVerdict:
    client: str
    queries: int
    alarms: tuple[det.Alarm, ...]
    org: str | None = None

    @property
    def alarmed(self) -> tuple[det.Alarm, ...]:
        return tuple(a for a in self.alarms if a.alarmed)


@dataclass(frozen=True)
class GroupVerdict:
    kind: str  # asn | ip_prefix | key_owner | org
    key: str
    members: tuple[str, ...]
    queries: int
    alarms: tuple[det.Alarm, ...]
    # For Sybil groups: how many queries each member had sent when the group alarmed.
    at_alarm: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    days: int


@dataclass(frozen=True)
class EndpointAnalysis:
    endpoint: str  # as the logs name it ('' when they do not)
    requests: int
    window: Window
    baseline: Baseline | None
    tiers: Mapping[str, Baseline]
    detectors_ran: tuple[str, ...]
    detectors_skipped: Mapping[str, str]
    clients: tuple[ClientVerdict, ...]
    groups: tuple[GroupVerdict, ...] = ()
    reference: Mapping[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What every stream of queries (a client or a group) is judged against."""

    options: LogOptions
    baseline: Baseline | None
    reference: det.Reference | None
    score_dim: int | None
    ran: frozenset[str]

    def judge(
        self, ts: np.ndarray, features: np.ndarray | None, scores: np.ndarray | None
    ) -> tuple[det.Alarm, ...]:
        th, conf, cap = (
            self.options.thresholds,
            self.options.confidence,
            self.options.max_queries_per_client,
        )
        alarms = []
        if "volume" in self.ran and self.baseline is not None:
            alarms.append(
                det.volume_alarm(
                    "volume", ts, self.baseline.p99_daily, self.baseline.p99_10min, th["volume"]
                )
            )
        ref = self.reference
        if ref is not None and features is not None and {"ood", "near_duplicate"} & self.ran:
            pos, matrix = _stack(features, None, cap)
            if pos.size:
                points = ref.project(matrix)
                if "ood" in self.ran:
                    flags = det.ood_flags(ref, points)
                    what = "far from the reference distribution"
                    alarms.append(det.share_alarm("ood", flags, pos, ts, th["ood"], conf, what))
                if "near_duplicate" in self.ran:
                    flags = det.near_duplicate_flags(ref, points)
                    what = "near-duplicates of a recent query"
                    alarms.append(
                        det.share_alarm(
                            "near_duplicate", flags, pos, ts, th["near_duplicate"], conf, what
                        )
                    )
        if ref is not None and scores is not None and "boundary" in self.ran:
            pos, matrix = _stack(scores, self.score_dim, cap)
            if pos.size:
                flags = det.boundary_flags(ref, matrix)
                what = "answered close to the decision boundary"
                alarms.append(
                    det.share_alarm("boundary", flags, pos, ts, th["boundary"], conf, what)
                )
        return tuple(alarms)


def _stack(column: np.ndarray, dim: int | None, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of usable vectors (at most `cap`) and the vectors as one matrix."""
    usable = [i for i, v in enumerate(column) if v is not None and (dim is None or len(v) == dim)][
        :cap
    ]
    pos = np.asarray(usable, dtype=np.int64)
    if not usable:
        return pos, np.empty((0, 0))
    return pos, np.stack([np.asarray(column[i], dtype=np.float64) for i in usable])
