"""Groups of clients judged together: Sybil clusters of new accounts, and organisations.

An extractor who spreads queries over many fresh accounts keeps each account's volume low and
splits the tell-tale sequences (a perturbation and its parent land in different accounts). New
accounts that share an ASN, an IP prefix or an API-key owner are therefore merged into one
stream and judged by the same detectors with the same thresholds; a group alarm that none of
its members raised alone flags every member with the `sybil` detector. Clusters larger than
`max_group` are a provider's or a campus's address space rather than one actor, and are left
alone (counted in the reason of the skipped groups). A client belongs to the prefix of the
address it used most.

Organisations (when an org field is mapped) are judged on their summed volume against the p99
of organisation-days, which needs at least 20 organisations to mean anything.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

import duckdb
import numpy as np

from scanner.sources.logs import detectors as det
from scanner.sources.logs.columns import fetch
from scanner.sources.logs.model import ClientVerdict, Context, GroupVerdict, Window

MIN_ORGS = 20
GROUP_KEYS = (("asn", "asn"), ("ip", "ip_prefix"), ("key_owner", "key_owner"))


def analyse_groups(
    con: duckdb.DuckDBPyConnection,
    endpoint: str,
    window: Window,
    roles: frozenset[str],
    ctx: Context,
    verdicts: tuple[ClientVerdict, ...],
) -> tuple[tuple[GroupVerdict, ...], set[str], dict[str, str]]:
    groups: list[GroupVerdict] = []
    ran: set[str] = set()
    skipped: dict[str, str] = {}
    keyed = [role for role, _ in GROUP_KEYS if role in roles]
    if not keyed:
        skipped["sybil"] = "no asn, ip or key_owner field in the mapping"
    elif not ctx.ran:
        skipped["sybil"] = "no detector ran for single clients, so none can run for groups"
    else:
        ran.add("sybil")
        groups.extend(_sybil(con, endpoint, window, keyed, ctx, verdicts))
    if "org" not in roles:
        skipped["org_volume"] = "no org field in the mapping"
    else:
        org_groups, why = _orgs(con, endpoint, ctx)
        if why:
            skipped["org_volume"] = why
        else:
            ran.add("org_volume")
            groups.extend(org_groups)
    return tuple(groups), ran, skipped


def _prefix(address: str | None, v4: int, v6: int) -> str | None:
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    bits = v4 if ip.version == 4 else v6
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def _sybil(
    con: duckdb.DuckDBPyConnection,
    endpoint: str,
    window: Window,
    keyed: list[str],
    ctx: Context,
    verdicts: tuple[ClientVerdict, ...],
) -> list[GroupVerdict]:
    opts = ctx.options.sybil
    since = window.start + opts.new_after_days * 86400.0
    rows = con.execute(
        "SELECT client, mode(asn), mode(ip), mode(key_owner) FROM q WHERE endpoint = $1 "
        "GROUP BY client HAVING min(ts) >= $2 ORDER BY client",
        [endpoint, since],
    ).fetchall()
    clusters: dict[tuple[str, str], list[str]] = defaultdict(list)
    for client, asn, ip, owner in rows:
        values = {
            "asn": asn,
            "ip": _prefix(ip, opts.ipv4_prefix, opts.ipv6_prefix),
            "key_owner": owner,
        }
        for role, kind in GROUP_KEYS:
            if role in keyed and values[role]:
                clusters[(kind, values[role])].append(client)
    by_client = {v.client: v for v in verdicts}
    out = []
    for (kind, key), members in sorted(clusters.items()):
        if not opts.min_group <= len(members) <= opts.max_group:
            continue
        data = fetch(
            con,
            "SELECT client, ts, features, scores FROM q "
            "WHERE endpoint = $1 AND list_contains($2, client) ORDER BY ts, client",
            [endpoint, members],
        )
        ts = np.asarray(data["ts"], dtype=np.float64)
        combined = ctx.judge(ts, data["features"], data["scores"])
        alone = {a.detector for m in members for a in by_client[m].alarmed}
        tripped = [a for a in combined if a.alarmed and a.detector not in alone]
        if not tripped:
            continue
        first = min(tripped, key=lambda a: a.alarm_ts or 0.0)
        reason = (
            f"{len(members)} new accounts sharing {kind.replace('_', ' ')} {key}: together "
            f"they trip {', '.join(a.detector for a in tripped)}, which none trips alone "
            f"({first.reason})"
        )
        alarm = det.Alarm(
            "sybil",
            max(a.score / a.threshold for a in tripped),
            1.0,
            True,
            first.queries_until_alarm,
            first.alarm_ts,
            reason,
        )
        before = data["client"][ts <= (first.alarm_ts or 0.0)]
        at_alarm = {m: int(np.count_nonzero(before == m)) for m in members}
        out.append(
            GroupVerdict(kind, key, tuple(sorted(members)), len(ts), (alarm, *tripped), at_alarm)
        )
    return out


def _orgs(
    con: duckdb.DuckDBPyConnection, endpoint: str, ctx: Context
) -> tuple[list[GroupVerdict], str | None]:
    row = con.execute(
        """
        WITH o AS (SELECT org, ts FROM q WHERE endpoint = $1 AND org IS NOT NULL),
        d AS (SELECT count(*) AS n FROM o GROUP BY org, floor(ts / 86400)),
        t AS (SELECT count(*) AS n FROM o GROUP BY org, floor(ts / 600))
        SELECT (SELECT count(DISTINCT org) FROM o), (SELECT quantile_cont(n, 0.99) FROM d),
               (SELECT quantile_cont(n, 0.99) FROM t)
        """,
        [endpoint],
    ).fetchone()
    assert row is not None
    orgs, p99_daily, p99_10min = row
    if orgs < MIN_ORGS:
        return [], f"{orgs} organisation(s); an organisation baseline needs at least {MIN_ORGS}"
    threshold = ctx.options.thresholds["org_volume"]
    # Only organisations over the line are fetched: the others cannot alarm.
    heavy = con.execute(
        """
        WITH o AS (SELECT org, ts FROM q WHERE endpoint = $1 AND org IS NOT NULL)
        SELECT DISTINCT org FROM (
            SELECT org, count(*) OVER (PARTITION BY org, floor(ts / 86400)) AS nd,
                   count(*) OVER (PARTITION BY org, floor(ts / 600)) AS nt FROM o
        ) WHERE nd > $2 OR nt > $3 ORDER BY org
        """,
        [endpoint, threshold * p99_daily, threshold * p99_10min],
    ).fetchall()
    out = []
    for (org,) in heavy:
        data = fetch(
            con,
            "SELECT client, ts FROM q WHERE endpoint = $1 AND org = $2 ORDER BY ts, client",
            [endpoint, org],
        )
        ts = np.asarray(data["ts"], dtype=np.float64)
        alarm = det.volume_alarm("org_volume", ts, float(p99_daily), float(p99_10min), threshold)
        if alarm.alarmed:
            members = tuple(sorted({str(c) for c in data["client"]}))
            out.append(GroupVerdict("org", org, members, len(ts), (alarm,)))
    return out, None
