"""Building a pack from a finished scan: the evidence first, then the outputs, then the signature.

The order is the design (see `manifest.py`): `collect` gathers what the verdicts rest on and
computes its digest; the caller renders its outputs with that digest and the signer's name
(`Evidence.stamp`); `seal` adds them, writes the manifest, signs the statement over every
member and returns the zip's bytes. Nothing here touches the disk except to read the scan's
own input files (policies, mappings, waivers, baseline, configuration); the caller writes the
pack like any other output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scanner import results
from scanner.evidence import manifest as layout
from scanner.evidence import statement
from scanner.evidence.archive import write_zip
from scanner.evidence.manifest import Entry, Manifest, entry, evidence_digest
from scanner.evidence.settings import ArchivedFile, PolicyRoot, ScanSettings
from scanner.evidence.signers import Signer
from scanner.inventory import Inventory, Ref, Resource, to_jsonable
from scanner.policy.loader import iter_policy_files
from scanner.redact import redact
from scanner.yamlpos import display_path, read_text

BUILTIN = "built-in"
MAX_INPUT_BYTES = 64 * 1024 * 1024


class PackInputError(ValueError):
    """A file the scan read can no longer be read for the pack; the message names it."""


@dataclass(frozen=True)
class ScanFiles:
    """Where the scan read its policies, mappings and input files, in the order it did."""

    policy_roots: tuple[tuple[str, Path], ...]  # (origin as shown, folder or file)
    mapping_files: tuple[Path, ...]
    waivers: Path | None
    baseline: Path | None
    config_file: Path | None


@dataclass(frozen=True)
class Evidence:
    members: Mapping[str, bytes]
    entries: tuple[Entry, ...]
    digest: str
    signer: str
    pack_name: str

    @property
    def stamp(self) -> dict[str, str]:
        """What a report rendered into the pack shows about it."""
        return {"digest": self.digest, "signer": self.signer, "pack": self.pack_name}


def collect(
    document: Mapping[str, Any],
    inventory: Inventory,
    files: ScanFiles,
    settings: ScanSettings,
    signer: Signer,
    pack_name: str,
) -> Evidence:
    """Every evidence member, in memory, with the settings pointing at the archived copies."""
    members: dict[str, bytes] = {}
    roles: dict[str, str] = {}

    def add(name: str, role: str, data: bytes) -> None:
        members[name] = data
        roles[name] = role

    add(layout.RESULTS, "results", results.dumps(document).encode("utf-8"))
    roots = []
    for index, (origin, root, found) in enumerate(_policy_files(files.policy_roots)):
        prefix = f"{layout.POLICIES}/{index}"
        kept = []
        for path, relative in found:
            name = f"{prefix}/{relative}"
            add(name, "policy", _read(path, "policy file"))
            kept.append(ArchivedFile(name, str(path.resolve())))
        member = f"{prefix}/{root.name}" if root.is_file() else prefix
        roots.append(PolicyRoot(member, root.is_file(), origin, tuple(kept)))
    mappings = []
    for index, path in enumerate(files.mapping_files):
        name = f"{layout.MAPPINGS}/{index:02d}-{_safe(path.name)}"
        add(name, "mapping", _read(path, "framework mapping"))
        mappings.append(ArchivedFile(name, display_path(path)))
    inputs: dict[str, ArchivedFile | None] = {}
    for label, given in (("waivers", files.waivers), ("baseline", files.baseline)):
        inputs[label] = None
        if given is not None:
            name = f"{layout.INPUTS}/{label}/{_safe(given.name)}"
            add(name, "input", _read(given, label))
            inputs[label] = ArchivedFile(name, display_path(given))
    if files.config_file is not None:
        add(layout.CONFIG, "config", _redacted_config(files.config_file))
    as_evaluated = ScanSettings(
        policy_roots=tuple(roots),
        include=settings.include,
        exclude=settings.exclude,
        params=settings.params,
        mappings=tuple(mappings),
        frameworks=settings.frameworks,
        gate=settings.gate,
        as_of=str(document["scan"].get("as_of", settings.as_of)),
        waivers=inputs["waivers"],
        waiver_max_days=settings.waiver_max_days,
        baseline=inputs["baseline"],
        sources=settings.sources,
        formats=settings.formats,
        bom_with_findings=settings.bom_with_findings,
    )
    add(layout.SETTINGS, "settings", _json(as_evaluated.to_dict()))
    add(layout.RAW_ANSWERS, "raw", _json(raw_answers(document, inventory)))
    entries = tuple(entry(name, roles[name], data) for name, data in sorted(members.items()))
    return Evidence(members, entries, evidence_digest(entries), signer.description, pack_name)


def seal(
    evidence: Evidence,
    document: Mapping[str, Any],
    outputs: Mapping[str, bytes],
    signer: Signer,
) -> bytes:
    """The pack's bytes: evidence and outputs, the manifest, the signed statement."""
    members = dict(evidence.members)
    output_entries = []
    for name, data in sorted(outputs.items()):
        member = f"{layout.OUTPUTS}/{name}"
        members[member] = data
        output_entries.append(entry(member, "output", data))
    manifest = Manifest(
        str(document["tool"]["version"]),
        str(document["scan"]["id"]),
        evidence.entries,
        tuple(output_entries),
    )
    manifest_bytes = manifest.to_bytes()
    signed = statement.build(
        manifest.entries, manifest_bytes, statement.predicate(document, evidence.digest)
    )
    members[layout.MANIFEST] = manifest_bytes
    members[layout.SIGNATURE] = signer.sign(signed)
    return write_zip(members, first=(layout.MANIFEST, layout.SIGNATURE, layout.RESULTS))


def _policy_files(
    roots: Sequence[tuple[str, Path]],
) -> Iterator[tuple[str, Path, list[tuple[Path, str]]]]:
    """Each root with the policy files the loader reads from it, as (path, name in the pack).
    Like the loader, a folder given twice is read once, and so is a file two folders share."""
    seen_roots: set[Path] = set()
    seen_files: set[Path] = set()
    for origin, root in roots:
        if root.resolve() in seen_roots:
            continue
        seen_roots.add(root.resolve())
        kept = []
        for path in iter_policy_files(root):
            if path.resolve() in seen_files:
                continue
            seen_files.add(path.resolve())
            relative = path.name if root.is_file() else path.relative_to(root).as_posix()
            kept.append((path, "/".join(_safe(part) for part in relative.split("/"))))
        yield origin, root, kept


def _safe(part: str) -> str:
    """A path component as a member name: printable, no backslash, never `.` or `..`."""
    cleaned = "".join(c if c.isprintable() and c not in "\\/:" else "_" for c in part)
    return cleaned if cleaned.strip(".") else f"_{cleaned}"


def _read(path: Path, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise PackInputError(
            f"{what} {display_path(path)}: cannot read it for the evidence pack: "
            f"{exc.strerror or exc}"
        ) from None
    if len(data) > MAX_INPUT_BYTES:
        raise PackInputError(f"{what} {display_path(path)}: over {MAX_INPUT_BYTES} bytes")
    return data


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _json(value: Any) -> bytes:
    """Deterministic JSON as results.json is written (sorted keys, two-space indent, a lone
    surrogate as U+FFFD), anything JSON has no type for as text."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _redacted_config(path: Path) -> bytes:
    """The configuration file with credentials masked. It is re-written from its parsed form
    (comments are lost): masking inside the original text could miss a value that spans lines."""
    data = yaml.safe_load(read_text(path, what="config file"))
    masked = redact(to_jsonable(data), mask_keys=True)
    header = (
        f"# {display_path(path)} as the scan read it, with credentials masked (***);\n"
        "# re-written from its parsed form, so comments and layout are not kept.\n"
    )
    body = yaml.safe_dump(masked, sort_keys=False, allow_unicode=True) if masked else ""
    return (header + body).encode("utf-8")


def cited_resources(document: Mapping[str, Any], inventory: Inventory) -> list[Resource]:
    """The resources the findings name, and every resource those reference (transitively):
    whatever a verdict may have read."""
    # findings name resources by their redacted id (results redact every string)
    by_shown = {redact(r.id): r for r in inventory}
    wanted = [str(f["resource_id"]) for f in document["findings"]]
    seen: set[str] = set()
    out: list[Resource] = []
    while wanted:
        rid = wanted.pop()
        if rid in seen:
            continue
        seen.add(rid)
        resource = inventory.get(rid) or by_shown.get(rid)
        if resource is None:
            continue
        out.append(resource)
        wanted.extend(ref.id for ref in _refs(resource.attributes))
    return sorted(out, key=lambda r: (r.type, r.id))


def _refs(value: Any) -> Iterable[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _refs(v)


def raw_answers(document: Mapping[str, Any], inventory: Inventory) -> dict[str, Any]:
    """What each cited resource's source answered, credentials masked again (sources mask what
    they keep; this is a second pass with key masking, as for any provider data)."""
    answers = {}
    for resource in cited_resources(document, inventory):
        if resource.raw is None:
            continue
        answers[redact(resource.id)] = {
            "type": resource.type,
            "source": resource.source,
            "raw": redact(to_jsonable(resource.raw), mask_keys=True),
        }
    return {
        "about": "The answers of the sources about every resource a finding names or reaches, "
        "as each source kept them, with credentials, tokens and signed URLs masked (***).",
        "resources": answers,
    }
