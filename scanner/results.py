"""results.json: build it, serialise it deterministically, read it back and validate it.

It is the contract every output is rendered from (`modelward report` re-renders without
rescanning), so it is validated against the shipped JSON Schema both when written and when read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, overload

from scanner import __version__
from scanner.errors import InputFileError
from scanner.findings import STATUSES, Finding
from scanner.inventory import Inventory, Resource, from_jsonable, to_jsonable
from scanner.policy.model import SEVERITIES, Policy
from scanner.redact import redact
from scanner.schemas import describe, validator
from scanner.yamlpos import display_path, read_text

# 1.1 added `policies`, the waiver object and the gate's rules, decisions, waivers and baseline.
# 1.2 added per-provider remediation steps (`policies[].remediation.providers`, `providers_note`),
# what rebuilds the collected inventory (`resources[].collected`), shard and target of the scan
# (`scan.shard`, `scan.target`) and per-account statuses (`scan.sources[].accounts`).
# Additions only: 1.0 and 1.1 documents are still read, and writers cope with their absence.
SCHEMA_VERSION = "1.2"
# Attributes written into results after evaluation (scanner/bom/completeness.py): neither a
# source nor linking reported them, so rebuilding the collected inventory drops them.
ANNOTATIONS = frozenset({"bom_completeness"})
RESULTS_SCHEMA = "results.schema.json"
MAX_RESULTS_BYTES = 2 * 1024 * 1024 * 1024


class ResultsError(InputFileError):
    """A results file is not valid modelward results (exit 2)."""


class Items(Sequence[dict[str, Any]]):
    """`resources` or `findings` of a document being written: the objects, turned into JSON
    data (redacted) each time they are read, never all at once.

    Of everything a scan holds, these are most of it (100,000 resources make ~300,000
    findings). Built as dicts up front they took more memory than the inventory itself, and
    serialised to one string, more again; read one at a time by the writers (the JSON writer
    streams them to the file), the document adds little to what the scan already holds.
    """

    def __init__(self, items: Sequence[Any], convert: Callable[[Any], dict[str, Any]]) -> None:
        self._items = items
        self._convert = convert

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._convert(i) for i in self._items[index]]
        return self._convert(self._items[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._convert, self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def mapped(self, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Items:
        """The same items, each passed through `fn` after conversion."""
        convert = self._convert
        return Items(self._items, lambda item: fn(convert(item)))


def plain(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with its `Items` made lists: plain JSON data (for `json.dumps`, copies)."""
    return {k: list(v) if isinstance(v, Items) else v for k, v in document.items()}


def summarise(findings: Sequence[Finding]) -> dict[str, Any]:
    by_status = dict.fromkeys(STATUSES, 0)
    by_severity = {sev: dict.fromkeys(STATUSES, 0) for sev in SEVERITIES}
    for f in findings:
        by_status[f.status] += 1
        by_severity[f.severity][f.status] += 1
    return {"total": len(findings), "by_status": by_status, "by_severity": by_severity}


def collected_diff(
    linked: Resource, collected: Resource | None, origins: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What turns `linked` back into the resource the sources reported: the attributes linking
    added, the collected values of those it changed, and (for a resource several sources
    reported) which source each attribute not from `linked.source` came from. Empty for a
    resource linking did not touch. `merge` uses it to link shard results again as one."""
    if collected is None:
        return {"by_linking": True}
    out: dict[str, Any] = {}
    before = collected.attributes
    added = []
    replaced = {}
    for key, value in linked.attributes.items():
        if key not in before:
            added.append(key)
        else:
            old = before[key]
            if old is not value and old != value:
                replaced[key] = old
    if added:
        out["added"] = sorted(added)
    if replaced:
        out["replaced"] = to_jsonable(replaced)
    if origins:
        out["origins"] = dict(sorted(origins.items()))
    return out


def resource_dict(resource: Resource, collected: Mapping[str, Any] | None = None) -> dict[str, Any]:
    # Ids and names are redacted like everything else, so findings still point at them.
    out: dict[str, Any] = {
        "id": resource.id,
        "type": resource.type,
        "name": resource.name,
        "source": resource.source,
        "attributes": to_jsonable(resource.attributes),
    }
    if collected:
        out["collected"] = collected
    redacted: dict[str, Any] = redact(out)
    return redacted


def collected_resources(document: Mapping[str, Any]) -> list[Resource]:
    """The resources as the sources reported them, before linking, from a results document
    (1.2 or later): linked-only resources dropped, linked attributes taken off, the collected
    values restored. A resource several sources reported comes back as one part per source,
    each with the attributes that source's value won for, so merging them in the scan's
    source order gives what the scan's own merge gave."""
    out: list[Resource] = []
    for item in document.get("resources", []):
        collected = item.get("collected") or {}
        if collected.get("by_linking"):
            continue
        drop = set(collected.get("added", ())) | ANNOTATIONS
        attributes = {k: v for k, v in item["attributes"].items() if k not in drop}
        attributes.update(collected.get("replaced", {}))
        values = from_jsonable(attributes)
        origins: Mapping[str, str] = collected.get("origins", {})
        parts: dict[str, dict[str, Any]] = {item["source"]: {}}
        for key, value in values.items():
            parts.setdefault(origins.get(key, item["source"]), {})[key] = value
        for source, attrs in parts.items():
            out.append(Resource(item["id"], item["type"], item["name"], source, attrs))
    return out


def policy_dict(policy: Policy) -> dict[str, Any]:
    """What outputs say about a policy (SARIF rules, JUnit suites): its text and its file, with
    the path made absolute so a report rendered from another directory still points at it."""
    return {
        "id": policy.id,
        "title": policy.title,
        "severity": policy.severity,
        "maturity": policy.maturity,
        "resource": policy.resource,
        "description": policy.description,
        "rationale": policy.rationale,
        "remediation": {
            key: {name: dict(steps) for name, steps in value.items()}
            if key == "providers"
            else value
            for key, value in policy.remediation.items()
        },
        "references": list(policy.references),
        "tags": list(policy.tags),
        "file": str(Path(policy.file).resolve()) if policy.file else "",
        "line": policy.line,
    }


def build(
    *,
    scan: Mapping[str, Any],
    resources: Sequence[Resource],
    findings: Sequence[Finding],
    frameworks: Sequence[Mapping[str, Any]],
    maturity: Mapping[str, Any],
    gate: Mapping[str, Any],
    policies: Sequence[Policy] = (),
    collected: Inventory | None = None,
) -> dict[str, Any]:
    """The document. With `collected` (the inventory before linking), every resource records
    what rebuilds it (`collected_diff`), so shard results can be merged and linked again."""

    def diff(r: Resource) -> dict[str, Any] | None:
        if collected is None:
            return None
        return collected_diff(r, collected.get(r.id), collected.origins.get(r.id))

    # Every string, whatever stage wrote it (source errors, gate reasons, control lists), goes
    # through redaction: no credential in a URI reaches a file meant to be shared. Resources
    # and findings are redacted one by one as they are converted (they are most of the
    # document, and redacting them twice was a third of the time of a large scan).
    head: dict[str, Any] = redact(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "modelward", "version": __version__},
            "scan": dict(scan),
            "policies": [policy_dict(p) for p in sorted(policies, key=lambda p: p.id)],
            "frameworks": list(frameworks),
            "maturity": dict(maturity),
            "summary": summarise(findings),
            "gate": dict(gate),
        }
    )
    head["resources"] = Items(
        sorted(resources, key=lambda r: (r.type, r.id)), lambda r: resource_dict(r, diff(r))
    )
    head["findings"] = Items(sorted(findings, key=lambda f: f.key), lambda f: redact(f.to_dict()))
    return head


STREAMED = ("resources", "findings")


@cache
def _fast() -> tuple[Any, Any, Any]:
    """Validators of the document without its two long arrays, and of one item of each, in
    Rust (jsonschema-rs): the same schema, ~100x faster than `jsonschema` on 400,000 items."""
    import jsonschema_rs

    from scanner.schemas import load_schema

    schema = load_schema(RESULTS_SCHEMA)

    def item(name: str) -> Any:
        sub = {"$defs": schema["$defs"], **schema["properties"][name]["items"]}
        return jsonschema_rs.Draft202012Validator(sub)

    return jsonschema_rs.Draft202012Validator(schema), item("resources"), item("findings")


def problems(document: Any) -> list[str]:
    """Every way the document breaks the results schema (empty when it is valid). Checked
    item by item, so a document whose resources and findings are `Items` is never held whole;
    the messages, when there are any, come from `jsonschema`, which words them well."""
    if isinstance(document, Mapping) and all(k in document for k in STREAMED):
        whole, resource_check, finding_check = _fast()
        skeleton = {**document, "resources": [], "findings": []}
        if (
            whole.is_valid(skeleton)
            and all(resource_check.is_valid(r) for r in document["resources"])
            and all(finding_check.is_valid(f) for f in document["findings"])
        ):
            return []
        document = {**document, **{k: list(document[k]) for k in STREAMED}}
    errors = sorted(
        validator(RESULTS_SCHEMA).iter_errors(document),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    return [describe(e) if e.absolute_path else e.message for e in errors]


# A lone surrogate (from a hostile tag decoded with surrogateescape, say) cannot be encoded
# as UTF-8: it would crash the write after the whole scan. It becomes U+FFFD instead.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def chunks(document: Mapping[str, Any]) -> Iterator[str]:
    """`dumps` in pieces: the same text, with every resource and finding serialised on its
    own, so writing a large document never holds it as one string."""
    keys = sorted(document)
    yield "{\n"
    for n, key in enumerate(keys):
        value = document[key]
        yield f"  {json.dumps(key, ensure_ascii=False)}: "
        if isinstance(value, Items | list) and key in STREAMED:
            if len(value) == 0:
                yield "[]"
            else:
                yield "[\n"
                for i, item in enumerate(value):
                    text = "    " + _json(item).replace("\n", "\n    ")
                    yield _LONE_SURROGATE.sub(
                        "\ufffd", text + (",\n" if i < len(value) - 1 else "\n")
                    )
                yield "  ]"
        else:
            yield _LONE_SURROGATE.sub("\ufffd", _json(value).replace("\n", "\n  "))
        yield ",\n" if n < len(keys) - 1 else "\n"
    yield "}\n"


def dumps(document: Mapping[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8, trailing newline."""
    return "".join(chunks(document))


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    shown = display_path(path)
    text = read_text(path, what="results file", max_bytes=MAX_RESULTS_BYTES)
    try:
        document: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{shown}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    found = problems(document)
    if found:
        raise ResultsError(
            f"{shown}: not a valid modelward results file: {found[0]}"
            + (f" (+{len(found) - 1} more)" if len(found) > 1 else ""),
            details=found[:20],
        )
    return document
