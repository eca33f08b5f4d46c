"""The `access-logs:` source: one `access_log` resource saying who read which bucket's objects.

The logs are read (DuckDB locally and for `s3://`, Athena for `athena:`), aggregated by the one
shared query, and summarised per bucket: readers with their reads, bytes, first and last
read and networks, model directories, bulk reads. What the logs cannot say is said too: the
window and what part of it the logs cover. Joining that with what the storage and IAM sources
report (who *can* read) happens at linking (`scanner/linking_reads.py`), because it needs both.

Malformed records are problems (one line per kind, with a count and the first file): the
source's status is `error` and the scan exits 3 unless --allow-partial, while what the rest
says is kept. Past `max_malformed` (a share of all records) the logs are not trusted at all
and the source fails.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from typing import Any

from scanner.inventory import Ref, Resource
from scanner.sources.access_logs.files import LogFile, Sorted, discover, sort_files
from scanner.sources.access_logs.options import AccessLogOptions, parse_options
from scanner.sources.access_logs.query import COLUMNS, DUCKDB_FUNCTIONS, Window, duckdb_query
from scanner.sources.access_logs.summarise import Coverage, iso, summarise
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec

DAY = 86_400.0


def window_of(options: AccessLogOptions) -> Window:
    end = options.window_end or dt.datetime.now(dt.UTC)
    end_ts = end.timestamp()
    return Window(start=end_ts - options.window_days * DAY, end=end_ts)


class AccessLogsSource:
    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.options = parse_options(spec)

    def collect(self, progress: Progress) -> Collection:
        options = self.options
        window = window_of(options)
        if options.kind == "athena":
            from scanner.sources.access_logs import athena

            rows = list(athena.run(options, window, progress))
            buckets, coverage = summarise(rows, options.thresholds)
            read = Read(records=coverage.records, files=None, formats={"cloudtrail": None})
            problems: list[str] = []
        else:
            buckets, coverage, read, problems = _read_files(options, window, progress)
        resource = access_log_resource(options, window, buckets, coverage, read, self.spec.name)
        if read.records == 0:
            problems.append(f"{options.label}: the logs hold no records")
        return Collection((resource,), tuple(problems))


class Read:
    """What was read: records (malformed ones included), files, formats."""

    def __init__(
        self,
        records: int,
        files: int | None,
        formats: dict[str, int | None],
        malformed: dict[str, int] | None = None,
        first_bad: dict[str, str] | None = None,
    ) -> None:
        self.records = records
        self.files = files
        self.formats = formats
        self.malformed = malformed or {}
        self.first_bad = first_bad or {}


def _read_files(
    options: AccessLogOptions, window: Window, progress: Progress
) -> tuple[list[dict[str, Any]], Coverage, Read, list[str]]:
    from scanner.sources.access_logs.loader import REASONS, Loader
    from scanner.sources.logs.duck import DuckWorkspace

    problems: list[str] = []
    unrecognised: list[str] = []
    with DuckWorkspace("modelward-access-logs-", options.memory_limit, options.threads) as ws:
        loader = Loader(ws, options.label, options.max_json_mb * 1024 * 1024)
        for sorted_files, batch_problems in _batches(options, ws.tmp, progress):
            problems.extend(batch_problems)
            unrecognised.extend(sorted_files.unrecognised)
            loader.load(sorted_files.files)
        counts = loader.finish()
        if counts.files == 0:
            raise SourceError(
                f"{options.label}: no CloudTrail or S3 server access log files"
                + (
                    f" ({len(unrecognised)} other file(s), first {unrecognised[0]})"
                    if unrecognised
                    else ""
                )
            )
        progress(f"{counts.records} record(s) in {counts.files} file(s); aggregating")
        with ws.errors(options.label):
            for statement in DUCKDB_FUNCTIONS:
                ws.con.execute(statement)
            rows = ws.con.execute(duckdb_query(window)).fetchall()
    if unrecognised:
        problems.append(
            f"{options.label}: {len(unrecognised)} file(s) are neither CloudTrail nor S3 "
            f"server access logs (first {unrecognised[0]})"
        )
    bad = sum(counts.malformed.values())
    lines = [
        f"{options.label}: {n} of {counts.records} records malformed: {REASONS[reason]}"
        + (f" (first in {counts.first_bad[reason]})" if reason in counts.first_bad else "")
        for reason, n in sorted(counts.malformed.items())
    ]
    if counts.records and bad / counts.records > options.max_malformed:
        raise SourceError(
            f"{options.label}: {bad} of {counts.records} records malformed "
            f"({bad / counts.records:.1%}), more than max_malformed {options.max_malformed:.1%}: "
            f"{lines[0].split(': ', 2)[-1]}"
        )
    problems = lines + problems
    buckets, coverage = summarise(rows, options.thresholds)
    read = Read(
        records=counts.records,
        files=counts.files,
        formats=dict(sorted(counts.formats.items())),
        malformed=dict(sorted(counts.malformed.items())),
        first_bad=counts.first_bad,
    )
    return buckets, coverage, read, problems


def _batches(
    options: AccessLogOptions, workdir: str, progress: Progress
) -> Iterator[tuple[Sorted, list[str]]]:
    if options.kind == "s3":
        from scanner.sources.access_logs import s3files

        for fetched, problems in s3files.batches(options, workdir, progress):
            yield sort_files([(f.path, f.name) for f in fetched], options.format), problems
        return
    paths = discover(options.target, options.max_files)
    progress(f"{len(paths)} file(s) under {options.target}")
    limit = options.batch_mb * 1024 * 1024
    batch: list[tuple[str, str]] = []
    held = 0
    for path in paths:
        batch.append((path, path))
        held += _size(path)
        if held >= limit or len(batch) >= 5000:
            yield sort_files(batch, options.format), []
            batch, held = [], 0
    if batch:
        yield sort_files(batch, options.format), []


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def access_log_id(options: AccessLogOptions) -> str:
    return f"access-log:{options.target}"


def access_log_resource(
    options: AccessLogOptions,
    window: Window,
    buckets: Iterable[dict[str, Any]],
    coverage: Coverage,
    read: Read,
    source: str,
) -> Resource:
    covered_from = max(window.start, coverage.first) if coverage.first is not None else None
    covered_to = min(window.end, coverage.last) if coverage.last is not None else None
    covered_days = (
        round((covered_to - covered_from) / DAY)
        if covered_from is not None and covered_to is not None
        else 0
    )
    # The logs start no later than a day into the window and end no earlier than two days
    # before its end (server access logs arrive hours late; CloudTrail within minutes).
    whole = (
        coverage.first is not None
        and coverage.last is not None
        and coverage.first <= window.start + DAY
        and coverage.last >= window.end - 2 * DAY
    )
    attrs: dict[str, Any] = {
        "target": options.target,
        "mode": options.kind,
        "formats": read.formats,
        "window": {
            "start": iso(window.start),
            "end": iso(window.end),
            "days": options.window_days,
        },
        "coverage": {
            "files": read.files,
            "records": read.records,
            "malformed": read.malformed,
            "first_record": iso(coverage.first),
            "last_record": iso(coverage.last),
            "covered_from": iso(covered_from),
            "covered_to": iso(covered_to),
            "covered_days": covered_days,
            "whole_window": whole,
        },
        "thresholds": dict(options.thresholds),
        "buckets": [{"storage": Ref(f"s3://{b['bucket']}"), **b} for b in buckets],
    }
    return Resource(
        id=access_log_id(options),
        type="access_log",
        name=options.target,
        source=source,
        attributes=attrs,
    )


__all__ = ["COLUMNS", "AccessLogsSource", "LogFile", "access_log_resource"]
