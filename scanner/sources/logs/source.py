"""The `logs:PATH` source: inference logs analysed into one `traffic` resource per endpoint.

Malformed records are problems (one line per kind, with a count and the first file), which
keeps the scan fail-closed (exit 3 unless --allow-partial) while still reporting what the rest
of the log says; past `max_malformed` (a share of all records) the log is not trusted at all
and the source fails. Client ids are data from whoever called the API: they are clipped,
redacted and never interpolated into SQL or terminal markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact_text
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec
from scanner.sources.logs.analyze import analyse_endpoint
from scanner.sources.logs.calibration import Baseline, attacker_cost, recommended_limits
from scanner.sources.logs.formats import LogFiles, classify, discover
from scanner.sources.logs.model import EndpointAnalysis, GroupVerdict
from scanner.sources.logs.options import LogOptions, parse_options
from scanner.sources.logs.reader import REASONS, LogReader

MAX_ID = 256
MAX_LISTED = 1000  # suspicious clients listed per endpoint; the count says how many in all


@dataclass(frozen=True)
class Report:
    """Everything one analysis found, before it becomes resources or a table."""

    target: str
    files: LogFiles
    records: int
    malformed: Mapping[str, int]
    problems: tuple[str, ...]
    endpoints: tuple[EndpointAnalysis, ...]


def analyse(target: str, options: LogOptions, progress: Progress) -> Report:
    from threadpoolctl import threadpool_limits

    # BLAS threads default to one: the matrices are small, and on a shared CI runner threads
    # spinning against each other made the analysis 4x slower (measured on 2 shared cores).
    with threadpool_limits(limits=options.threads or 1):
        return _analyse(target, options, progress)


def _analyse(target: str, options: LogOptions, progress: Progress) -> Report:
    files = classify(target, discover(target), options.format, options.fields)
    progress(f"{len(files.files)} file(s), {files.flavour} {files.format}")
    with LogReader(target, options) as reader:
        loaded = reader.load(files)
        bad = sum(loaded.malformed.values())
        problems = [
            f"logs:{target}: {count} of {loaded.records} records malformed: {REASONS[reason]}"
            + (
                f" (first in {loaded.first_bad_file[reason]})"
                if reason in loaded.first_bad_file and reason != "bad_input"
                else ""
            )
            for reason, count in loaded.malformed.items()
        ]
        if loaded.records and bad / loaded.records > options.max_malformed:
            raise SourceError(
                f"logs:{target}: {bad} of {loaded.records} records malformed "
                f"({bad / loaded.records:.1%}), more than max_malformed "
                f"{options.max_malformed:.1%}: {problems[0].split(': ', 2)[-1]}"
            )
        names = [
            r[0]
            for r in loaded.con.execute(
                "SELECT DISTINCT endpoint FROM q ORDER BY endpoint"
            ).fetchall()
        ]
        if not names:
            problems.append(f"logs:{target}: the logs hold no requests")
        analyses = tuple(
            analyse_endpoint(loaded.con, name, loaded.roles, options, progress) for name in names
        )
    return Report(target, files, loaded.records, loaded.malformed, tuple(problems), analyses)


class LogsSource:
    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.options = parse_options(spec)

    def collect(self, progress: Progress) -> Collection:
        report = analyse(self.spec.target, self.options, progress)
        resources = [
            traffic_resource(a, report, self.options, self.spec.name) for a in report.endpoints
        ]
        if not report.endpoints and self.options.endpoint:
            resources.append(empty_resource(report, self.options, self.spec.name))
        return Collection(tuple(sorted(resources, key=lambda r: r.id)), report.problems)


def endpoint_id(name: str, options: LogOptions) -> str | None:
    """The endpoint's resource id: the endpoints mapping, an ARN as logged, or the ARN prefix
    plus the name lower-cased (SageMaker writes endpoint names lower-case in its ARNs)."""
    if name in options.endpoints:
        return options.endpoints[name]
    if name.startswith("arn:"):
        return name
    if options.endpoint_arn_prefix and name:
        return options.endpoint_arn_prefix + name.lower()
    return None


def _iso(ts: float) -> str:
    moment = dt.datetime.fromtimestamp(ts, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def client_text(client: str) -> str:
    text = redact_text(client)
    return text if len(text) <= MAX_ID else text[: MAX_ID - 1] + "…"


def _alarm_dict(alarm: Any, queries: int | None = None) -> dict[str, Any]:
    return {
        "detector": alarm.detector,
        "score": round(alarm.score, 4),
        "threshold": alarm.threshold,
        "queries_until_alarm": alarm.queries_until_alarm if queries is None else queries,
        "alarm_at": _iso(alarm.alarm_ts) if alarm.alarm_ts is not None else None,
        "reason": client_text(alarm.reason) if len(alarm.reason) > 2000 else alarm.reason,
    }


def suspicious(analysis: EndpointAnalysis) -> list[dict[str, Any]]:
    """Every flagged client with each alarm; `score` is how far past its threshold the
    strongest alarm went (1.0 = at the threshold)."""
    entries: dict[str, dict[str, Any]] = {}
    queries = {v.client: v.queries for v in analysis.clients}
    orgs = {v.client: v.org for v in analysis.clients}
    for verdict in analysis.clients:
        for alarm in verdict.alarmed:
            _add(entries, verdict.client, verdict.queries, verdict.org, _alarm_dict(alarm))
    for group in analysis.groups:
        if group.kind == "org":
            continue
        sybil = group.alarms[0]
        for member in group.members:
            alarm = _alarm_dict(sybil, group.at_alarm.get(member))
            _add(entries, member, queries[member], orgs.get(member), alarm)
    out = []
    for client, entry in entries.items():
        alarms = sorted(
            entry["alarms"], key=lambda a: (-a["score"] / a["threshold"], a["detector"])
        )
        out.append(
            {
                "client": client_text(client),
                "org": entry["org"],
                "queries": entry["queries"],
                "detectors": sorted({a["detector"] for a in alarms}),
                "score": round(max(a["score"] / a["threshold"] for a in alarms), 3),
                "reason": "; ".join(f"{a['detector']}: {a['reason']}" for a in alarms),
                "alarms": alarms,
            }
        )
    return sorted(out, key=lambda e: (-e["score"], e["client"]))


def _add(
    entries: dict[str, dict[str, Any]],
    client: str,
    queries: int,
    org: str | None,
    alarm: dict[str, Any],
) -> None:
    entry = entries.setdefault(client, {"queries": queries, "org": org, "alarms": []})
    entry["alarms"].append(alarm)


def _group_dict(group: GroupVerdict) -> dict[str, Any]:
    members = [client_text(m) for m in group.members]
    return {
        "kind": group.kind,
        "key": client_text(group.key),
        "members": members[:100],
        "member_count": len(members),
        "queries": group.queries,
        "detectors": [a.detector for a in group.alarms],
        "alarms": [_alarm_dict(a) for a in group.alarms],
    }


def _unknown_baseline(analysis: EndpointAnalysis, options: LogOptions) -> str | None:
    if analysis.window.days < options.min_days:
        return (
            f"{analysis.window.days} day(s) of logs; calibrating rate limits needs at least "
            f"{options.min_days} (option min_days)"
        )
    if analysis.baseline is None:
        return "fewer than 20 clients: no population to take percentiles of"
    return None


def traffic_resource(
    analysis: EndpointAnalysis, report: Report, options: LogOptions, source: str
) -> Resource:
    name = analysis.endpoint
    eid = endpoint_id(name, options)
    endpoint: Ref | Unknown = (
        Ref(eid)
        if eid
        else Unknown(
            f"the logs name endpoint {name!r}, which neither the endpoints option nor "
            f"endpoint_arn_prefix maps to an endpoint id"
            if name
            else "the logs name no endpoint: set the endpoint option or map fields.endpoint"
        )
    )
    why = _unknown_baseline(analysis, options)
    listed = suspicious(analysis)
    attrs: dict[str, Any] = {
        "endpoint": endpoint,
        "endpoint_name": client_text(name),
        "format": report.files.flavour if report.files.flavour != "plain" else report.files.format,
        "fields": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in sorted(report.files.fields.items())
        },
        "window": {
            "start": _iso(analysis.window.start),
            "end": _iso(analysis.window.end),
            "days": analysis.window.days,
        },
        "requests": analysis.requests,
        "clients": len(analysis.clients),
        "detectors_ran": list(analysis.detectors_ran),
        "detectors_skipped": [
            {"detector": d, "reason": r} for d, r in analysis.detectors_skipped.items()
        ],
        "suspicious_count": len(listed),
        "suspicious_clients": listed[:MAX_LISTED],
        "suspicious_groups": [_group_dict(g) for g in analysis.groups],
        "thresholds": dict(options.thresholds),
        "reference": dict(analysis.reference),
    }
    if why is None and analysis.baseline is not None:
        limits = recommended_limits(analysis.baseline, options.limit_factor)
        attrs["baseline"] = analysis.baseline.attributes()
        attrs["recommended_limits"] = limits
        attrs["attacker_cost"] = attacker_cost(limits, options.attack_queries)
        attrs["baseline_by_tier"] = _tiers(analysis.tiers, lambda b: b.attributes())
        attrs["recommended_limits_by_tier"] = _tiers(
            analysis.tiers, lambda b: recommended_limits(b, options.limit_factor)
        )
    else:
        for key in ("baseline", "recommended_limits", "attacker_cost"):
            attrs[key] = Unknown(why or "no baseline")
    rid = f"traffic:{eid or name or 'unnamed'}"
    return Resource(
        id=rid,
        type="traffic",
        name=client_text(name or "unnamed"),
        source=source,
        attributes=attrs,
        raw=None,
    )


def _tiers(tiers: Mapping[str, Baseline], fn: Callable[[Baseline], Any]) -> dict[str, Any]:
    return {client_text(t): fn(b) for t, b in sorted(tiers.items())}


def empty_resource(report: Report, options: LogOptions, source: str) -> Resource:
    """The endpoint option names the endpoint: say what its (empty) log tells, fail-closed."""
    name = options.endpoint or ""
    eid = endpoint_id(name, options)
    nothing = Unknown("the logs hold no requests")
    attrs: dict[str, Any] = {
        "endpoint": Ref(eid) if eid else nothing,
        "endpoint_name": name,
        "requests": 0,
        "clients": 0,
        "window": nothing,
        "detectors_ran": [],
        "suspicious_clients": nothing,
        "baseline": nothing,
        "recommended_limits": nothing,
    }
    return Resource(
        id=f"traffic:{eid or name}", type="traffic", name=name, source=source, attributes=attrs
    )
