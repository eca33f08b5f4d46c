"""Shard results → the document one scan of the whole estate would have written.

Each shard of `modelward scan --shard K/N` judged only what it read. Whatever needs the whole
estate (who in one account can read another's bucket, which registry version's files sit in
which account's bucket, the gate over every finding) is decided here: the collected inventory
is rebuilt from the shards' results (`results.collected_resources`, in the scan's source
order, so merged attributes resolve as one scan's would), and then linked, evaluated, rolled
up and gated by the same code a scan runs (`scan.finish`). Merging needs the policies the
shards used: it loads them again and refuses shard results made with another pack.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from typing import Any

from scanner import results
from scanner.errors import UsageError
from scanner.inventory import Gap, Inventory, Resource
from scanner.policy.operators import as_datetime
from scanner.progress import Reporter
from scanner.scan import Outcome, Prepared, finish, inventory_of
from scanner.sources.interface import combined_problems, summary
from scanner.yamlpos import display_path


class MergeError(UsageError):
    """Shard results that do not make one scan (exit 2)."""


def _shard_of(path: str, document: Mapping[str, Any]) -> Mapping[str, Any]:
    shard: Mapping[str, Any] | None = document["scan"].get("shard")
    if shard is None:
        raise MergeError(f"{path}: not a shard result (it was not scanned with --shard K/N)")
    if document["scan"].get("target") is not None:
        raise MergeError(f"{path}: a targeted scan (--model/--resource) cannot be merged")
    return shard


def check_complete(loaded: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
    """Every shard 1..N exactly once, all from the same scan configuration; returns N."""
    if not loaded:
        raise MergeError("merge needs the results of every shard (none given)")
    first_path, first = loaded[0]
    shard = _shard_of(first_path, first)
    count = int(shard["count"])
    seen: dict[int, str] = {}
    for path, document in loaded:
        mine = _shard_of(path, document)
        if int(mine["count"]) != count:
            raise MergeError(
                f"{path}: shard {mine['index']}/{mine['count']} is from a scan of "
                f"{mine['count']} shards, {first_path} from one of {count}"
            )
        index = int(mine["index"])
        if index in seen:
            raise MergeError(f"shard {index}/{count} is given twice ({seen[index]}, {path})")
        seen[index] = path
        for key, what in (
            (("shard", "sources"), "sources"),
            (("policy_pack",), "policy pack"),
            (("params",), "params"),
        ):
            mine_value: Any = document["scan"]
            theirs: Any = first["scan"]
            for part in key:
                mine_value, theirs = mine_value.get(part), theirs.get(part)
            if mine_value != theirs:
                raise MergeError(f"{path}: scanned with other {what} than {first_path}")
        if [p["id"] for p in document.get("policies", [])] != [
            p["id"] for p in first.get("policies", [])
        ]:
            raise MergeError(f"{path}: evaluated other policies than {first_path}")
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        shown = ", ".join(f"{i}/{count}" for i in missing)
        raise MergeError(f"shard {shown} is missing: merge needs the results of all {count}")
    return count


def merge_statuses(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One source's status from the shards that ran it (several, for a source that divides
    by account): its accounts in account order, its own problems then every account's."""
    if len(entries) == 1:
        return dict(entries[0])
    accounts: dict[str, Mapping[str, Any]] = {}
    own: list[str] = []
    error: str | None = None
    count = 0
    for entry in entries:
        theirs = [p for a in entry.get("accounts", []) for p in a.get("problems", [])]
        own += [p for p in entry.get("problems", []) if p not in set(theirs)]
        for account in entry.get("accounts", []):
            accounts.setdefault(account["id"], account)
        error = error or entry.get("error")
        count += int(entry["resource_count"])
    ordered = [accounts[a] for a in sorted(accounts)]
    problems = combined_problems(own, [list(a.get("problems", [])) for a in ordered])
    error = summary(problems) or error
    out: dict[str, Any] = {
        "name": entries[0]["name"],
        "type": entries[0]["type"],
        "status": "error" if error else "ok",
        "error": error,
        "resource_count": count,
    }
    if problems:
        out["problems"] = problems
    if ordered:
        out["accounts"] = [dict(a) for a in ordered]
    gaps = {
        Gap.from_dict(g): None for entry in entries for g in entry.get("gaps", ())
    }  # the shards' gaps, each once, in the order one scan lists them
    if gaps:
        out["gaps"] = [g.to_dict() for g in sorted(gaps, key=Gap.order)]
    return out


def _moment(documents: Sequence[Mapping[str, Any]], key: str, pick: Any) -> dt.datetime | None:
    moments = [as_datetime(d["scan"].get(key)) for d in documents if d["scan"].get(key)]
    known = [m for m in moments if m is not None]
    return pick(known) if known else None


def collected_inventory(documents: Sequence[Mapping[str, Any]], names: Sequence[str]) -> Inventory:
    """What the sources reported, before linking, rebuilt from results documents (1.2 or
    later): each source's resources added in the configured source order `names`, so merged
    attributes resolve as they did in the scan."""
    order = {name: i for i, name in enumerate(names)}
    parts: list[list[Resource]] = [[] for _ in range(len(names) + 1)]
    for document in documents:
        for resource in results.collected_resources(document):
            parts[order.get(resource.source, len(names))].append(resource)
    return inventory_of(parts)


def merge(
    prepared: Prepared, paths: Sequence[str | os.PathLike[str]], reporter: Reporter
) -> Outcome:
    loaded = [(display_path(p), results.load(p)) for p in paths]
    check_complete(loaded)
    documents = [d for _, d in sorted(loaded, key=lambda item: item[1]["scan"]["shard"]["index"])]
    scan = documents[0]["scan"]
    if scan["policy_pack"]["sha256"] != prepared.pack.sha256:
        raise MergeError(
            f"the shards were scanned with another policy pack (sha256 "
            f"{scan['policy_pack']['sha256'][:12]}…) than this merge loads "
            f"({prepared.pack.sha256[:12]}…): merge with the shards' config and policy flags"
        )
    if [p["id"] for p in documents[0].get("policies", [])] != sorted(
        p.id for p in prepared.policies
    ):
        raise MergeError(
            "the shards evaluated other policies than this merge selects: give merge the "
            "shards' --policy/--skip-policy and config"
        )
    names: list[str] = list(scan["shard"]["sources"])
    statuses = []
    for name in names:
        entries = [e for d in documents for e in d["scan"]["sources"] if e["name"] == name]
        if not entries:
            raise MergeError(f"no shard reports source {name!r}")
        statuses.append(merge_statuses(entries))
    started = _moment(documents, "started_at", min) or dt.datetime.now(dt.UTC)
    # What the shards' sources could not list: linking's negatives about those types stay
    # Unknown in the merged document, as in one scan.
    gaps = [Gap.from_dict(g) for status in statuses for g in status.get("gaps", ())]
    return finish(
        prepared,
        collected_inventory(documents, names),
        statuses,
        started=started,
        extra={},
        reporter=reporter,
        as_of=_moment(documents, "as_of", max),
        finished=_moment(documents, "finished_at", max),
        gaps=gaps,
    )
