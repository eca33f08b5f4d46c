"""The simulated world: a victim model, benign clients, extraction campaigns, and their log.

The victim is a small neural network trained on scikit-learn's digits (8x8 images, 64 features,
10 classes). The data are split four ways so that nobody queries with what the victim trained on
verbatim: benign users draw from one pool, attackers from another, and surrogate agreement is
measured on a third. Inputs carry a little noise (a scanner is not a copy machine), so benign
queries are never exact repeats unless a client retries on purpose.

Benign clients vary on purpose, because a detector tuned on uniform users is easy: volumes are
log-normal, some clients focus on one or two classes, some re-submit slightly changed inputs,
some retry identical ones, a fifth join during the month (new accounts, like Sybils), and they
share ASNs with a heavy-tailed popularity, including the cloud ASN the attackers use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

DAY = 86400.0
START = 1_709_251_200.0  # 2024-03-01T00:00:00Z
CLOUD_ASN = "AS16509"
ASNS = [f"AS{64500 + i}" for i in range(29)] + [CLOUD_ASN]


@dataclass
class Data:
    victim: MLPClassifier
    benign_pool: np.ndarray
    attacker_pool: np.ndarray
    test: np.ndarray  # agreement is measured here


def make_data(seed: int) -> Data:
    digits = load_digits()
    x, y = digits.data.astype(np.float64), digits.target
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n = len(x)
    a, b, c = int(0.4 * n), int(0.7 * n), int(0.85 * n)
    victim = MLPClassifier(hidden_layer_sizes=(64,), max_iter=400, random_state=seed)
    victim.fit(x[:a] / 16.0, y[:a])
    return Data(ScaledVictim(victim), x[a:b], x[b:c], x[c:])


class ScaledVictim:
    """The victim takes raw pixel values (0-16) as clients send them."""

    def __init__(self, model: MLPClassifier) -> None:
        self.model = model

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(np.clip(x, 0, 16) / 16.0)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(np.clip(x, 0, 16) / 16.0)


@dataclass
class Stream:
    """One account's queries; `campaign` ties the accounts of one attacker together."""

    client: str
    role: str  # calibration | test | attack
    kind: str  # benign | random | jacobian | knockoff (+ '-split')
    campaign: str
    ts: np.ndarray
    x: np.ndarray
    asn: str
    ip: str


@dataclass
class World:
    data: Data
    streams: list[Stream] = field(default_factory=list)
    # campaign -> (queries in the order sent, their times)
    campaigns: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def noisy(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Natural variation: each image shifted by up to a pixel, its ink scaled, plus noise,
    so that two draws of one image are two different natural inputs (not a near-copy)."""
    images = x.reshape(-1, 8, 8)
    out = np.empty_like(images)
    shifts = rng.integers(-1, 2, (len(images), 2))
    for i, (dy, dx) in enumerate(shifts):
        out[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    scale = rng.uniform(0.8, 1.2, (len(images), 1, 1))
    return np.clip(out * scale + rng.normal(0, 0.5, out.shape), 0, 16).reshape(x.shape)


def session_times(rng: np.random.Generator, day: int, n: int, spread: float) -> np.ndarray:
    start = START + day * DAY + rng.uniform(0, DAY - spread)
    return start + np.sort(rng.uniform(0, spread, n))


def benign_stream(rng: np.random.Generator, data: Data, name: str, role: str, days: int) -> Stream:
    pool = data.benign_pool
    labels = data.victim.predict(pool)
    rate = rng.lognormal(np.log(6), 1.0)
    activity = rng.uniform(0.3, 1.0)
    first_day = 0 if rng.random() < 0.8 else int(rng.integers(1, days - 7))
    focused = rng.random() < 0.3  # on a few classes
    weights = rng.dirichlet(np.full(10, 0.3))[labels] if focused else np.ones(len(pool))
    weights = weights / weights.sum()
    habit = rng.random()
    resubmit = 0.3 if habit < 0.1 else 0.0
    retry = 0.2 if 0.1 <= habit < 0.15 else 0.0
    ts_parts, x_parts = [], []
    for day in range(first_day, days):
        if rng.random() > activity:
            continue
        n = int(rng.poisson(rate))
        if n == 0:
            continue
        ts_parts.append(session_times(rng, day, n, rng.uniform(600, 6 * 3600)))
        x_parts.append(noisy(rng, pool[rng.choice(len(pool), n, p=weights)]))
    if not ts_parts:
        ts_parts.append(session_times(rng, first_day, 1, 600))
        x_parts.append(noisy(rng, pool[rng.choice(len(pool), 1, p=weights)]))
    ts, x = np.concatenate(ts_parts), np.concatenate(x_parts)
    for i in range(1, len(x)):
        u = rng.random()
        if u < resubmit:
            x[i] = np.clip(x[rng.integers(0, i)] + rng.normal(0, 0.3, x.shape[1]), 0, 16)
        elif u < resubmit + retry:
            x[i] = x[i - 1]
    asn = ASNS[min(int(rng.zipf(1.6)) - 1, len(ASNS) - 1)]
    ip = f"10.{ASNS.index(asn)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
    return Stream(name, role, "benign", name, ts, x, asn, ip)


def random_queries(rng: np.random.Generator, data: Data, budget: int) -> np.ndarray:
    return rng.uniform(0, 16, (budget, data.test.shape[1]))


def knockoff_queries(rng: np.random.Generator, data: Data, budget: int) -> np.ndarray:
    pool = data.attacker_pool
    return noisy(rng, pool[rng.choice(len(pool), budget, replace=True)])


def jacobian_queries(
    rng: np.random.Generator, data: Data, budget: int, seeds: int = 10, step: float = 1.6
) -> np.ndarray:
    """Papernot et al.'s Jacobian-based dataset augmentation: a few natural seeds, then each
    round every point so far is pushed by `step` along the sign of the surrogate's gradient
    for the victim's label (0.1 of the pixel range, as in the paper)."""
    pool = data.attacker_pool
    known = noisy(rng, pool[rng.choice(len(pool), seeds, replace=False)])
    labels = data.victim.predict(known)
    while len(known) < budget:
        grads = _surrogate_gradients(known, labels, rng)
        fresh = np.clip(known + step * np.sign(grads), 0, 16)[: budget - len(known)]
        known = np.vstack([known, fresh])
        labels = np.concatenate([labels, data.victim.predict(fresh)])
    return known


def _surrogate_gradients(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(np.unique(y)) < 2:
        return rng.choice([-1.0, 1.0], x.shape)
    model = LogisticRegression(max_iter=300).fit(x / 16.0, y)
    p = model.predict_proba(x / 16.0)
    w = model.coef_ if len(model.classes_) > 2 else np.vstack([-model.coef_, model.coef_])
    idx = np.searchsorted(model.classes_, y)
    py = p[np.arange(len(y)), idx]
    grads = py[:, None] * (w[idx] - p @ w)
    zero = ~np.any(grads != 0, axis=1)
    grads[zero] = rng.choice([-1.0, 1.0], (int(zero.sum()), x.shape[1]))
    return grads


GENERATORS = {"random": random_queries, "jacobian": jacobian_queries, "knockoff": knockoff_queries}


def attack_streams(
    rng: np.random.Generator, data: Data, kind: str, index: int, budget: int, days: int, split: int
) -> tuple[str, np.ndarray, np.ndarray, list[Stream]]:
    """One campaign: its queries in order, sent at a few hundred a day in working sessions,
    round-robin over `split` fresh accounts that share the cloud ASN and two /24 prefixes."""
    campaign = f"{kind}{'-split' if split > 1 else ''}-{index}"
    queries = GENERATORS[kind](rng, data, budget)
    per_day = rng.uniform(300, 800)
    first_day = int(rng.integers(2, days - 1 - int(np.ceil(budget / per_day))))
    ts = np.empty(budget)
    done = 0
    day = first_day
    while done < budget:
        n = min(budget - done, int(rng.poisson(per_day)) or 1)
        ts[done : done + n] = session_times(rng, day, n, 8 * 3600)
        done += n
        day += 1
    prefixes = [f"203.0.{rng.integers(0, 256)}", f"198.51.{rng.integers(0, 256)}"]
    streams = []
    for account in range(split):
        mine = np.arange(account, budget, split)
        name = f"{campaign}-acct{account}" if split > 1 else campaign
        kind_name = f"{kind}-split" if split > 1 else kind
        ip = f"{prefixes[account % 2]}.{rng.integers(1, 255)}"
        streams.append(
            Stream(name, "attack", kind_name, campaign, ts[mine], queries[mine], CLOUD_ASN, ip)
        )
    return campaign, queries, ts, streams


def build_world(seed: int, benign: int, attackers: int, budget: int, days: int = 28) -> World:
    rng = np.random.default_rng(seed)
    world = World(make_data(seed))
    for i in range(benign):
        role = "calibration" if i % 2 == 0 else "test"
        world.streams.append(benign_stream(rng, world.data, f"user-{i:04d}", role, days))
    for kind in GENERATORS:
        for split in (1, 10):
            for index in range(attackers):
                campaign, queries, ts, streams = attack_streams(
                    rng, world.data, kind, index, budget, days, split
                )
                world.campaigns[campaign] = (queries, ts)
                world.streams.extend(streams)
    return world
