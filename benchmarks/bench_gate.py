"""Gate and CI outputs at scale, against a floor measured in the same run.

The floor is writing results.json (the one output every scan writes). Measured: applying a
waivers file and deciding the gate, rendering SARIF, rendering JUnit, each as a ratio of the
floor on the same document. Run:
`python -m benchmarks.bench_gate [--findings 50000 --policies 50 --waivers 500]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from benchmarks.timing import best
from scanner import results
from scanner.findings import ControlRef, Finding
from scanner.frameworks import maturity
from scanner.gate import GateSettings, Selector, decide
from scanner.outputs.junit_writer import JunitWriter
from scanner.outputs.sarif_writer import SarifWriter
from scanner.policy.model import AllOf, Policy
from scanner.waivers import apply, load_waivers

AS_OF = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
STATUSES = ("pass", "pass", "fail", "pass", "error", "not_applicable")
SEVERITIES = ("critical", "high", "medium", "low", "info")


def build(n_findings: int, n_policies: int) -> list[Finding]:
    per = max(1, n_findings // n_policies)
    out = []
    for p in range(n_policies):
        pid = f"B-{p % 7}-{p:03}"
        controls = tuple(ControlRef("fw", f"C{(p + k) % 40}") for k in range(3))
        for r in range(per):
            out.append(
                Finding(
                    pid, f"Title {pid}", SEVERITIES[p % 5], "applied", f"s3://bucket-{r:06}",
                    "storage", f"bucket-{r:06}", STATUSES[(p + r) % len(STATUSES)],
                    f"public is true, expected false ({r})", {"public": True}, controls,
                )
            )  # fmt: skip
    return out


def waivers_file(path: Path, n: int, n_policies: int) -> Path:
    lines = ["waivers:"]
    for i in range(n):
        policy = f"B-{i % 7}-*" if i % 10 == 0 else f"B-{i % 7}-{i % n_policies:03}"
        resource = f"bucket-{i:04}*" if i % 3 == 0 else f"s3://bucket-{i:06}"
        lines.append(
            f"  - {{policy: '{policy}', resource: '{resource}', justification: j{i}, "
            f"approved_by: a, expires: 2025-12-31}}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def document_of(findings: list[Finding], policies: list[Policy], gate: dict) -> dict:
    scan = {
        "id": "bench", "started_at": "2025-06-30T00:00:00Z", "finished_at": "2025-06-30T00:00:01Z",
        "as_of": "2025-06-30T00:00:00Z", "sources": [],
        "policy_pack": {"count": len(policies), "sha256": "0" * 64}, "params": {},
    }  # fmt: skip
    return results.build(
        scan=scan, policies=policies, resources=[], findings=findings, frameworks=[],
        maturity=maturity(policies, findings), gate=gate,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--findings", type=int, default=50_000)
    ap.add_argument("--policies", type=int, default=50)
    ap.add_argument("--waivers", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    findings = build(args.findings, args.policies)
    policies = [
        Policy(pid, f"Title {pid}", "high", "applied", "storage", AllOf("", ()))
        for pid in sorted({f.policy_id for f in findings})
    ]
    with tempfile.TemporaryDirectory() as tmp:
        ws = load_waivers(waivers_file(Path(tmp) / "w.yaml", args.waivers, args.policies), AS_OF)
    settings = GateSettings(
        hard_fail_on=Selector.parse(["B-1-*"]), soft_fail_on=Selector.parse(["low"])
    )

    def gate() -> None:
        waived, _, _ = apply(findings, ws, AS_OF)
        decide(waived, [], settings)

    waived, _, _ = apply(findings, ws, AS_OF)
    document = document_of(waived, policies, decide(waived, [], settings))
    assert not results.problems(document)
    floor, _ = best(lambda: results.dumps(document), args.repeat)
    rows = [
        ("waivers + gate", best(gate, args.repeat)[0]),
        ("sarif", best(lambda: SarifWriter().render(document), args.repeat)[0]),
        ("junit", best(lambda: JunitWriter().render(document), args.repeat)[0]),
    ]
    print(
        f"{len(findings)} findings, {len(policies)} policies, {len(ws.waivers)} waivers; "
        f"floor (results.json dumps): {floor:.3f}s"
    )
    for name, seconds in rows:
        print(f"{name:>15}: {seconds:.3f}s  ratio {seconds / floor:.2f}x")


if __name__ == "__main__":
    main()
