"""Who can read each bucket (the IAM evaluation) joined with who did (the access logs).

The `access-logs:` source reports, per bucket, who read, how much, when and from where; the
storage sources report who *can* read (`readers`, `access_grants`) and whether the bucket
admits only private network paths (`network_restricted`); the artefacts say which model
directories are which model. None of them alone can say "this role can read the fraud model
and has not for 90 days" or "this user read it from the internet although the bucket allows
only its VPC endpoint", so the join happens here, at linking, as a pure function of the
collected resources (called by `scanner.linking`).

Per S3 storage, once any access log was read:
- `read_window`: the window and how much of it the logs cover, always stated;
- `observed_readers`, `unused_readers`, `unexpected_reads`, `bulk_reads`, `reader_usage`;
and the same, restricted to its directory, per model artefact in that storage.

"No data" is never "no readers": a bucket no log record names gets `Unknown("no data events
for this bucket in the logs")` for every list; a list the logs cannot complete (they cover
only part of the window, the grants are unreadable) is Unknown with the reason, while
positives (a read that happened, a bulk day) stand whatever else is unknown.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.inventory import Ref, Unknown

DAY = 86_400.0
NO_EVENTS = "no data events for this bucket in the logs"
PRIVATE_NETWORKS = ("vpc_endpoint", "in_vpc", "aws")
Attrs = dict[str, Any]


@dataclass(frozen=True)
class Principals:
    """Inventory principals by id, and roles and users by (account, kind, name): server
    access logs name a role session without the role's path."""

    by_id: Mapping[str, Attrs]
    names: Mapping[str, str]  # id -> display name
    by_name: Mapping[tuple[str, str, str], str]

    @staticmethod
    def build(principals: Sequence[tuple[str, str, Attrs]]) -> Principals:
        by_name: dict[tuple[str, str, str], str] = {}
        for pid, _name, _attrs in principals:
            parsed = _arn_parts(pid)
            if parsed is not None:
                by_name.setdefault(parsed, pid)
        return Principals(
            by_id={pid: attrs for pid, _n, attrs in principals},
            names={pid: name for pid, name, _a in principals},
            by_name=by_name,
        )

    def standing(self, pid: str) -> bool | Unknown:
        """Standing access: not only just-in-time (an elevation role, a break-glass grant)."""
        jit = self.by_id.get(pid, {}).get("just_in_time")
        if isinstance(jit, Unknown):
            return Unknown(f"whether {pid} is just-in-time is unknown: {jit.reason}")
        return jit is not True

    def resolve(self, logged: str) -> str:
        if logged in self.by_id:
            return logged
        parsed = _arn_parts(logged)
        return self.by_name.get(parsed, logged) if parsed is not None else logged

    def who(self, pid: str) -> str:
        """A principal in words: `role fraud-serving`, `user bob`, `anyone (anonymous)`."""
        if pid == "*":
            return "anyone (anonymous)"
        if pid.startswith("service:"):
            return f"the AWS service {pid[len('service:') :]}"
        if pid.startswith("canonical-user:"):
            return f"the canonical user {pid[len('canonical-user:') :][:12]}…"
        parts = pid.split(":")
        if len(parts) >= 6 and parts[5] == "root":
            return f"account {parts[4]}"
        kind = _arn_parts(pid)
        name = self.names.get(pid) or (kind[2] if kind else pid)
        return f"{kind[1]} {name}" if kind else name


def _arn_parts(pid: str) -> tuple[str, str, str] | None:
    """(account, role|user, name) of an IAM role or user ARN, path dropped."""
    parts = pid.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return None
    resource = parts[5]
    kind = resource.split("/", 1)[0]
    if kind not in ("role", "user") or "/" not in resource:
        return None
    return parts[4], kind, resource.rsplit("/", 1)[-1]


def _account(pid: str) -> str | None:
    parts = pid.split(":")
    return parts[4] if len(parts) > 4 and parts[0] == "arn" else None


def _days(text: Any, end: float) -> int | None:
    import datetime as dt

    if not isinstance(text, str):
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return max(0, int((end - moment.timestamp()) // DAY))


def _ts(text: Any) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def _networks(networks: Mapping[str, int]) -> str:
    words = {
        "vpc_endpoint": "through a VPC endpoint",
        "in_vpc": "from private addresses",
        "aws": "from AWS services",
        "public": "from public IPs",
        "unknown": "from unrecorded addresses",
    }
    return ", ".join(f"{n} {words.get(k, k)}" for k, n in sorted(networks.items()))


@dataclass(frozen=True)
class Bucket:
    """One storage's view: who can read it, and what the chosen log says about it."""

    sid: str
    attrs: Attrs
    log_id: str
    log: Attrs
    entry: Attrs | None


def link_reads(
    logs: Sequence[tuple[str, Attrs]],
    storages: Sequence[tuple[str, Attrs]],
    artefacts: Sequence[tuple[str, Attrs]],
    principals: Sequence[tuple[str, str, Attrs]],
) -> dict[str, Attrs]:
    """New attributes by resource id. Nothing when no access log was read."""
    if not logs:
        return {}
    people = Principals.build(principals)
    entries: dict[str, list[tuple[str, Attrs, Attrs]]] = defaultdict(list)
    # A log whose window, coverage or bucket list is Unknown (or a bucket entry that does not
    # say which bucket it is) may hold any bucket's reads; an entry with an Unknown field
    # cannot be judged. What they touch is Unknown, never "nobody read it".
    anywhere: Unknown | None = None
    unreadable: dict[str, Unknown] = {}
    for lid, log in sorted(logs):
        broken = _unknown_in({k: log.get(k) for k in ("window", "coverage", "buckets")})
        if broken is not None:
            if anywhere is None:
                anywhere = Unknown(f"the access log {lid} is unreadable: {broken.reason}")
            continue
        for entry in log.get("buckets") or ():
            storage = entry.get("storage") if isinstance(entry, Mapping) else None
            if not isinstance(storage, Ref):
                if anywhere is None:
                    anywhere = Unknown(f"the access log {lid} names an unknown bucket")
                continue
            broken = _unknown_in(entry)
            if broken is not None:
                unreadable.setdefault(
                    storage.id, Unknown(f"the access log {lid} is unreadable: {broken.reason}")
                )
                continue
            entries[storage.id].append((lid, log, entry))
    default_id, default_log = sorted(logs)[0]
    out: dict[str, Attrs] = {}
    views: dict[str, Bucket] = {}
    lost: dict[str, Unknown] = {}
    for sid, attrs in storages:
        if not sid.startswith("s3://"):
            continue  # the logs read are AWS logs: other providers' storage is not covered
        why = anywhere if anywhere is not None else unreadable.get(sid)
        if why is not None:
            lost[sid] = why
            out[sid] = dict.fromkeys(("read_window", *_LISTS), why)
            continue
        found = entries.get(sid, [])
        if found:
            # Two log sets can cover one bucket (a trail and its server access logs): the one
            # that saw the most reads is counted, never both (they record the same reads).
            lid, log, entry = max(found, key=lambda f: (f[2].get("read_events") or 0, f[0]))
        else:
            lid, log, entry = default_id, default_log, None
        view = Bucket(sid, attrs, lid, log, entry)
        views[sid] = view
        out[sid] = _storage(view, people, len(found))
    for aid, attrs in artefacts:
        storage = attrs.get("storage")
        if isinstance(storage, Ref) and storage.id in lost:
            out[aid] = dict.fromkeys(("read_window", *_LISTS), lost[storage.id])
        elif isinstance(storage, Ref) and storage.id in views:
            out[aid] = _artefact(aid, attrs, views[storage.id], people, artefacts)
    return out


_LISTS = ("observed_readers", "unused_readers", "unexpected_reads", "bulk_reads", "reader_usage")


def _unknown_in(value: Any, depth: int = 4) -> Unknown | None:
    """The first Unknown in a value, its mappings and lists (to `depth` levels)."""
    if isinstance(value, Unknown):
        return value
    if depth == 0:
        return None
    children = value.values() if isinstance(value, Mapping) else value
    if isinstance(value, Mapping | list | tuple):
        for child in children:
            found = _unknown_in(child, depth - 1)
            if found is not None:
                return found
    return None


def _window(view: Bucket, sets: int) -> Attrs:
    log = view.log
    window = dict(log.get("window") or {})
    coverage = log.get("coverage") or {}
    window.update(
        {
            "covered_from": coverage.get("covered_from"),
            "covered_to": coverage.get("covered_to"),
            "covered_days": coverage.get("covered_days"),
            "whole_window": coverage.get("whole_window"),
            "log": Ref(view.log_id),
            "read_events": (view.entry or {}).get("read_events", 0),
        }
    )
    if sets > 1:
        window["other_logs"] = sets - 1
    return window


def _storage(view: Bucket, people: Principals, sets: int) -> Attrs:
    window = _window(view, sets)
    out: Attrs = {"read_window": window}
    if view.entry is None:
        reason = Unknown(
            f"{NO_EVENTS} ({view.log_id}, {window.get('start')} to {window.get('end')})"
        )
        for key in ("observed_readers", "unused_readers", "unexpected_reads", "bulk_reads"):
            out[key] = reason
        out["reader_usage"] = reason
        return out
    readers = _readers(view.attrs)
    observed = {e["principal"]: e for e in view.entry.get("readers") or ()}
    out.update(_judge(view, people, observed, readers, view.entry.get("bulk_reads") or (), None))
    return out


def _readers(storage: Attrs) -> list[str] | Unknown:
    readers = storage.get("readers")
    if isinstance(readers, Unknown):
        return Unknown(f"who can read is unknown: {readers.reason}")
    if not isinstance(readers, list):
        return Unknown("the storage source reports no readers")
    return [r.id for r in readers if isinstance(r, Ref)]


def _can_read(pid: str, readers: list[str] | Unknown, owner: Any) -> bool | Unknown:
    if pid.startswith("service:"):
        return Unknown(f"{pid[len('service:') :]} is an AWS service; services are not evaluated")
    if isinstance(readers, Unknown):
        return readers
    if pid in readers or "*" in readers:
        return True
    # A whole account among the readers admits its principals (their own IAM decides); the
    # owner account's root reads its own buckets unless a bucket policy denies it.
    account = _account(pid)
    return bool(account) and (
        f"arn:aws:iam::{account}:root" in readers or pid == f"arn:aws:iam::{owner}:root"
    )


def _judge(
    view: Bucket,
    people: Principals,
    observed: Mapping[str, Attrs],
    readers: list[str] | Unknown,
    bulk: Sequence[Attrs],
    artefact: str | None,
) -> Attrs:
    """The four lists and the usage counts, for a storage or (with `artefact`) one of its
    model directories."""
    window = view.log.get("window") or {}
    end = _ts(window["end"]) if window.get("end") else 0.0
    where = artefact or view.sid
    merged: dict[str, Attrs] = {}
    for logged, entry in observed.items():
        pid = people.resolve(logged)
        if pid in merged:  # a role seen with and without its path
            merged[pid] = _merge(merged[pid], entry)
        else:
            merged[pid] = dict(entry)
    seen: list[Attrs] = []
    for pid, entry in sorted(merged.items()):
        can = _can_read(pid, readers, view.attrs.get("account"))
        idle = _days(entry.get("last_read"), end)
        seen.append(
            {
                "id": pid,
                "principal": Ref(pid) if pid in people.by_id else pid,
                "can_read": can,
                "standing": people.standing(pid),
                **{k: v for k, v in entry.items() if k != "principal"},
                "idle_days": idle,
                "summary": (
                    f"{people.who(pid)} read {entry.get('reads', 0)} object(s) of {where} "
                    f"({_size(entry.get('bytes') or 0)}) between {entry.get('first_read')} and "
                    f"{entry.get('last_read')}, {_networks(entry.get('networks') or {})}"
                ),
            }
        )
    unused = _unused(view, people, merged, readers, where)
    unexpected = _unexpected(view, people, seen, where)
    bulk_items = [
        {
            "id": people.resolve(b["principal"]),
            **{k: v for k, v in b.items() if k != "principal"},
            "principal": (
                Ref(people.resolve(b["principal"]))
                if people.resolve(b["principal"]) in people.by_id
                else b["principal"]
            ),
            "summary": f"{people.who(people.resolve(b['principal']))} {b['reason']}",
        }
        for b in bulk
    ]
    return {
        "observed_readers": seen,
        "unused_readers": unused,
        "unexpected_reads": unexpected,
        "bulk_reads": bulk_items,
        "reader_usage": _usage(readers, seen, unused, unexpected, window),
    }


def _merge(a: Attrs, b: Attrs) -> Attrs:
    out = dict(a)
    for key in ("reads", "bytes", "unsized_reads", "copies", "model_reads", "model_bytes"):
        out[key] = (a.get(key) or 0) + (b.get(key) or 0)
    out["first_read"] = min(x for x in (a.get("first_read"), b.get("first_read")) if x)
    out["last_read"] = max(x for x in (a.get("last_read"), b.get("last_read")) if x)
    nets = dict(a.get("networks") or {})
    for k, v in (b.get("networks") or {}).items():
        nets[k] = nets.get(k, 0) + v
    out["networks"] = nets
    out["vpc_endpoints"] = sorted(
        {*(a.get("vpc_endpoints") or ()), *(b.get("vpc_endpoints") or ())}
    )
    ips: dict[str, list[str]] = {}
    for source in (a.get("source_ips") or {}, b.get("source_ips") or {}):
        for net, values in source.items():
            ips[net] = sorted({*ips.get(net, []), *values})
    out["source_ips"] = ips
    return out


def _unused(
    view: Bucket,
    people: Principals,
    merged: Mapping[str, Attrs],
    readers: list[str] | Unknown,
    where: str,
) -> list[Attrs] | Unknown:
    if isinstance(readers, Unknown):
        return readers
    window = view.log.get("window") or {}
    coverage = view.log.get("coverage") or {}
    if coverage.get("whole_window") is not True:
        return Unknown(
            f"the logs cover {coverage.get('covered_days')} of the {window.get('days')} days of "
            f"the window ({coverage.get('covered_from')} to {coverage.get('covered_to')}); "
            "reads outside that are not known"
        )
    readers_set = set(readers)
    read_by = set(merged)
    accounts_read = {_account(p) for p in read_by}
    grants = view.attrs.get("access_grants")
    out = []
    for pid in sorted(readers_set):
        if pid in read_by:
            continue
        if pid == "*" and any(p == "*" or p not in readers_set for p in read_by):
            continue  # anyone may read, and someone with no grant of their own did
        if pid.endswith(":root") and _account(pid) in accounts_read:
            continue
        vias = (
            sorted(
                {
                    str(g.get("via"))
                    for g in grants
                    if isinstance(g, Mapping)
                    and isinstance(g.get("principal"), Ref)
                    and g["principal"].id == pid
                }
            )
            if isinstance(grants, list)
            else []
        )
        days = window.get("days")
        out.append(
            {
                "id": pid,
                "principal": Ref(pid),
                "via": vias,
                "standing": people.standing(pid),
                "idle_days": days,
                "last_read": None,
                "summary": (
                    f"{people.who(pid)} can read {where}"
                    + (
                        f" (through its {' and '.join(v.replace('_', ' ') for v in vias)})"
                        if vias
                        else ""
                    )
                    + f" and read nothing in the {days} days the logs cover "
                    f"({window.get('start')} to {window.get('end')})"
                ),
            }
        )
    return out


def _allowed(view: Bucket, pid: str) -> tuple[set[str] | None, list[Any] | None]:
    """The VPC endpoints and source-IP ranges this principal's grants on the bucket are
    conditioned on, when every grant names them (None: not limited that way)."""
    grants = view.attrs.get("access_grants")
    if not isinstance(grants, list):
        return None, None
    mine = [
        g
        for g in grants
        if isinstance(g, Mapping)
        and isinstance(g.get("principal"), Ref)
        and g["principal"].id == pid
    ]
    if not mine:
        return None, None
    vpces: set[str] = set()
    nets: list[Any] = []
    every_vpce = every_ip = True
    for g in mine:
        conditions = g.get("conditions") or {}
        found_vpce = found_ip = False
        for op, keys in conditions.items() if isinstance(conditions, Mapping) else ():
            if not isinstance(keys, Mapping) or "Not" in op or "IfExists" in op:
                continue
            for key, values in keys.items():
                values = values if isinstance(values, list) else [values]
                if key.lower() == "aws:sourcevpce":
                    vpces.update(str(v) for v in values)
                    found_vpce = True
                if key.lower() == "aws:sourceip":
                    for v in values:
                        try:
                            nets.append(ipaddress.ip_network(str(v), strict=False))
                            found_ip = True
                        except ValueError:
                            pass
        every_vpce &= found_vpce
        every_ip &= found_ip
    return (vpces if every_vpce else None), (nets if every_ip else None)


def _unexpected(
    view: Bucket, people: Principals, seen: Sequence[Attrs], where: str
) -> list[Attrs] | Unknown:
    restricted = view.attrs.get("network_restricted")
    out: list[Attrs] = []
    unknown: Unknown | None = None
    for item in seen:
        pid = item["id"]
        who = people.who(pid)
        can = item["can_read"]
        if can is False:
            out.append(
                _unexpected_item(
                    item,
                    "cannot_read",
                    f"{who} read {item.get('reads')} object(s) of {where} "
                    f"({_size(item.get('bytes') or 0)}, last on {item.get('last_read')}) but "
                    "cannot read it under the current policies: access was removed since, or it "
                    "reads through a path the IAM evaluation does not see",
                )
            )
        networks = item.get("networks") or {}
        public = int(networks.get("public", 0))
        vpces, ranges = _allowed(view, pid)
        ips = (item.get("source_ips") or {}).get("public", [])
        reasons = []
        if public and restricted is True:
            reasons.append(
                f"{public} read(s) from public IP {', '.join(ips[:3]) or 'unknown'} although "
                f"{view.sid} admits reads only through a VPC endpoint or VPC"
            )
        elif public and isinstance(restricted, Unknown) and unknown is None:
            unknown = Unknown(
                f"whether {view.sid} admits public reads is unknown: {restricted.reason}"
            )
        if vpces is not None:
            other = sorted(set(item.get("vpc_endpoints") or ()) - vpces)
            if other:
                reasons.append(
                    f"reads through VPC endpoint {', '.join(other)}, not the one its grants "
                    f"name ({', '.join(sorted(vpces))})"
                )
        if ranges is not None:
            outside = [ip for ip in ips if not _within(ip, ranges)]
            if outside:
                reasons.append(
                    f"reads from {', '.join(outside[:3])}, outside the addresses its grants name"
                )
        if reasons:
            out.append(
                _unexpected_item(
                    item, "off_network", f"{who} read {where} off-network: " + "; ".join(reasons)
                )
            )
    if unknown is not None and not out:
        return unknown
    return out


def _within(ip: str, ranges: list[Any]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in ranges)


def _unexpected_item(item: Attrs, reason: str, summary: str) -> Attrs:
    return {
        "id": item["id"],
        "principal": item["principal"],
        "reason": reason,
        "reads": item.get("reads"),
        "bytes": item.get("bytes"),
        "first_read": item.get("first_read"),
        "last_read": item.get("last_read"),
        "networks": item.get("networks"),
        "source_ips": item.get("source_ips"),
        "vpc_endpoints": item.get("vpc_endpoints"),
        "summary": summary,
    }


def _usage(
    readers: list[str] | Unknown,
    seen: Sequence[Attrs],
    unused: list[Attrs] | Unknown,
    unexpected: list[Attrs] | Unknown,
    window: Mapping[str, Any],
) -> Attrs:
    can = readers if isinstance(readers, Unknown) else len(readers)
    did = sum(1 for s in seen if s["can_read"] is True)
    return {
        "can_read": can,
        "did_read": did,
        "read_by": len(seen),
        "unused": unused if isinstance(unused, Unknown) else len(unused),
        "unexpected": unexpected if isinstance(unexpected, Unknown) else len(unexpected),
        "window_days": window.get("days"),
    }


# --------------------------------------------------------------------------------------------
# Per model artefact


def _prefix(aid: str) -> str:
    return aid[len("s3://") :].partition("/")[2].rstrip("/")


def _owner_of(dir_: str, prefixes: Sequence[str]) -> str | None:
    """The deepest artefact prefix at or above a directory."""
    best = None
    for p in prefixes:
        above = p == "" or dir_ == p or dir_.startswith(p + "/")
        if above and (best is None or len(p) > len(best)):
            best = p
    return best


def _artefact(
    aid: str,
    attrs: Attrs,
    view: Bucket,
    people: Principals,
    artefacts: Sequence[tuple[str, Attrs]],
) -> Attrs:
    window = _window(view, 1)
    out: Attrs = {"read_window": window}
    if view.entry is None:
        reason = Unknown(f"{NO_EVENTS} ({view.log_id})")
        for key in (
            "observed_readers",
            "unused_readers",
            "unexpected_reads",
            "bulk_reads",
            "reader_usage",
        ):
            out[key] = reason
        return out
    if view.entry.get("model_dirs_truncated"):
        reason = Unknown("the logs name more model directories of this bucket than are kept")
        for key in ("observed_readers", "unused_readers", "unexpected_reads", "reader_usage"):
            out[key] = reason
    mine = _prefix(aid)
    siblings = [
        _prefix(a)
        for a, at in artefacts
        if isinstance(at.get("storage"), Ref) and at["storage"].id == view.sid
    ]
    rows = [
        r
        for r in view.entry.get("model_dirs") or ()
        if _owner_of(str(r.get("dir")), siblings) == mine
    ]
    observed: dict[str, Attrs] = {}
    for r in rows:
        entry = {k: v for k, v in r.items() if k != "dir"}
        p = entry["principal"]
        observed[p] = _merge(observed[p], entry) if p in observed else entry
    files = attrs.get("files")
    sizes = {
        f"{mine}/{f['path']}".lstrip("/"): f.get("size")
        for f in (files if isinstance(files, list) else ())
        if isinstance(f, Mapping) and isinstance(f.get("path"), str)
    }
    bulk: list[Attrs] = []
    for b in view.entry.get("bulk_reads") or ():
        if b.get("kind") == "public_whole_model":
            if _owner_of(str(b.get("dir")), siblings) != mine:
                continue
            b = dict(b)
            size = sizes.get(str(b.get("key")))
            if b.get("whole_file") is None and isinstance(size, int) and size > 0:
                b["object_size"] = size
                b["whole_file"] = b["bytes"] >= size
                b["reason"] += f"; the artefact lists the file at {_size(size)}, so that is " + (
                    "the whole file" if b["whole_file"] else "part of it"
                )
            bulk.append(b)
        else:
            here = sum(
                d["bytes"]
                for d in b.get("dirs") or ()
                if _owner_of(str(d.get("dir")), siblings) == mine
            )
            if here:
                b = dict(b)
                b["reason"] += f"; {_size(here)} of it from this model"
                b["artefact_bytes"] = here
                bulk.append(b)
    judged = _judge(view, people, observed, _readers(view.attrs), bulk, aid)
    for key, value in judged.items():
        out.setdefault(key, value)
    return out
