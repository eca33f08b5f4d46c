"""Running the shipped detectors on the simulated log, calibrating, and scoring them.

The log is written as Parquet and analysed by the very code a scan runs
(`scanner.sources.logs.source.analyse`). Thresholds are calibrated on the calibration half of
the benign clients only: each detector's threshold is the score quantile that, for a common
per-detector budget, keeps the union of alarms over calibration clients within the target
false-positive rate. Everything is then reported on the held-out test half and the attackers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from sklearn.linear_model import LogisticRegression

from benchmarks.extraction.world import World
from scanner.sources.logs.model import EndpointAnalysis
from scanner.sources.logs.options import DEFAULT_THRESHOLDS, LogOptions
from scanner.sources.logs.source import analyse

CLIENT_DETECTORS = ("volume", "ood", "near_duplicate", "boundary")
SYNTHETIC = ("random", "jacobian", "random-split", "jacobian-split")
KINDS = (*SYNTHETIC, "knockoff", "knockoff-split")


def write_log(world: World, path: Path) -> Path:
    rows = [(s, i) for s in world.streams for i in range(len(s.ts))]
    x = np.vstack([s.x for s in world.streams])
    scores = np.vstack([world.data.victim.predict_proba(s.x) for s in world.streams])
    columns: dict[str, np.ndarray] = {
        "client": np.array([s.client for s, _ in rows]),
        "ts": np.concatenate([s.ts for s in world.streams]),
        "asn": np.array([s.asn for s, _ in rows]),
        "ip": np.array([s.ip for s, _ in rows]),
    }
    for j in range(x.shape[1]):
        columns[f"f{j}"] = np.round(x[:, j], 3)
    for j in range(scores.shape[1]):
        columns[f"s{j}"] = np.round(scores[:, j], 5)
    con = duckdb.connect()
    con.register("t", columns)
    features = ", ".join(f"f{j}" for j in range(x.shape[1]))
    probs = ", ".join(f"s{j}" for j in range(scores.shape[1]))
    con.execute(
        f"COPY (SELECT client, ts, asn, ip, [{features}] AS features, [{probs}] AS scores "
        f"FROM t ORDER BY ts, client) TO '{path}' (FORMAT parquet)"
    )
    return path


def run(path: Path, thresholds: Mapping[str, float]) -> EndpointAnalysis:
    options = LogOptions(endpoint="bench", thresholds={**DEFAULT_THRESHOLDS, **thresholds})
    report = analyse(str(path), options, lambda _m: None)
    return report.endpoints[0]


def client_scores(analysis: EndpointAnalysis) -> dict[str, dict[str, float]]:
    return {v.client: {a.detector: a.score for a in v.alarms} for v in analysis.clients}


def calibrate(
    analysis: EndpointAnalysis,
    clients: Sequence[str],
    target: float,
    extra: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, float]:
    """Per-detector thresholds from calibration clients' highest scores: the largest common
    budget whose union of alarms stays within `target`. `extra` adds candidate detectors
    (client -> detector -> score) scored the same way."""
    scores = client_scores(analysis)
    names = [*CLIENT_DETECTORS, *(next(iter(extra.values())).keys() if extra else ())]
    table = np.array(
        [
            [{**scores.get(c, {}), **(extra or {}).get(c, {})}.get(d, 0.0) for d in names]
            for c in clients
        ]
    )
    best: dict[str, float] = {}
    for budget in np.linspace(target, target / 20, 40):
        thresholds = {}
        for j, name in enumerate(names):
            level = float(np.quantile(table[:, j], 1 - budget, method="higher"))
            floor = 1.0 if name == "volume" else 0.01
            thresholds[name] = max(floor, level * 1.0001 + 1e-9)
        alarmed = np.zeros(len(clients), bool)
        for j, name in enumerate(names):
            alarmed |= table[:, j] >= thresholds[name]
        best = thresholds
        if alarmed.mean() <= target:
            return thresholds
    return best


@dataclass(frozen=True)
class Outcome:
    detected: bool
    queries: int | None  # campaign queries sent when the first account alarmed
    agreement: float | None  # surrogate agreement with the victim at that moment


class Agreement:
    """Surrogate (logistic regression on the victim's labels) agreement, cached per prefix."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.truth = world.data.victim.predict(world.data.test)
        self.cache: dict[tuple[str, int], float] = {}

    def __call__(self, campaign: str, n: int) -> float:
        key = (campaign, n)
        if key not in self.cache:
            queries = self.world.campaigns[campaign][0][:n]
            labels = self.world.data.victim.predict(queries)
            if len(np.unique(labels)) < 2:
                value = float(np.mean(self.truth == labels[0])) if n else 0.0
            else:
                model = LogisticRegression(max_iter=300).fit(queries / 16.0, labels)
                value = float(np.mean(model.predict(self.world.data.test / 16.0) == self.truth))
            self.cache[key] = value
        return self.cache[key]

    def reaches(self, campaign: str, level: float) -> int | None:
        budget = len(self.world.campaigns[campaign][0])
        for n in (25, 50, 100, 200, 400, 800, 1600, budget):
            if n <= budget and self(campaign, n) >= level:
                return n
        return None


def alarms_by_detector(
    analysis: EndpointAnalysis, extra: Mapping[str, Mapping[str, float]] | None = None
) -> dict[str, dict[str, float]]:
    """detector -> client -> alarm time; `sybil` from groups; `extra` adds candidates."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for verdict in analysis.clients:
        for alarm in verdict.alarmed:
            out[alarm.detector][verdict.client] = alarm.alarm_ts or 0.0
    for group in analysis.groups:
        if group.kind == "org":
            continue
        when = group.alarms[0].alarm_ts or 0.0
        for member in group.members:
            out["sybil"][member] = min(out["sybil"].get(member, when), when)
    for name, times in (extra or {}).items():
        out[name] = dict(times)
    return out


def score(
    world: World,
    alarms: Mapping[str, Mapping[str, float]],
    agreement: Agreement,
    detectors: Sequence[str],
) -> dict[str, dict[str, object]]:
    """Per detector (and `combined` = any of `detectors`): FPR on test clients, and per attack
    kind the share of campaigns flagged, queries until alarm and agreement at the alarm."""
    test = [s.client for s in world.streams if s.role == "test"]
    accounts: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for s in world.streams:
        if s.role == "attack":
            accounts[s.campaign].append(s.client)
            kinds[s.campaign] = s.kind
    combined: dict[str, float] = {}
    for name in detectors:
        for client, when in alarms.get(name, {}).items():
            combined[client] = min(combined.get(client, when), when)
    table: dict[str, dict[str, object]] = {}
    for name, times in [*((d, alarms.get(d, {})) for d in detectors), ("combined", combined)]:
        row: dict[str, object] = {"fpr": float(np.mean([c in times for c in test]))}
        for kind in KINDS:
            outcomes = []
            for campaign in (c for c, k in kinds.items() if k == kind):
                hits = [times[a] for a in accounts[campaign] if a in times]
                if not hits:
                    outcomes.append(Outcome(False, None, None))
                    continue
                ts = world.campaigns[campaign][1]
                sent = int(np.count_nonzero(ts <= min(hits)))
                outcomes.append(Outcome(True, sent, agreement(campaign, sent)))
            row[kind] = outcomes
        table[name] = row
    return table
