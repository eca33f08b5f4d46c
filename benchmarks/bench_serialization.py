"""Serialization scan: detection and speed on the generated corpus, next to modelscan and fickling.

modelscan and fickling are references, not dependencies; install them for the comparison:
`pip install modelscan fickling` (without them only modelward's rows are printed). The speed
baseline is the least an opcode scanner must do, measured in the same run: `pickletools.genops`
decoding the same bytes without any analysis. Run:
`python -m benchmarks.bench_serialization [--layers 400 --repeat 3]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import pickle
import pickletools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scanner.artefacts.formats import sniff
from scanner.artefacts.serialization import scan_file
from tests.corpus import SAMPLES, build_corpus

Verdict = str  # "flag", "-", "err", "skip"


def modelward(path: Path) -> Verdict:
    result = scan_file(path, path.name, sniff(path).format)
    if any(i.global_name is not None or "fail closed" in i.reason for i in result.issues):
        return "flag"
    return "err" if result.issues else "-"


def _modelscan() -> Callable[[Path], Verdict] | None:
    try:
        from modelscan.modelscan import ModelScan
    except ImportError:
        return None

    def run(path: Path) -> Verdict:
        with contextlib.redirect_stdout(io.StringIO()):
            report = ModelScan().scan(path)
        if report["issues"]:
            return "flag"
        if report["errors"]:
            return "err"
        return "-" if report["summary"]["scanned"]["total_scanned"] else "skip"

    return run


def _fickling() -> Callable[[Path], Verdict] | None:
    try:
        import fickling
    except ImportError:
        return None

    def run(path: Path) -> Verdict:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = fickling.scan_file(str(path), graceful=True)
        except Exception:
            return "err"
        if not result.is_safe:
            return "flag"
        return "err" if getattr(result, "errors", None) else "-"

    return run


def big_pickle(layers: int) -> bytes:
    """A state-dict-like pickle with many small opcodes (the slow case for any walker)."""
    state = {f"layer{i}.weight": [float(j) for j in range(1000)] for i in range(layers)}
    return pickle.dumps(state, protocol=4)


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=400, help="size of the speed sample")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tools: dict[str, Callable[[Path], Verdict]] = {"modelward": modelward}
    for name, factory in (("modelscan", _modelscan), ("fickling", _fickling)):
        tool = factory()
        if tool is None:
            print(f"{name}: not installed (pip install {name}); left out")
        else:
            tools[name] = tool

    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp) / "corpus")
        rows = []
        elapsed = dict.fromkeys(tools, 0.0)
        for sample in SAMPLES:
            row = [sample.name, "malicious" if sample.malicious else "benign"]
            for name, tool in tools.items():
                start = time.perf_counter()
                row.append(tool(corpus[sample.name]))
                elapsed[name] += time.perf_counter() - start
            rows.append(row)
        header = ["sample", "expected", *tools]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print("-+-".join("-" * w for w in widths))
        for row in rows:
            print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        print()
        for i, name in enumerate(tools, start=2):
            caught = sum(r[i] == "flag" for r in rows if r[1] == "malicious")
            false = sum(r[i] == "flag" for r in rows if r[1] == "benign")
            malicious = sum(r[1] == "malicious" for r in rows)
            benign = len(rows) - malicious
            print(
                f"{name}: {caught}/{malicious} malicious flagged, {false}/{benign} benign "
                f"flagged, corpus scanned in {elapsed[name] * 1000:.0f} ms"
            )

        data = big_pickle(args.layers)
        big = Path(tmp) / "big.pkl"
        big.write_bytes(data)
        baseline = timed(lambda: sum(1 for _ in pickletools.genops(data)), args.repeat)
        print(f"\nspeed sample: {len(data) / 1e6:.1f} MB pickle, {args.layers * 1000} floats")
        print(f"baseline pickletools.genops: {baseline * 1000:.0f} ms")
        for name, tool in tools.items():
            t = timed(lambda tool=tool: tool(big), args.repeat)
            print(f"{name}: {t * 1000:.0f} ms, ratio {t / baseline:.2f}x the baseline")


if __name__ == "__main__":
    main()
