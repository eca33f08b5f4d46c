"""Policy evaluation speed against a hand-written baseline measured in the same run.

The baseline is the same checks written directly as Python loops over plain dicts: the cost
of a policy *language* (path resolution, references, three-valued logic, messages, evidence)
is the ratio between the two. Run: `python -m benchmarks.bench_evaluate [--storages N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt

from benchmarks.timing import best
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.policy.evaluate import evaluate_all
from scanner.policy.loader import parse_policy
from scanner.yamlpos import load_yaml_text

POLICY = """
id: B-STO-01
title: Model storage is locked down
severity: critical
maturity: applied
resource: storage
scope: {field: holds_models, equals: true}
check:
  all:
    - {field: public, equals: false}
    - field: readers
      no_item: {field: kind, equals: anonymous}
    - {field: reader_count, at_most: {param: max_readers}}
    - {field: encryption.at_rest, equals: true}
    - any:
        - {field: access_logging.server_access, equals: true}
        - {field: access_logging.read_events, equals: true}
params: {max_readers: 5}
"""


def estate(storages: int, readers: int) -> tuple[Inventory, list[dict]]:
    kinds = ("human", "service", "group", "external")
    principals = [
        Resource(
            f"p{i}",
            "principal",
            f"p{i}",
            "bench",
            {"kind": "anonymous" if i == 150 else kinds[i % 4]},
        )
        for i in range(200)
    ]
    plain = []
    resources = list(principals)
    for i in range(storages):
        reader_ids = [f"p{(i * 7 + j) % 199}" for j in range(readers)]
        attrs = {
            "holds_models": i % 10 != 0,
            "public": Unknown("AccessDenied") if i % 97 == 0 else i % 13 == 0,
            "readers": [Ref(r) for r in reader_ids],
            "reader_count": len(reader_ids) - (i % 4),
            "encryption": {"at_rest": i % 3 != 0},
            "access_logging": {"server_access": i % 2 == 0, "read_events": i % 5 == 0},
        }
        resources.append(Resource(f"s3://b{i}", "storage", f"b{i}", "bench", attrs))
        plain.append({**attrs, "id": f"s3://b{i}", "reader_ids": reader_ids})
    return Inventory(resources), plain


def baseline(plain: list[dict], kinds: dict[str, str]) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "error": 0, "not_applicable": 0}
    for s in plain:
        if not s["holds_models"]:
            counts["not_applicable"] += 1
            continue
        rest = (
            not any(kinds[r] == "anonymous" for r in s["reader_ids"])
            and s["reader_count"] <= 5
            and s["encryption"]["at_rest"]
            and (s["access_logging"]["server_access"] or s["access_logging"]["read_events"])
        )
        if not rest:
            counts["fail"] += 1
        elif isinstance(s["public"], Unknown):  # unknown decides only when the rest passes
            counts["error"] += 1
        else:
            counts["pass" if s["public"] is False else "fail"] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--storages", type=int, default=20_000)
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    policy, errors = parse_policy(load_yaml_text(POLICY, "bench.yaml"))
    assert policy is not None, errors
    inventory, plain = estate(args.storages, args.readers)
    kinds = {r.id: r.attributes["kind"] for r in inventory.of_type("principal")}
    now = dt.datetime.now(dt.UTC)

    t_base, base_counts = best(lambda: baseline(plain, kinds), args.repeat)
    t_engine, findings = best(lambda: evaluate_all([policy], inventory, now), args.repeat)
    counts = {k: 0 for k in base_counts}
    for f in findings:
        counts[f.status] += 1
    assert counts == base_counts, (counts, base_counts)  # same verdicts, or the timing is moot
    per = t_engine / args.storages * 1e6
    print(f"storages={args.storages} readers/storage={args.readers} verdicts={counts}")
    print(f"baseline (hand-written loop): {t_base * 1000:8.1f} ms")
    print(f"policy engine:                {t_engine * 1000:8.1f} ms  ({per:.1f} µs per resource)")
    print(f"ratio engine/baseline: {t_engine / t_base:.1f}x")


if __name__ == "__main__":
    main()
