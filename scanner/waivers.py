"""Waivers: governed, expiring exceptions applied between evaluation and the gate.

A waiver names a policy (id or wildcard) and a resource (id, name or glob), and must say why
(`justification`), who accepted the risk (`approved_by`) and until when (`expires`), as Chef
InSpec's waiver files and Trivy's ignore files do. Because a waiver lets a failure through a
deploy gate, the file is all-or-nothing: any syntax, schema or date problem rejects the whole
file with `FILE:LINE:COL` (exit 2), and a waiver longer than the configured maximum is refused
rather than trimmed. Expiry is judged against the scan's as-of moment, so tests and audits of a
past period get the verdict of that day.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from scanner.errors import InputFileError
from scanner.findings import Finding
from scanner.schemas import check
from scanner.yamlpos import LoadedYaml, dates_to_text, load_yaml_file

WAIVERS_SCHEMA = "waivers.schema.json"
WHAT = "waivers file"
DEFAULT_MAX_DAYS = 365
WAIVABLE = ("fail", "error")


class WaiverError(InputFileError):
    """A waivers file is malformed, schema-invalid or grants more than it may (exit 2)."""


@dataclass(frozen=True)
class Waiver:
    policy: str
    resource: str
    justification: str
    approved_by: str
    expires: dt.date
    ticket: str | None
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def matches_policy(self, policy_id: str) -> bool:
        return fnmatch.fnmatchcase(policy_id, self.policy)

    def matches(self, finding: Finding) -> bool:
        return self.matches_policy(finding.policy_id) and self.matches_resource(finding)

    def matches_resource(self, finding: Finding) -> bool:
        r = self.resource
        return (
            r in (finding.resource_id, finding.resource_name)
            or fnmatch.fnmatchcase(finding.resource_id, r)
            or (bool(finding.resource_name) and fnmatch.fnmatchcase(finding.resource_name, r))
        )

    def expired(self, now: dt.datetime) -> bool:
        """A waiver expires at the start (00:00 UTC) of its `expires` day, as attestations do."""
        start = dt.datetime.combine(self.expires, dt.time(), tzinfo=dt.UTC)
        return now >= start

    def to_dict(self, state: str, original_status: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "policy": self.policy,
            "resource": self.resource,
            "justification": self.justification,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "file": self.file,
            "line": self.line,
            "state": state,
            "original_status": original_status,
        }
        if self.ticket is not None:
            entry["ticket"] = self.ticket
        return entry


@dataclass(frozen=True)
class WaiverSet:
    file: str
    max_days: int
    waivers: tuple[Waiver, ...]


def load_waivers(
    path: str | os.PathLike[str], as_of: dt.datetime, max_days: int = DEFAULT_MAX_DAYS
) -> WaiverSet:
    """Read and validate a waivers file; every problem is an exit-2 `FILE:LINE:COL` error."""
    try:
        loaded = load_yaml_file(path, what=WHAT)
        loaded = LoadedYaml(loaded.path, dates_to_text(loaded.data), loaded.positions)
        if loaded.data is None:  # an empty file waives nothing: safe to accept
            return WaiverSet(loaded.path, max_days, ())
        check(loaded, WAIVERS_SCHEMA, WHAT)
    except InputFileError as exc:
        raise WaiverError(exc.message, details=exc.details) from None
    today = as_of.astimezone(dt.UTC).date()
    waivers = []
    errors = []
    for index, entry in enumerate(loaded.data["waivers"]):
        where = ("waivers", index)
        expires = dt.date.fromisoformat(entry["expires"])  # the schema checked the format
        days = (expires - today).days
        if days > max_days:
            errors.append(
                loaded.error_line(
                    (*where, "expires"),
                    f"expires {expires} is {days} days after {today}; a waiver may last at "
                    f"most {max_days} days (gate.waiver_max_days)",
                )
            )
        waivers.append(
            Waiver(
                policy=entry["policy"],
                resource=entry["resource"],
                justification=entry["justification"].strip(),
                approved_by=entry["approved_by"].strip(),
                expires=expires,
                ticket=entry.get("ticket"),
                file=loaded.path,
                line=loaded.where(where).line,
            )
        )
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise WaiverError(errors[0] + more, details=errors[:20])
    return WaiverSet(loaded.path, max_days, tuple(waivers))


def _expired_message(finding: Finding, waiver: Waiver) -> str:
    return f"{finding.message} (waiver {waiver.where} expired on {waiver.expires})"


def apply(
    findings: Sequence[Finding], waivers: WaiverSet, now: dt.datetime
) -> tuple[list[Finding], dict[str, Any], list[str]]:
    """Waive what active waivers cover. Returns the findings, the `gate.waivers` summary and
    notes for the terminal (expired waivers that failed a finding, stale waivers)."""
    matched = [0] * len(waivers.waivers)
    applied = [0] * len(waivers.waivers)
    lapsed = [0] * len(waivers.waivers)  # findings failing because this waiver expired
    out: list[Finding] = []
    # Policy patterns are matched once per distinct policy id, not once per finding: an estate
    # has few policies and many findings, and a waivers file can hold hundreds of entries.
    by_policy: dict[str, list[int]] = {}
    for finding in findings:
        if finding.status not in WAIVABLE:
            out.append(finding)
            continue
        candidates = by_policy.get(finding.policy_id)
        if candidates is None:
            candidates = [
                i for i, w in enumerate(waivers.waivers) if w.matches_policy(finding.policy_id)
            ]
            by_policy[finding.policy_id] = candidates
        hits = [i for i in candidates if waivers.waivers[i].matches_resource(finding)]
        for i in hits:
            matched[i] += 1
        active = [i for i in hits if not waivers.waivers[i].expired(now)]
        if active:
            w = waivers.waivers[active[0]]
            applied[active[0]] += 1
            waived = replace(finding, status="waived", waiver=w.to_dict("applied", finding.status))
            out.append(waived)
        elif hits:
            # The most recently expired one explains best why the finding is failing again.
            i = max(hits, key=lambda i: (waivers.waivers[i].expires, -i))
            w = waivers.waivers[i]
            lapsed[i] += 1
            out.append(
                replace(
                    finding,
                    message=_expired_message(finding, w),
                    waiver=w.to_dict("expired", finding.status),
                )
            )
        else:
            out.append(finding)
    entries = []
    notes = []
    for i, w in enumerate(waivers.waivers):
        expired = w.expired(now)
        state = "stale" if not matched[i] else "expired" if expired else "active"
        entries.append(
            {
                "file": w.file,
                "line": w.line,
                "policy": w.policy,
                "resource": w.resource,
                "expires": w.expires.isoformat(),
                "state": state,
                "matched": matched[i],
                "applied": applied[i],
                "lapsed": lapsed[i],
            }
        )
        if state == "stale":
            notes.append(
                f"waiver {w.where} ({w.policy} on {w.resource}) matches no failing finding "
                f"(stale): remove it"
            )
        elif state == "expired":
            notes.append(
                f"waiver {w.where} ({w.policy} on {w.resource}) expired on {w.expires}: "
                f"{lapsed[i]} finding(s) no longer waived"
            )
    summary = {
        "file": waivers.file,
        "max_days": waivers.max_days,
        "count": len(waivers.waivers),
        "applied": sum(1 for e in entries if e["applied"]),
        "expired": sum(1 for e in entries if e["state"] == "expired"),
        "stale": sum(1 for e in entries if e["state"] == "stale"),
        "waived_findings": sum(applied),
        "entries": entries,
    }
    return out, summary, notes
