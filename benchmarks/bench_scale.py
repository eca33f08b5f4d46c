"""A 100,000-resource estate through everything after collection: evaluation speed, peak RSS.

Two measurements, each in a process of its own (peak RSS is per process), on the synthetic
estate of `benchmarks/synthetic.py` (what the MLflow and AWS sources report, in an ML estate's
proportions):

- **evaluation**: the built-in policy pack over the linked inventory, in CPU seconds (the
  machine is shared: CPU time, unlike wall time, does not count other processes' turns).
  Reported as resource-policy evaluations (one policy on one resource of its type) per CPU
  second, against the target of 50,000 per second per core.
- **scan**: what a scan does once its sources have reported: link, evaluate, roll up, gate,
  the results document, its contract check and results.json written (`scan.finish`, then
  the JSON writer), with the peak RSS against the target of 1 GB. The floor for memory is
  holding the collected inventory alone, measured first in the same process.

Run: `python -m benchmarks.bench_scale [--resources 100000]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic import resources as synthetic


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluation(count: int) -> dict[str, float]:
    from scanner.bundled import bundled_dir
    from scanner.inventory import Inventory
    from scanner.linking import link
    from scanner.policy.evaluate import evaluate_all
    from scanner.policy.loader import load_policy_dirs
    from scanner.scan import cycle_collection_paused

    inventory = link(Inventory(synthetic(count)))
    pack = load_policy_dirs([bundled_dir("policies")])
    pairs = sum(len(inventory.of_type(p.resource)) for p in pack.policies)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    cpu, wall = time.process_time(), time.perf_counter()
    with cycle_collection_paused():  # as a scan evaluates (scan.finish)
        findings = evaluate_all(pack.policies, inventory, now)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "resources": len(inventory),
        "policies": len(pack.policies),
        "evaluations": pairs,
        "findings": len(findings),
        "cpu_s": cpu,
        "wall_s": wall,
    }


def scan(count: int) -> dict[str, float]:
    from scanner.commands.documents import check_contract, render_all
    from scanner.inventory import Inventory
    from scanner.progress import make_reporter
    from scanner.scan import ScanRequest, finish, prepare

    baseline = rss_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    collected = Inventory(synthetic(count))
    held = rss_mb()
    prepared = prepare(ScanRequest(sources=(), as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)))
    started = dt.datetime.now(dt.UTC)
    document = finish(
        prepared, collected, [], started=started, extra={}, reporter=make_reporter(True, 0)
    ).document
    del collected
    check_contract(document)
    with tempfile.TemporaryDirectory() as out:
        render_all(Path(out), ["json"], document)
        size = (Path(out) / "results.json").stat().st_size
    return {
        "resources": count,
        "findings": len(document["findings"]),
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "rss_start_mb": baseline,
        "rss_inventory_mb": held,
        "rss_peak_mb": rss_mb(),
        "results_mb": size / 1024 / 1024,
    }


def child(stage: str, count: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--stage", stage,
         "--resources", str(count)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{stage} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(line[len("RESULT ") :])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=100_000)
    ap.add_argument("--stage", choices=("evaluation", "scan"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        run = evaluation if args.stage == "evaluation" else scan
        print("RESULT " + json.dumps(run(args.resources)))
        return
    e = child("evaluation", args.resources)
    s = child("scan", args.resources)
    rate = e["evaluations"] / e["cpu_s"]
    print(f"load average: {os.getloadavg()[0]:.1f} (2 cores)")
    print(
        f"evaluation: {e['resources']:.0f} resources x {e['policies']:.0f} policies = "
        f"{e['evaluations']:.0f} resource-policy evaluations in {e['cpu_s']:.1f} CPU s "
        f"({e['wall_s']:.1f} s wall): {rate:,.0f} per CPU second (target >= 50,000)"
    )
    print(
        f"scan after collection: {s['findings']:.0f} findings, results.json "
        f"{s['results_mb']:.0f} MB, {s['cpu_s']:.1f} CPU s ({s['wall_s']:.1f} s wall)"
    )
    print(
        f"peak RSS: {s['rss_peak_mb']:.0f} MB (target <= 1024); holding the inventory alone: "
        f"{s['rss_inventory_mb']:.0f} MB; the interpreter and modules: {s['rss_start_mb']:.0f} MB"
    )
    print(f"ratio peak RSS / inventory alone: {s['rss_peak_mb'] / s['rss_inventory_mb']:.2f}")


if __name__ == "__main__":
    main()
