"""Extraction-detection benchmark: `python -m benchmarks.extraction [--tiny] [--seed N]`.

Builds the simulated world (`world.py`), writes its log, runs the shipped logs analysis twice
(shipped default thresholds, then thresholds calibrated on the calibration clients), evaluates
PRADA as a candidate, and prints per detector: FPR on held-out benign clients, the share of
each attack kind flagged, median queries until the alarm and median surrogate agreement at the
alarm. Seeded: the same arguments give the same numbers.
"""

from __future__ import annotations

import os

# Single-threaded BLAS: on a shared 2-core machine, OpenBLAS threads spinning against each
# other made scikit-learn fits 10-80x slower (measured); the work here is many small fits.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.extraction import evaluate as ev  # noqa: E402
from benchmarks.extraction import prada  # noqa: E402
from benchmarks.extraction.world import build_world  # noqa: E402

TARGET_FPR = 0.02
SHIPPED = ("volume", "ood", "near_duplicate", "boundary", "sybil")


def summarise(row: dict[str, object], agreement: ev.Agreement) -> dict[str, object]:
    out: dict[str, object] = {"fpr": round(float(row["fpr"]), 4)}
    synthetic_hits, before_80 = [], []
    queries, agreements = [], []
    per_kind: dict[str, object] = {}
    for kind in ev.KINDS:
        outcomes: list[ev.Outcome] = row[kind]  # type: ignore[assignment]
        out[kind] = round(float(np.mean([o.detected for o in outcomes])), 3)
        hit = [o for o in outcomes if o.detected]
        per_kind[kind] = {
            "tpr": out[kind],
            "median_queries_until_alarm": float(np.median([o.queries for o in hit]))
            if hit
            else None,
            "median_agreement_at_alarm": round(float(np.median([o.agreement for o in hit])), 3)
            if hit
            else None,
            "before_80": round(
                float(np.mean([o.detected and (o.agreement or 0) < 0.8 for o in outcomes])), 3
            ),
        }
        for o in outcomes:
            if kind in ev.SYNTHETIC:
                synthetic_hits.append(o.detected)
                before_80.append(o.detected and (o.agreement or 0.0) < 0.8)
            if o.detected:
                queries.append(o.queries)
                agreements.append(o.agreement)
    out["by_kind"] = per_kind
    out["synthetic_tpr"] = round(float(np.mean(synthetic_hits)), 3)
    out["synthetic_before_80"] = round(float(np.mean(before_80)), 3)
    out["median_queries_until_alarm"] = float(np.median(queries)) if queries else None
    out["median_agreement_at_alarm"] = (
        round(float(np.median(agreements)), 3) if agreements else None
    )
    return out


def print_table(title: str, rows: dict[str, dict[str, object]]) -> None:
    print(f"\n{title}")
    head = ["detector", "FPR", *ev.KINDS, "synth TPR", "synth <80%", "q@alarm", "agree@alarm"]
    print(" | ".join(head))
    for name, r in rows.items():
        cells = [
            name,
            f"{r['fpr']:.3f}",
            *(f"{r[k]:.2f}" for k in ev.KINDS),
            f"{r['synthetic_tpr']:.3f}",
            f"{r['synthetic_before_80']:.3f}",
            "-"
            if r["median_queries_until_alarm"] is None
            else f"{r['median_queries_until_alarm']:.0f}",
            "-"
            if r["median_agreement_at_alarm"] is None
            else f"{r['median_agreement_at_alarm']:.3f}",
        ]
        print(" | ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--benign", type=int, default=500, help="benign clients (half test)")
    parser.add_argument("--attackers", type=int, default=8, help="campaigns per attack kind")
    parser.add_argument("--budget", type=int, default=2000, help="queries per campaign")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run for tests")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers here")
    args = parser.parse_args()
    if args.tiny:
        args.benign, args.attackers, args.budget = 40, 1, 200
    warnings.filterwarnings("ignore")  # convergence chatter from the victim and surrogates
    started = time.monotonic()
    world = build_world(args.seed, args.benign, args.attackers, args.budget)
    built = time.monotonic()
    calibration = [s.client for s in world.streams if s.role == "calibration"]
    agreement = ev.Agreement(world)
    with tempfile.TemporaryDirectory() as tmp:
        path = ev.write_log(world, Path(tmp) / "log.parquet")
        defaults = ev.run(path, {})
        thresholds = ev.calibrate(defaults, calibration, TARGET_FPR)
        tuned = ev.run(path, thresholds)
        trajectories = prada.prada_all(world)
        prada_scores = prada.scores(trajectories)
        with_prada = ev.calibrate(defaults, calibration, TARGET_FPR, extra=prada_scores)
        tuned_p = ev.run(path, {k: v for k, v in with_prada.items() if k != "prada"})
    analysed = time.monotonic()
    rows_default = ev.score(world, ev.alarms_by_detector(defaults), agreement, SHIPPED)
    rows = ev.score(world, ev.alarms_by_detector(tuned), agreement, SHIPPED)
    prada_alarms = {"prada": prada.alarms(world, trajectories, with_prada["prada"])}
    rows_p = ev.score(
        world, ev.alarms_by_detector(tuned_p, prada_alarms), agreement, (*SHIPPED, "prada")
    )
    result = {
        "settings": vars(args),
        "thresholds_calibrated": {k: round(v, 4) for k, v in thresholds.items()},
        "shipped_defaults": {k: summarise(v, agreement) for k, v in rows_default.items()},
        "calibrated": {k: summarise(v, agreement) for k, v in rows.items()},
        "calibrated_with_prada": {k: summarise(v, agreement) for k, v in rows_p.items()},
        "queries_to_80pct_agreement_without_detection": {
            kind: _median(
                [
                    agreement.reaches(c, 0.8)
                    for c, (_q, _t) in world.campaigns.items()
                    if c.rsplit("-", 1)[0] == kind
                ]
            )
            for kind in ev.KINDS
        },
    }
    scored = time.monotonic()
    print(
        f"extraction benchmark: seed {args.seed}, {args.benign} benign clients "
        f"({len(calibration)} for calibration), {args.attackers} campaign(s) per kind of "
        f"{args.budget} queries; {sum(len(s.ts) for s in world.streams)} requests"
    )
    print(f"thresholds calibrated for FPR <= {TARGET_FPR:.0%}: {result['thresholds_calibrated']}")
    print_table("shipped default thresholds", result["shipped_defaults"])  # type: ignore[arg-type]
    print_table("calibrated thresholds", result["calibrated"])  # type: ignore[arg-type]
    print_table("calibrated, PRADA added (candidate)", result["calibrated_with_prada"])  # type: ignore[arg-type]
    base = result["calibrated"]["combined"]  # type: ignore[index]
    plus = result["calibrated_with_prada"]["combined"]  # type: ignore[index]
    print(
        "\ncombined, calibrated, per attack kind: flagged | before 80% agreement | median "
        "queries until alarm | median agreement at alarm"
    )
    for kind, k in base["by_kind"].items():  # type: ignore[union-attr]
        print(
            f"  {kind}: {k['tpr']:.2f} | {k['before_80']:.2f} | "
            f"{k['median_queries_until_alarm']} | {k['median_agreement_at_alarm']}"
        )
    print(
        f"\nPRADA: combined synthetic TPR {base['synthetic_tpr']:.3f} -> "
        f"{plus['synthetic_tpr']:.3f}, natural (knockoff) "
        f"{base['knockoff']:.2f}/{base['knockoff-split']:.2f} -> "
        f"{plus['knockoff']:.2f}/{plus['knockoff-split']:.2f}, FPR {base['fpr']:.3f} -> "
        f"{plus['fpr']:.3f}"
    )
    print(
        "queries for the surrogate to reach 80% agreement (undetected; None = never "
        f"within the budget): {result['queries_to_80pct_agreement_without_detection']}"
    )
    met = base["synthetic_before_80"] >= 0.9 and base["fpr"] <= TARGET_FPR
    print(
        f"target (>= 90% of synthetic attackers before 80% agreement, FPR <= 2%): "
        f"{'met' if met else 'NOT met'}"
    )
    print(
        f"time: world {built - started:.1f}s, analysis x3 {analysed - built:.1f}s, "
        f"scoring {scored - analysed:.1f}s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


def _median(values: list[int | None]) -> float | None:
    found = [v for v in values if v is not None]
    if len(found) < len(values) / 2 or not found:
        return None
    return float(np.median(found + [float("inf")] * (len(values) - len(found))))


if __name__ == "__main__":
    raise SystemExit(main())
