"""Bulk reads: days on which a principal read far more model-file bytes than it usually does
and than the others do, and single multi-GB reads of a model file from a public address.

A model thief with a valid credential reads like its owner, only more: the whole model
directory, every version, in one day. Two baselines have to be exceeded together, each
scaled by a factor, plus an absolute floor:
- its own: the median of the principal's *other* active days on that bucket (a day is active
  when it read any model-file bytes); with fewer than `min_history_days` such days there is no
  own baseline, and the population decides alone (a new principal has no habits);
- the population's: the 99th percentile of every *other* principal's active days on any
  bucket of the same logs (the principal itself is left out, so a heavy reader never sets the
  bar it is judged by); with no other principal there is no population baseline;
- the floor: `min_daily_bytes` (1 GiB by default), so small buckets never alarm on noise.

A serving role that loads the same model every day stays at its median; a principal that
downloads ten times its usual volume and twice what anyone else reads in a day is flagged.
Reads whose size the logs do not record (CopyObject, whose bytes move inside S3) count as
reads, not bytes; the finding says so.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DIRS = 20  # directories named per bulk day, largest first


@dataclass
class Day:
    """One principal's model-file reads of one bucket on one day."""

    bytes: int = 0
    reads: int = 0
    unsized: int = 0
    networks: dict[str, int] = field(default_factory=dict)
    public_ips: set[str] = field(default_factory=set)
    dirs: dict[str, int] = field(default_factory=dict)


def percentile(values: list[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def iso_day(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def size(n: float) -> str:
    """Bytes in words a reader takes in at a glance (decimal units, as S3 bills them)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def daily_volume(
    days: Mapping[tuple[str, str], Mapping[int, Day]], thresholds: Mapping[str, float]
) -> dict[str, list[dict[str, Any]]]:
    """Bulk days per bucket, from {(bucket, principal): {day: Day}}."""
    own_factor = thresholds["own_factor"]
    pop_factor = thresholds["population_factor"]
    floor = thresholds["min_daily_bytes"]
    min_history = int(thresholds["min_history_days"])
    by_principal: dict[str, list[int]] = defaultdict(list)
    for (_bucket, principal), per_day in days.items():
        by_principal[principal].extend(d.bytes for d in per_day.values() if d.bytes > 0)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    p99_cache: dict[str, float | None] = {}
    for (bucket, principal), per_day in sorted(days.items()):
        if principal not in p99_cache:
            others = [b for p, values in by_principal.items() if p != principal for b in values]
            p99_cache[principal] = percentile(others, 0.99) if others else None
        p99 = p99_cache[principal]
        active = {day: d for day, d in per_day.items() if d.bytes > 0}
        for day, d in sorted(active.items()):
            if d.bytes < floor:
                continue
            history = [o.bytes for other, o in active.items() if other != day]
            median = statistics.median(history) if len(history) >= min_history else None
            over_own = median is None or d.bytes > own_factor * median
            over_pop = p99 is None or d.bytes > pop_factor * p99
            if over_own and over_pop:
                out[bucket].append(_entry(principal, day, d, median, len(history), p99, thresholds))
    return dict(out)


def _entry(
    principal: str,
    day: int,
    d: Day,
    median: float | None,
    history: int,
    p99: float | None,
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    own = (
        f"{d.bytes / median:.0f}x its median day ({size(median)} over {history} other active days)"
        if median
        else (
            f"no usual volume of its own to compare with ({history} other active day(s), "
            f"fewer than {int(thresholds['min_history_days'])})"
        )
    )
    pop = (
        f"{d.bytes / p99:.1f}x the other principals' p99 day ({size(p99)})"
        if p99
        else "no other principal read model files"
    )
    where = ", ".join(f"{n} from {net.replace('_', ' ')}" for net, n in sorted(d.networks.items()))
    ips = sorted(d.public_ips)
    reason = (
        f"read {size(d.bytes)} of model files on {iso_day(day)} in {d.reads} read(s) ({where}"
        + (f"; public IP {', '.join(ips[:3])}" if ips else "")
        + f"): {own}; {pop}"
        + (f"; {d.unsized} more read(s) of unknown size" if d.unsized else "")
    )
    dirs = sorted(d.dirs.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_DIRS]
    return {
        "principal": principal,
        "kind": "daily_volume",
        "day": iso_day(day),
        "bytes": d.bytes,
        "reads": d.reads,
        "own_median_bytes": median,
        "own_history_days": history,
        "population_p99_bytes": p99,
        "thresholds": {
            "own_factor": thresholds["own_factor"],
            "population_factor": thresholds["population_factor"],
            "min_daily_bytes": thresholds["min_daily_bytes"],
        },
        "networks": dict(sorted(d.networks.items())),
        "public_ips": ips[:10],
        "dirs": [{"dir": name, "bytes": n} for name, n in dirs],
        "reason": reason,
    }


def public_read(
    principal: str,
    day: int,
    key: str,
    model_dir: str,
    read_bytes: int,
    object_size: int | None,
    ips: Iterable[str],
) -> dict[str, Any]:
    whole = None if object_size is None or object_size <= 0 else read_bytes >= object_size
    what = {True: "; that is the whole file", False: "; that is part of the file", None: ""}
    shown = sorted(ips)
    return {
        "principal": principal,
        "kind": "public_whole_model",
        "day": iso_day(day),
        "bytes": read_bytes,
        "key": key,
        "dir": model_dir,
        "object_size": object_size,
        "whole_file": whole,
        "public_ips": shown[:10],
        "reason": (
            f"read {size(read_bytes)} of {key} in one request on {iso_day(day)} from public IP "
            f"{', '.join(shown[:3]) or 'unknown'}{what[whole]}"
        ),
    }
