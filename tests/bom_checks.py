"""Validators for AI-BOM tests: the library's own CycloneDX validator, unchanged, and the
official SPDX 3.0.1 JSON Schema and SHACL model, found through MODELWARD_STANDARDS_DIR
(tests/standards.py)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import rdflib
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from jsonschema import Draft202012Validator
from rdflib import OWL, RDF, RDFS

from tests.standards import standard

SPDX = "spdx-3.0.1"


def cyclonedx_problem(content: bytes) -> str | None:
    """The library's JsonStrictValidator exactly as it ships (offline, bundled schema)."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(content.decode("utf-8"))
    return None if error is None else str(error)[:500]


@cache
def _spdx_schema() -> dict[str, Any]:
    return json.loads(standard(f"{SPDX}/spdx-json-schema.json").read_text(encoding="utf-8"))


@cache
def _spdx_validator(kind: str | None) -> Draft202012Validator:
    """The official schema (kind None), or the same schema narrowed to one class."""
    schema = _spdx_schema()
    if kind is not None:
        schema = {
            "$schema": schema["$schema"],
            "$defs": schema["$defs"],
            "$ref": f"#/$defs/{kind}",
            "unevaluatedProperties": False,
        }
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def spdx_schema_problems(document: dict[str, Any], *, whole: bool = False) -> list[str]:
    """Problems by the official SPDX 3.0.1 JSON Schema.

    Validating a whole document of a few dozen elements takes minutes: each `@graph` element
    is matched against `AnyClass`, an `anyOf` of every class under `unevaluatedProperties`,
    so every branch is evaluated. Each element can only match the class its `type` names
    (every class fixes `type` to its own name), so by default each element is validated
    against that class with the same schema and keywords, and the top level on its own;
    `whole=True` runs the schema as written (the tests show both agree on small documents).
    """
    if whole:
        errors = list(_spdx_validator(None).iter_errors(document))
    else:
        top = {k: v for k, v in document.items() if k != "@graph"}
        errors = list(_spdx_validator(None).iter_errors({**top, "@graph": []}))
        if not isinstance(document.get("@graph"), list):
            return ["@graph: not a list"]
        known = _spdx_schema()["$defs"]
        for index, element in enumerate(document["@graph"]):
            kind = element.get("type") if isinstance(element, dict) else None
            if not isinstance(kind, str) or kind not in known:
                return [f"@graph/{index}: no class {kind!r}"]
            errors += list(_spdx_validator(kind).iter_errors(element))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors]


@cache
def _shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(standard(f"{SPDX}/spdx-model.ttl"))


@cache
def _ontology() -> rdflib.Graph:
    """What SHACL needs from the model besides the shapes: the class hierarchy and the named
    individuals (NoAssertionElement, NoAssertionLicense) with their creation info. Passing the
    whole model as the ontology gives the same verdicts five times slower."""
    shapes = _shapes()
    graph = rdflib.Graph()
    for triple in shapes.triples((None, RDFS.subClassOf, None)):
        graph.add(triple)
    for individual in set(shapes.subjects(RDF.type, OWL.NamedIndividual)):
        for p, o in shapes.predicate_objects(individual):
            graph.add((individual, p, o))
            for p2, o2 in shapes.predicate_objects(o):
                graph.add((o, p2, o2))
    return graph


@cache
def _context() -> Any:
    return json.loads(standard(f"{SPDX}/spdx-context.jsonld").read_text(encoding="utf-8"))[
        "@context"
    ]


def spdx_shacl_problems(document: dict[str, Any]) -> str | None:
    """The SHACL report when the document does not conform, else None. The document's
    `@context` URL is replaced by the shared copy of that context: no network."""
    import pyshacl

    assert document["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    local = {**document, "@context": _context()}
    graph = rdflib.Graph().parse(data=json.dumps(local), format="json-ld")
    conforms, _, text = pyshacl.validate(
        graph, shacl_graph=_shapes(), ont_graph=_ontology(), inference="none", advanced=True
    )
    return None if conforms else text[:3000]
