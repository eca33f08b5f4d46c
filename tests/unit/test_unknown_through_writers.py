"""Every resource type, with its attributes Unknown at every depth, through every writer.

A source that cannot read a value reports `Unknown`; in results it becomes
`{"$unknown": reason}` wherever the value was: a top-level attribute, a field of a nested
mapping (`serialization.formats`), an item of a list of mappings (`files[].format`). Writers
read results alone, so each of them must lay such a marker out as "unknown", never use it as a
key or a number. The attributes come from docs/resource-model.md, the contract sources fill, so
an attribute added there is covered here without editing this test; each one is made Unknown
at the top level, then inside its documented shape.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from typing import Any

import jsonschema
import pytest

from scanner import frameworks as fw
from scanner import results
from scanner.commands.documents import check_contract
from scanner.gate import GateSettings, decide
from scanner.inventory import RESOURCE_TYPES, Inventory, Ref, Resource, Unknown
from scanner.linking import link
from scanner.outputs.registry import WRITERS, writers_for
from scanner.policy.evaluate import evaluate_all
from scanner.scan import ScanRequest, load_pack
from tests.helpers import REPO
from tests.standards import standard

NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
REASON = "malformed answer from test:Operation"
_SECTION = re.compile(r"^### (.+)$")
_CODE = re.compile(r"`([a-z_][a-z0-9_.]*)`")
_BRACES = re.compile(r"\{([^{}]*)\}")


def _documented_attributes() -> dict[str, dict[str, Any]]:
    """Type -> attribute -> None (a plain value), a set of fields (a mapping), or
    ("list", fields) (a list of mappings), read from the tables and lists of the model doc."""
    text = (REPO / "docs" / "resource-model.md").read_text(encoding="utf-8")
    attributes: dict[str, dict[str, Any]] = {}
    current: list[str] = []
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading:
            current = [t for t in _CODE.findall(heading.group(1)) if t in RESOURCE_TYPES]
            continue
        if not current:
            continue
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            names, shape = _CODE.findall(cells[0]), cells[1] if len(cells) > 1 else ""
        elif line.startswith("`"):  # prose: "`network`: `account`, `region`, ..."
            head, colon, rest = line.partition(":")
            prose = rest if colon and _CODE.fullmatch(head.strip()) else line
            names, shape = _CODE.findall(prose), ""
        elif (linked := re.search(r"\]\((sources/[a-z-]+\.md)\)", line)) and line.startswith("See"):
            for name in _fields_of(REPO / "docs" / linked.group(1)):
                for rtype in current:
                    attributes.setdefault(rtype, {})[name] = None
            continue
        else:
            continue
        braces = _BRACES.search(shape)
        fields = set(_CODE.findall(braces.group(1))) if braces else None
        for name in names:
            value = None if fields is None else ("list", fields) if "list" in shape else fields
            for rtype in current:
                attributes.setdefault(rtype, {})[name] = value
    return attributes


def _fields_of(page: Any) -> list[str]:
    """The field names of the first table of a source's page (the attestations file format)."""
    return [
        _CODE.findall(line)[0]
        for line in page.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]


def _nest(attrs: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        _nest(attrs.setdefault(head, {}), rest, value)
    else:
        attrs[head] = value


def _variants(rtype: str, shapes: dict[str, Any]) -> list[dict[str, Any]]:
    """Every attribute Unknown; then every field of every documented shape Unknown."""
    top: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for name, shape in shapes.items():
        _nest(top, name, Unknown(REASON))
        if shape is None:
            _nest(nested, name, [Unknown(REASON)] if name.endswith("s") else Unknown(REASON))
        elif isinstance(shape, tuple):
            _nest(nested, name, [dict.fromkeys(shape[1], Unknown(REASON))])
        else:
            _nest(nested, name, dict.fromkeys(shape, Unknown(REASON)))
    return [top, nested]


def _estate() -> list[Resource]:
    documented = _documented_attributes()
    resources: list[Resource] = []
    for rtype in RESOURCE_TYPES:
        shapes = documented.get(rtype)
        assert shapes, f"docs/resource-model.md documents no attribute of {rtype}"
        for i, attributes in enumerate(_variants(rtype, shapes)):
            rid = f"{rtype}:{i}" if rtype != "artefact" else f"file:///models/m{i}"
            resources.append(Resource(rid, rtype, f"{rtype} {i}", "test", attributes))
    # A reference to something nobody reports, and a local artefact whose one file's format is
    # Unknown (the case that once crashed the SARIF writer: an empty model.pt).
    resources.append(
        Resource(
            "file:///models/empty",
            "artefact",
            "empty",
            "test",
            {
                "uri": "file:///models/empty",
                "location": {"provider": "local", "path": "/models/empty"},
                "files": [{"path": "model.pt", "size": 0, "format": Unknown("empty file")}],
                "serialization": {"formats": Unknown("empty file"), "pickle_based": True},
                "storage": Ref("s3://nobody-reports-this"),
            },
        )
    )
    return resources


@cache
def _document() -> dict[str, Any]:
    pack = load_pack(ScanRequest(sources=()))
    inventory = link(Inventory(_estate()))
    findings = evaluate_all(pack.policies, inventory, NOW)
    frames = fw.load_frameworks(fw.framework_files((), builtin=True), [p.id for p in pack.policies])
    findings = fw.attach_controls(findings, frames)
    sources = [
        {
            "name": "test",
            "type": "aws",
            "status": "error",
            "error": REASON,
            "problems": [REASON],
            "resource_count": len(inventory),
        }
    ]
    document = results.build(
        scan={
            "id": "unknowns",
            "started_at": "2026-06-30T09:00:00Z",
            "finished_at": "2026-06-30T09:00:01Z",
            "as_of": "2026-06-30T00:00:00Z",
            "sources": sources,
            "policy_pack": {"count": len(pack.policies), "sha256": pack.sha256},
            "params": {},
        },
        resources=list(inventory),
        findings=findings,
        frameworks=fw.roll_up(frames, findings, inventory.of_type("attestation"), NOW),
        maturity=fw.maturity(pack.policies, findings),
        gate=decide(findings, sources, GateSettings()),
        policies=pack.policies,
    )
    check_contract(document)
    return results.plain(document)


def test_the_estate_has_unknowns_in_every_type_and_depth() -> None:
    document = _document()
    types = {r["type"] for r in document["resources"]}
    assert types == set(RESOURCE_TYPES)
    text = json.dumps(document)
    assert text.count(REASON) > 200
    assert any(f["status"] == "error" for f in document["findings"])


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("with_findings", [False, True])
def test_every_writer_renders_unknowns(fmt: str, with_findings: bool) -> None:
    document = _document()
    (writer,) = writers_for([fmt], {"cyclonedx": {"with_findings": with_findings}})
    files = writer.render(document)
    assert files and all(content for content in files.values()), fmt
    if fmt == "sarif":
        log = json.loads(files["results.sarif"])
        errors = list(_sarif_validator().iter_errors(log))
        assert not errors, [e.message for e in errors[:3]]


@cache
def _sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(standard("sarif-2.1.0/sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_an_empty_model_file_is_scanned_and_reported_in_every_format(cli, tmp_path) -> None:
    """The case that crashed the SARIF writer: an empty `model.pt` has an Unknown format."""
    (tmp_path / "models" / "m").mkdir(parents=True)
    (tmp_path / "models" / "m" / "model.pt").write_bytes(b"")
    out = tmp_path / "out"
    formats = ",".join(sorted(WRITERS))
    source = f"path:{tmp_path / 'models'}"
    scanned = cli("scan", "--source", source, "-o", str(out), "--format", formats)
    assert scanned.code == 3, scanned.err
    assert "internal error" not in scanned.err
    written = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert len(written) == len(WRITERS), written
    again = tmp_path / "again"
    reported = cli("report", str(out / "results.json"), "--format", "sarif", "-o", str(again))
    assert reported.code == 0, reported.err
    assert json.loads((again / "results.sarif").read_text())["runs"]
