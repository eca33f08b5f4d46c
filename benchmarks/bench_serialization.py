"""Serialization scan: detection and speed on the generated corpus, next to picklescan and fickling.

The corpus (tests/corpus.py: our own techniques plus samples re-created from the recipes in
picklescan's, modelscan's and fickling's test suites) is generated into a temporary directory
and scanned file by file. picklescan, fickling and modelscan are references, not dependencies:
install them into a throwaway environment and point `--ref-python` at it,

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install picklescan fickling typing_extensions py7zr modelscan
    python -m benchmarks.bench_serialization --ref-python /tmp/refvenv/bin/python

or have them importable here. A tool that is not available is left out with a message.

Verdicts: `flag` names something dangerous (or fails closed on a name it cannot know), `-` is
clean, `err` could not scan the file, `skip` did not look at it. The target: at least 99 % of
malicious samples flagged and a dangerous global named in at most 1 of 50 benign ones. The
speed baseline is the least an opcode scanner must do, measured in the same run:
`pickletools.genops` decoding the same bytes without any analysis.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import pickletools
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.timing import best
from scanner.artefacts.formats import sniff
from scanner.artefacts.serialization import scan_file
from tests.corpus import SAMPLES, build_corpus

Verdict = str  # "flag", "-", "err", "skip"
REFERENCES = ("picklescan", "fickling", "modelscan")

# Runs inside the reference tools' interpreter: one verdict per path, as JSON on stdout.
_REFERENCE_RUNNER = r"""
import contextlib, io, json, sys, time, logging
logging.disable(logging.CRITICAL)
tool, paths = sys.argv[1], json.load(sys.stdin)
out = {}
def picklescan_run(path):
    from picklescan.scanner import scan_file_path
    r = scan_file_path(path)
    if r.issues_count:
        return "flag"
    return "err" if r.scan_err else ("-" if r.scanned_files else "skip")
def fickling_run(path):
    import fickling
    r = fickling.scan_file(path, graceful=True)
    if not r.is_safe:
        return "flag"
    return "err" if getattr(r, "errors", None) else "-"
def modelscan_run(path):
    from modelscan.modelscan import ModelScan
    r = ModelScan().scan(path)
    if r["issues"]:
        return "flag"
    if r["errors"]:
        return "err"
    return "-" if r["summary"]["scanned"]["total_scanned"] else "skip"
run = {"picklescan": picklescan_run, "fickling": fickling_run, "modelscan": modelscan_run}[tool]
start = time.perf_counter()
for path in paths:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            out[path] = run(path)
    except Exception:
        out[path] = "err"
print(json.dumps({"verdicts": out, "seconds": time.perf_counter() - start}))
"""


def modelward(path: Path) -> Verdict:
    result = scan_file(path, path.name, sniff(path).format)
    if any(i.global_name is not None or "fail closed" in i.reason for i in result.issues):
        return "flag"
    return "err" if result.issues else "-"


def reference(tool: str, ref_python: str | None, paths: list[Path]) -> tuple[dict, float] | str:
    """Verdicts of a reference tool and its time, or why it was left out."""
    python = ref_python
    if python is None:
        if importlib.util.find_spec(tool) is None:
            return f"{tool}: not installed here and no --ref-python given; left out"
        import sys

        python = sys.executable
    proc = subprocess.run(
        [python, "-c", _REFERENCE_RUNNER, tool],
        input=json.dumps([str(p) for p in paths]),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{tool}: not usable with {python} ({last}); left out"
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc["verdicts"], doc["seconds"]


def big_pickle(layers: int) -> bytes:
    """A state-dict-like pickle with many small opcodes (the slow case for any walker)."""
    state = {f"layer{i}.weight": [float(j) for j in range(1000)] for i in range(layers)}
    return pickle.dumps(state, protocol=4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=400, help="size of the speed sample")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ref-python", help="interpreter where the reference tools are installed")
    parser.add_argument("--rows", action="store_true", help="print one row per sample")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp) / "corpus")
        paths = [corpus[s.name] for s in SAMPLES]
        verdicts: dict[str, dict[str, Verdict]] = {"modelward": {}}
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        for path in paths:
            verdicts["modelward"][str(path)] = modelward(path)
        seconds["modelward"] = time.perf_counter() - start
        for tool in REFERENCES:
            got = reference(tool, args.ref_python, paths)
            if isinstance(got, str):
                print(got)
                continue
            verdicts[tool], seconds[tool] = got

        tools = list(verdicts)
        rows = [
            [s.name, "malicious" if s.malicious else "benign"]
            + [verdicts[t].get(str(corpus[s.name]), "skip") for t in tools]
            for s in SAMPLES
        ]
        if args.rows:
            header = ["sample", "expected", *tools]
            widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
            print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
            print("-+-".join("-" * w for w in widths))
            for row in rows:
                print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        malicious = sum(r[1] == "malicious" for r in rows)
        benign = len(rows) - malicious
        print(f"\ncorpus: {malicious} malicious, {benign} benign samples")
        for i, tool in enumerate(tools, start=2):
            caught = sum(r[i] == "flag" for r in rows if r[1] == "malicious")
            false = sum(r[i] == "flag" for r in rows if r[1] == "benign")
            rate = 100 * caught / malicious
            print(
                f"{tool}: {caught}/{malicious} malicious flagged ({rate:.1f} %), "
                f"{false}/{benign} benign flagged, corpus scanned in {seconds[tool]:.2f} s"
            )
        missed = [r[0] for r in rows if r[1] == "malicious" and r[2] != "flag"]
        flagged = [r[0] for r in rows if r[1] == "benign" and r[2] == "flag"]
        print(f"modelward missed: {missed or 'none'}; benign flagged: {flagged or 'none'}")

        data = big_pickle(args.layers)
        big = Path(tmp) / "big.pkl"
        big.write_bytes(data)
        baseline, _ = best(lambda: sum(1 for _ in pickletools.genops(data)), args.repeat)
        print(f"\nspeed sample: {len(data) / 1e6:.1f} MB pickle, {args.layers * 1000} floats")
        print(f"baseline pickletools.genops: {baseline * 1000:.0f} ms")
        t, _ = best(lambda: modelward(big), args.repeat)
        print(f"modelward: {t * 1000:.0f} ms, ratio {t / baseline:.2f}x the baseline")


if __name__ == "__main__":
    main()
