"""Attribute and evidence values as HTML: escaped, clipped, references turned into links.

Values come from scanned systems (tags, descriptions, bucket policies), so every string is
escaped here. This runs once per finding and per resource — tens of thousands of times for a
large estate — so it builds strings directly with `html.escape` instead of recursing through
Jinja macros, which would cost several times more for the same markup; the result is handed to
the template as `Markup`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from markupsafe import Markup

from scanner.outputs.markdown import code_spans

MAX_TEXT = 300  # characters of one string value shown before it is clipped
MAX_ITEMS = 20  # list items / mapping keys shown per level
MAX_DEPTH = 5


_SPECIAL = re.compile(r"[&<>\"']")


_LITERALS = {
    None: "<span class='v-l'>null</span>",
    True: "<span class='v-l'>true</span>",
    False: "<span class='v-l'>false</span>",
}


def esc(text: Any) -> str:
    s = str(text)
    # Most values (ids, names, numbers) need no escaping; the search is cheaper than escaping.
    return html.escape(s, quote=True) if _SPECIAL.search(s) else s


def clip(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} characters)"


def prose(text: Any) -> Markup:
    """Prose from a policy (how to fix, the risk), where `backticks` mark a command or a name,
    as the Markdown report shows it: escaped, with those spans in <code>."""
    return Markup(
        "".join(
            f"<code>{esc(piece)}</code>" if is_code else esc(piece)
            for is_code, piece in code_spans(str(text))
        )
    )


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$ref"), str)


def is_unknown(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$unknown"), str)


def safe_url(url: Any) -> str | None:
    """Only web links become links: a `javascript:` or `data:` URL from a mapping file or an
    attestation must never be clickable in a report meant for auditors."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


def iter_refs(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(attribute path, referenced id) for every reference inside a value."""
    if is_ref(value):
        yield path, value["$ref"]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_refs(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from iter_refs(item, path)


class Values:
    """Renders values and resource links for one results document."""

    def __init__(self, anchors: Mapping[str, str], names: Mapping[str, str]) -> None:
        self.anchors = anchors
        self.names = names
        self._links: dict[tuple[str, str | None], Markup] = {}

    def link(self, resource_id: str, label: str | None = None) -> Markup:
        """A link to the resource's inventory entry (where its id is shown), or its id as text
        when no source reported it (e.g. `modelward:missing/attestation`)."""
        key = (resource_id, label)
        found = self._links.get(key)
        if found is None:
            shown = label if label is not None else self.names.get(resource_id, resource_id)
            anchor = self.anchors.get(resource_id)
            if anchor is None:
                found = Markup(f"<span class='rid'>{esc(clip(shown, 200))}</span>")
            else:
                found = Markup(f"<a href='#{anchor}'>{esc(clip(shown, 200))}</a>")
            self._links[key] = found
        return found

    def value(self, value: Any) -> Markup:
        out: list[str] = []
        self._render(value, out, 0)
        return Markup("".join(out))

    def mapping(self, data: Mapping[str, Any], limit: int = MAX_ITEMS * 5) -> Markup:
        """A definition list of key → value (evidence paths, top-level attributes)."""
        out = ["<dl class='kv'>"]
        # Sorted, as in results.json: a report re-rendered from the file is byte-identical to
        # the one the scan wrote from memory.
        for i, (key, item) in enumerate(sorted(data.items())):
            if i == limit:
                out.append(f"<dt>…</dt><dd>{len(data) - limit} more</dd>")
                break
            out.append(f"<dt><code>{esc(clip(str(key), 200))}</code></dt><dd>")
            self._render(item, out, 1)
            out.append("</dd>")
        out.append("</dl>")
        return Markup("".join(out))

    def _render(self, value: Any, out: list[str], depth: int) -> None:
        if isinstance(value, str):
            out.append(esc(clip(value)))
        elif value is None or isinstance(value, bool):
            out.append(_LITERALS[value])
        elif isinstance(value, int | float):
            out.append(f"<span class='v-l'>{esc(json.dumps(value))}</span>")
        elif is_ref(value):
            out.append(str(self.link(value["$ref"])))
        elif is_unknown(value):
            out.append(f"<span class='v-u'>unknown: {esc(clip(value['$unknown']))}</span>")
        elif depth >= MAX_DEPTH:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
            out.append(f"<code>{esc(clip(text))}</code>")
        elif isinstance(value, list):
            self._list(value, out, depth)
        elif isinstance(value, dict):
            if not value:
                out.append("<span class='v-l'>{}</span>")
                return
            out.append("<dl class='kv'>")
            for i, (key, item) in enumerate(sorted(value.items())):
                if i == MAX_ITEMS:
                    out.append(f"<dt>…</dt><dd>{len(value) - MAX_ITEMS} more keys</dd>")
                    break
                out.append(f"<dt>{esc(clip(str(key), 120))}</dt><dd>")
                self._render(item, out, depth + 1)
                out.append("</dd>")
            out.append("</dl>")
        else:  # not JSON data; results never hold it, but show it rather than fail
            out.append(esc(clip(repr(value))))

    def _list(self, value: list[Any], out: list[str], depth: int) -> None:
        if not value:
            out.append("<span class='v-l'>[]</span>")
            return
        shown = value[:MAX_ITEMS]
        rest = len(value) - len(shown)
        flat = all(not isinstance(v, dict | list) or is_ref(v) or is_unknown(v) for v in shown)
        if flat:
            for i, item in enumerate(shown):
                if i:
                    out.append(", ")
                self._render(item, out, depth + 1)
            if rest:
                out.append(f" <span class='more'>and {rest} more</span>")
            return
        out.append("<ol class='items'>")
        for item in shown:
            out.append("<li>")
            self._render(item, out, depth + 1)
            out.append("</li>")
        out.append("</ol>")
        if rest:
            out.append(f"<span class='more'>and {rest} more</span>")


# --------------------------------------------------------------------------------------------
# Who can read each production model, and who did (the access logs, joined at linking)


def _human_bytes(n: Any) -> str:
    if not isinstance(n, int | float):
        return "?"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _refs(value: Any) -> list[str]:
    return [v["$ref"] for v in value if is_ref(v)] if isinstance(value, list) else []


def read_access_rows(document: Mapping[str, Any], values: Values) -> list[dict[str, Any]]:
    """One row per production model version whose storage has access-log data: who can read
    it (the storage's readers), who did (reads, bytes, last read), who never did, and what
    looked wrong. Rows read the artefact's own attributes (reads of that model's files) and
    fall back to the storage's."""
    by_id = {r["id"]: r for r in document["resources"]}
    rows = []
    for version in document["resources"]:
        attrs = version["attributes"]
        if version["type"] != "model_version" or attrs.get("stage") != "production":
            continue
        artefact = by_id.get((attrs.get("artefact") or {}).get("$ref", ""))
        if artefact is None:
            continue
        storage = by_id.get((artefact["attributes"].get("storage") or {}).get("$ref", ""))
        if storage is None or "read_window" not in storage["attributes"]:
            continue
        here = (
            artefact["attributes"]
            if "read_window" in artefact["attributes"]
            else storage["attributes"]
        )
        observed, unused = here.get("observed_readers"), here.get("unused_readers")
        window = here.get("read_window") or {}
        can = _refs(storage["attributes"].get("readers"))
        row: dict[str, Any] = {
            "version": values.link(version["id"]),
            "artefact": values.link(artefact["id"]),
            "storage": values.link(storage["id"]),
            "can": [values.link(p) for p in can],
            "can_unknown": storage["attributes"].get("readers", {}).get("$unknown")
            if isinstance(storage["attributes"].get("readers"), dict)
            else None,
            "days": window.get("days"),
            "unknown": observed.get("$unknown") if is_unknown(observed) else None,
            "did": [],
            "unused": [],
            "unused_unknown": unused.get("$unknown") if is_unknown(unused) else None,
            "alerts": [],
            "usage": "",
        }
        if isinstance(observed, list):
            for o in sorted(observed, key=lambda o: str(o.get("last_read")), reverse=True):
                who = o["principal"]["$ref"] if is_ref(o.get("principal")) else str(o.get("id"))
                row["did"].append(
                    {
                        "who": values.link(who),
                        "reads": o.get("reads"),
                        "bytes": _human_bytes(o.get("bytes")),
                        "last": str(o.get("last_read") or "")[:10],
                        "can": o.get("can_read") is True,
                    }
                )
        if isinstance(unused, list):
            row["unused"] = [
                Markup(
                    values.link(u["id"]) + (" (just-in-time)" if u.get("standing") is False else "")
                )
                for u in unused
                if isinstance(u, dict)
            ]
        for key in ("bulk_reads", "unexpected_reads"):
            items = here.get(key)
            if isinstance(items, list):
                row["alerts"].extend(
                    str(i.get("summary", "")) for i in items if isinstance(i, dict)
                )
        did = sum(1 for d in row["did"] if d["can"])
        if can and isinstance(unused, list):
            row["usage"] = (
                f"read by {did} of {len(can)} principals who can; {len(row['unused'])} unused "
                f"for {row['days']}+ days"
            )
        elif can:
            row["usage"] = f"read by {did} of {len(can)} principals who can"
        rows.append(row)
    return rows
