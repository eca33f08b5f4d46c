"""The CycloneDX 1.6 ML-BOM: valid by the library's own validator, complete, deterministic."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import ComponentType

from scanner.bom import cyclonedx
from scanner.bom.cdx_validation import unique_items
from scanner.bom.estate import read_estate
from tests.bom_checks import cyclonedx_problem
from tests.bom_estate import (
    COMMIT,
    HOSTILE,
    MEGABYTE,
    REGISTRY,
    estate_document,
    hostile_resources,
)

FRAUD3 = f"{REGISTRY}/models/fraud/versions/3"
FRAUD2 = f"{REGISTRY}/models/fraud/versions/2"
CHURN1 = f"{REGISTRY}/models/churn/versions/1"


def render(document=None, with_findings=False) -> bytes:
    return cyclonedx.render(read_estate(document or estate_document()), with_findings=with_findings)


@pytest.fixture(scope="module")
def bom() -> dict:
    return json.loads(render(with_findings=True))


def component(bom: dict, ref: str) -> dict:
    return next(c for c in bom["components"] if c["bom-ref"] == ref)


def props(item: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in item.get("properties", [])}


@pytest.mark.parametrize("with_findings", [False, True])
def test_the_library_validator_accepts_the_estate(with_findings):
    content = render(with_findings=with_findings)
    assert cyclonedx_problem(content) is None
    document = json.loads(content)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")
    assert ("vulnerabilities" in document) is with_findings


def test_round_trip_through_the_library_finds_every_model_version():
    estate = read_estate(estate_document())
    parsed = Bom.from_json(json.loads(render()))  # type: ignore[attr-defined]
    models = {
        (c.bom_ref.value, c.name, c.version)
        for c in parsed.components
        if c.type is ComponentType.MACHINE_LEARNING_MODEL
    }
    assert models == {(m.ref, m.name, m.version) for m in estate.models}
    data = {c.bom_ref.value for c in parsed.components if c.type is ComponentType.DATA}
    assert data == {d.ref for d in estate.datasets}


def test_a_model_version_component(bom):
    fraud = component(bom, FRAUD3)
    assert fraud["type"] == "machine-learning-model"
    assert (fraud["name"], fraud["version"]) == ("fraud", "3")
    assert fraud["purl"].startswith("pkg:mlflow/fraud@3?repository_url=http://127.0.0.1:5000")
    assert fraud["supplier"] == {
        "name": "fraud-team@example.com",
        "contact": [{"email": "fraud-team@example.com"}],
    }
    assert fraud["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    p = props(fraud)
    assert (p["modelward:classification"], p["modelward:stage"], p["modelward:ip_value"]) == (
        "confidential",
        "production",
        "high",
    )
    assert p["modelward:bom_completeness"] == "1.00"
    files = {f["name"]: f["hashes"] for f in fraud["components"]}
    assert files["model.safetensors"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert set(files) == {"MLmodel", "model.safetensors", "model.sig"}


def test_signature_status_as_attestation_and_properties(bom):
    signed = component(bom, FRAUD3)
    attestation = [r for r in signed["externalReferences"] if r["type"] == "attestation"]
    assert attestation == [
        {
            "type": "attestation",
            "url": "s3://ml-models/fraud/3/model.sig",
            "comment": "signature (openssf-model-signing), verified: yes",
        }
    ]
    assert props(signed)["modelward:signature_identity"] == "ci@example.com"
    unsigned = component(bom, FRAUD2)
    assert not [r for r in unsigned["externalReferences"] if r["type"] == "attestation"]
    assert props(unsigned)["modelward:signature_present"] == "false"


def test_model_card_datasets_and_dependencies(bom):
    card = component(bom, FRAUD3)["modelCard"]
    params = card["modelParameters"]
    assert params["task"] == "binary-classification"
    assert params["architectureFamily"] == "gradient-boosted trees"
    assert params["datasets"] == [
        {"ref": "dataset:transactions-2024@d1g3st01"},
        {"ref": "dataset:holdout-2024@d1g3st02"},
    ]
    assert params["inputs"] == [{"format": "amount: double"}, {"format": "mcc: string"}]
    assert card["considerations"]["technicalLimitations"] == [
        "Not for card-not-present transactions"
    ]
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert deps[FRAUD3] == ["dataset:holdout-2024@d1g3st02", "dataset:transactions-2024@d1g3st01"]
    assert deps[CHURN1] == []
    data = component(bom, "dataset:transactions-2024@d1g3st01")
    assert data["type"] == "data"
    assert data["data"] == [
        {
            "type": "dataset",
            "name": "transactions-2024",
            "contents": {"url": "s3://ml-data/transactions/2024.parquet"},
        }
    ]
    assert props(data)["modelward:dataset_digest"] == "d1g3st01"


def test_training_run_and_code_as_formulation_and_vcs(bom):
    formulas = {f["bom-ref"]: f for f in bom["formulation"]}
    workflow = formulas[f"{FRAUD3}#formula"]["workflows"][0]
    assert (workflow["uid"], workflow["taskTypes"]) == ("run-fraud-3", ["build"])
    assert workflow["outputs"] == [{"resource": {"ref": FRAUD3}}]
    assert [i["resource"]["ref"] for i in workflow["inputs"]] == [
        "dataset:transactions-2024@d1g3st01",
        "dataset:holdout-2024@d1g3st02",
    ]
    vcs = workflow["resourceReferences"][0]["externalReference"]
    assert vcs == {
        "type": "vcs",
        "url": "https://git.example.com/risk/fraud.git",
        "hashes": [{"alg": "SHA-1", "content": COMMIT}],
    }
    assert f"{CHURN1}#formula" not in formulas  # its run is unknown: no training run invented
    # an SSH remote is not a URL: kept as text, never rewritten into one
    assert props(component(bom, FRAUD2))["modelward:code_repo"] == (
        "git@git.example.com:risk/fraud.git"
    )


def test_a_model_with_almost_no_metadata(bom):
    churn = component(bom, CHURN1)
    assert "modelCard" not in churn and "supplier" not in churn and "hashes" not in churn
    assert props(churn)["modelward:bom_completeness"] == "0.00"
    assert props(churn)["modelward:base_models"] == "distilbert-base-uncased"
    assert churn["pedigree"]["ancestors"][0]["name"] == "distilbert-base-uncased"


def test_failing_findings_as_vulnerabilities(bom):
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert set(vulns) == {"MW-INT-03", "MW-INV-01", "MW-INV-02", "MW-STO-01"}
    integrity = vulns["MW-INT-03"]
    assert integrity["affects"] == [{"ref": FRAUD2}]
    assert integrity["ratings"][0]["severity"] == "critical"
    assert integrity["source"] == {"name": "modelward"}
    controls = [p["value"] for p in integrity["properties"] if p["name"] == "modelward:control"]
    assert controls == ["eu-ai-act:Annex-IV", "iso-iec-42001-2023:A.6.2.7"]
    assert "analysis" not in integrity
    assert vulns["MW-INV-01"]["analysis"]["state"] == "in_triage"  # could not be evaluated


def test_deterministic_and_serial_from_the_scan_id():
    first, second = render(), render()
    assert first == second
    document = json.loads(first)
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://modelward.dev/bom/cyclonedx")
    assert document["serialNumber"] == f"urn:uuid:{uuid.uuid5(namespace, 'scan-1/inventory')}"
    assert document["metadata"]["timestamp"] == "2025-06-30T09:01:00+00:00"
    other = json.loads(render(estate_document(scan_id="scan-2")))
    with_findings = json.loads(render(with_findings=True))
    assert (
        len({document["serialNumber"], other["serialNumber"], with_findings["serialNumber"]}) == 3
    )


def test_hostile_strings_stay_data_and_the_document_validates():
    content = render(estate_document(hostile_resources()), with_findings=True)
    assert cyclonedx_problem(content) is None
    document = json.loads(content)
    evil = next(c for c in document["components"] if c["type"] == "machine-learning-model")
    assert evil["name"] == f"evil{HOSTILE}"
    assert evil["modelCard"]["considerations"]["technicalLimitations"] == [MEGABYTE]
    assert evil["modelCard"]["modelParameters"]["task"] == HOSTILE
    # a string that is not a URL never reaches a URL field
    assert props(evil)["modelward:location"] == f"s3://bucket/{HOSTILE}"
    assert "externalReferences" not in evil
    assert props(evil)["modelward:code_repo"] == f"https://git/{HOSTILE}"
    # upper-case hex is a sha256 all the same; it is written as the schema wants it
    assert evil["components"][0]["hashes"][0]["content"] == "ab" * 32


def test_an_empty_estate_is_a_valid_bom():
    content = render(estate_document([]))
    assert cyclonedx_problem(content) is None
    assert "components" not in json.loads(content)


def test_a_document_that_would_not_validate_is_refused(monkeypatch):
    def corrupt(document, *args):
        document["components"][0]["modelCard"] = {"modelParameters": {"approach": "guess"}}

    monkeypatch.setattr(cyclonedx, "add_ml_parts", corrupt)
    with pytest.raises(cyclonedx.CycloneDxError, match="does not validate"):
        render()


def test_bom_refs_are_unique_even_when_ids_collide():
    """A hostile id equal to another's derived ref (`ID#file:PATH`) must not clash."""
    from tests.bom_estate import artefact

    files = [{"path": "w.bin", "size": 1, "sha256": "ab" * 32, "etag": "x", "format": "x"}]
    twins = [artefact("s3://b/m", files), artefact("s3://b/m#file:w.bin", files)]
    content = render(estate_document(twins))
    assert cyclonedx_problem(content) is None
    refs = []

    def walk(items):
        for item in items:
            refs.append(item["bom-ref"])
            walk(item.get("components", []))

    walk(json.loads(content)["components"])
    assert len(refs) == len(set(refs)) == 4
    assert (
        hashlib.sha256(content).hexdigest()
        == hashlib.sha256(render(estate_document(twins))).hexdigest()
    )


@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([{"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}], False),  # key order does not matter
        ([1, 1.0], False),  # JSON Schema equality: the same number
        ([True, 1], True),  # a boolean is not a number
        ([{"a": 1}, {"a": 2}, [1], "1"], True),
    ],
)
def test_unique_items_keeps_json_schema_equality(items, unique):
    from jsonschema import Draft7Validator

    found = list(unique_items(Draft7Validator({}), True, items, {}))
    assert (not found) is unique
