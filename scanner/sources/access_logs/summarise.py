"""The aggregation's rows into what the logs say about each bucket: who read, how much, when,
from which networks, which model directories, and the bulk reads.

The rows are few (one per bucket, principal, day, network and model directory), so this is
plain Python; what is kept per bucket is bounded (`MAX_DIRS` model-directory entries, a few
addresses per reader), so a resource stays small whatever the logs hold.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scanner.redact import redact_text
from scanner.sources.access_logs.bulk import Day, daily_volume, iso_day, public_read
from scanner.sources.access_logs.query import COLUMNS

MAX_DIRS = 5000  # (model directory, principal) entries per bucket
MAX_IPS = 10
MAX_TEXT = 512  # principals, keys and addresses come from the logs: clipped, redacted


@dataclass
class Totals:
    reads: int = 0
    bytes: int = 0
    unsized: int = 0
    copies: int = 0
    model_reads: int = 0
    model_bytes: int = 0
    first: float | None = None
    last: float | None = None
    networks: dict[str, int] = field(default_factory=dict)
    vpces: set[str] = field(default_factory=set)
    ips: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    identity_types: set[str] = field(default_factory=set)
    days: set[int] = field(default_factory=set)

    def add(self, row: Mapping[str, Any]) -> None:
        reads = int(row["reads"] or 0)
        self.reads += reads
        self.bytes += int(row["bytes"] or 0)
        self.unsized += reads - int(row["sized_reads"] or 0)
        self.copies += int(row["copies"] or 0)
        if row["model_dir"] is not None:
            self.model_reads += reads
            self.model_bytes += int(row["bytes"] or 0)
        first, last = row["first_ts"], row["last_ts"]
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        net = row["network"]
        self.networks[net] = self.networks.get(net, 0) + reads
        for key in ("vpce_low", "vpce_high"):
            if row[key]:
                self.vpces.add(text(row[key]))
        for key in ("ip_low", "ip_high"):
            if row[key] and len(self.ips[net]) < MAX_IPS:
                self.ips[net].add(text(row[key]))
        if row["identity_type"]:
            self.identity_types.add(text(row["identity_type"]))
        self.days.add(int(row["day"]))

    def attributes(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "bytes": self.bytes,
            "unsized_reads": self.unsized,
            "copies": self.copies,
            "model_reads": self.model_reads,
            "model_bytes": self.model_bytes,
            "first_read": iso(self.first),
            "last_read": iso(self.last),
            "active_days": len(self.days),
            "networks": dict(sorted(self.networks.items())),
            "vpc_endpoints": sorted(self.vpces)[:MAX_IPS],
            "source_ips": {net: sorted(ips) for net, ips in sorted(self.ips.items()) if ips},
        }


@dataclass
class Coverage:
    records: int = 0
    first: float | None = None
    last: float | None = None


@lru_cache(maxsize=65536)
def _text(value: str) -> str:
    out = redact_text(value)
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 1] + "…"


def text(value: Any) -> str:
    """A string from the logs as a resource keeps it: redacted, clipped. The same principals,
    buckets and directories recur on every row, so the redaction is remembered."""
    return _text(str(value))


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = dt.datetime.fromtimestamp(ts, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def summarise(
    rows: Iterable[tuple[Any, ...]], thresholds: Mapping[str, float]
) -> tuple[list[dict[str, Any]], Coverage]:
    """Per-bucket facts (sorted by bucket) and the coverage row."""
    coverage = Coverage()
    readers: dict[str, dict[str, Totals]] = defaultdict(lambda: defaultdict(Totals))
    dirs: dict[str, dict[tuple[str, str], Totals]] = defaultdict(lambda: defaultdict(Totals))
    largest: dict[tuple[str, str, str], dict[str, Any]] = {}
    days: dict[tuple[str, str], dict[int, Day]] = defaultdict(lambda: defaultdict(Day))
    public_reads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    floor = thresholds["public_read_bytes"]
    for raw in rows:
        row = dict(zip(COLUMNS, raw, strict=True))
        if int(row["level"]) != 0:
            coverage = Coverage(int(row["records"] or 0), row["first_ts"], row["last_ts"])
            continue
        bucket, principal = text(row["bucket"]), text(row["principal"])
        readers[bucket][principal].add(row)
        model_dir = row["model_dir"]
        if model_dir is None:
            continue
        model_dir = text(model_dir)
        dirs[bucket][(model_dir, principal)].add(row)
        day = days[(bucket, principal)][int(row["day"])]
        reads, sized = int(row["reads"] or 0), int(row["sized_reads"] or 0)
        day.bytes += int(row["bytes"] or 0)
        day.reads += reads
        day.unsized += reads - sized
        day.networks[row["network"]] = day.networks.get(row["network"], 0) + reads
        day.dirs[model_dir] = day.dirs.get(model_dir, 0) + int(row["bytes"] or 0)
        ips = {text(row[k]) for k in ("ip_low", "ip_high") if row[k]}
        if row["network"] == "public":
            day.public_ips |= ips
            big = row["largest_bytes"]
            if big is not None and big >= floor:
                key = (bucket, principal, model_dir)
                entry = public_read(
                    principal,
                    int(row["day"]),
                    text(row["largest_key"]),
                    model_dir,
                    int(big),
                    int(row["largest_size"]) if row["largest_size"] is not None else None,
                    ips,
                )
                if key not in largest or largest[key]["bytes"] < entry["bytes"]:
                    largest[key] = entry
    for (bucket, _principal, _dir), entry in sorted(largest.items()):
        public_reads[bucket].append(entry)
    bulk = daily_volume(days, thresholds)
    out = []
    for bucket in sorted(readers):
        totals = Totals()
        entries = []
        for principal, t in sorted(readers[bucket].items()):
            entries.append({"principal": principal, **t.attributes()})
            totals.reads += t.reads
            totals.first = t.first if totals.first is None else min(totals.first, t.first or 0)
            totals.last = t.last if totals.last is None else max(totals.last, t.last or 0)
        dir_entries = [
            {"dir": d, "principal": p, **t.attributes()}
            for (d, p), t in sorted(dirs[bucket].items(), key=lambda kv: (-kv[1].bytes, kv[0]))
        ]
        out.append(
            {
                "bucket": bucket,
                "read_events": totals.reads,
                "first_read": iso(totals.first),
                "last_read": iso(totals.last),
                "readers": entries,
                "model_dirs": sorted(
                    dir_entries[:MAX_DIRS], key=lambda e: (e["dir"], e["principal"])
                ),
                "model_dirs_truncated": len(dir_entries) > MAX_DIRS,
                "bulk_reads": [
                    *bulk.get(bucket, []),
                    *sorted(public_reads.get(bucket, []), key=lambda e: (e["day"], e["key"])),
                ],
            }
        )
    return out, coverage


__all__ = ["Coverage", "iso", "iso_day", "summarise", "text"]
