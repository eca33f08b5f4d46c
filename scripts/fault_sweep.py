"""The full fault sweep: every operation a scan of the demo estate makes, every fault kind.

    python -m scripts.fault_sweep            # every operation x every kind, on every request
    python -m scripts.fault_sweep --first    # ... and on the first request only (retries)
    python -m scripts.fault_sweep --families # the CI matrix: one call per API family

For each cell it scans with the fault and checks the fail-closed property against the fault-
free scan (`tests/wire_faults.violations`): no finding moves from fail to pass or
not_applicable, none becomes pass or not_applicable that was not, none disappears unless the
scan exits 3, and --allow-partial never passes what the fault-free scan fails. It prints one
line per cell (exit code, seconds, the first problem) and a summary; it exits 1 when any cell
violates the property, so it can gate a release. The CI suite runs the family matrix only
(tests/integration/test_wire_faults.py); this takes several minutes.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.wire_faults import FAMILIES, FAST, KINDS, faulted_estate, problems, violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.fault_sweep", description=__doc__)
    parser.add_argument("--families", action="store_true", help="one call per API family only")
    parser.add_argument("--first", action="store_true", help="also fault only the first request")
    parser.add_argument("--kind", action="append", choices=KINDS, help="only these fault kinds")
    parser.add_argument("--operation", action="append", help="only these operations")
    args = parser.parse_args(argv)
    kinds = args.kind or list(KINDS)
    started = time.monotonic()
    with faulted_estate() as estate:
        setup = time.monotonic() - started
        operations = (
            sorted(op for _, op in FAMILIES.values())
            if args.families
            else args.operation or estate.operations
        )
        modes: list[int | None] = [None, 1] if args.first else [None]
        print(f"estate ready in {setup:.1f} s; {len(operations)} operations x {len(kinds)} kinds"
              f" x {len(modes)} mode(s)")  # fmt: skip
        bad = 0
        cells = 0
        for operation in operations:
            for kind in kinds:
                for times in modes:
                    source = estate.fault(kind, operation, times)
                    cell = time.monotonic()
                    document = estate.scan(source, FAST)
                    seconds = time.monotonic() - cell
                    found = violations(estate.baseline, document)
                    cells += 1
                    bad += bool(found)
                    code = document["gate"]["exit_code"]
                    first = next(iter(problems(document)), "") or ""
                    mode = "every" if times is None else "first"
                    mark = "VIOLATION" if found else "ok"
                    print(f"{mark:9} {operation:42} {kind:8} {mode:5} exit {code} "
                          f"{seconds:5.1f}s  {first[:110]}")  # fmt: skip
                    for line in found:
                        print(f"          {line}")
    total = time.monotonic() - started
    print(f"{cells} cells, {bad} with violations, {total:.0f} s in all ({setup:.0f} s setup)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
