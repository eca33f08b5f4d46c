"""SPDX 3.0.1 with the AI and Dataset profiles: valid by the official JSON Schema and SHACL
model, honest about what it does not know, deterministic."""

from __future__ import annotations

import json

import pytest

from scanner.bom import spdx
from scanner.bom.estate import read_estate
from tests.bom_checks import spdx_schema_problems, spdx_shacl_problems
from tests.bom_estate import (
    HOSTILE,
    MEGABYTE,
    REGISTRY,
    estate_document,
    estate_resources,
    hostile_resources,
)

NOASSERTION_ELEMENT = "NoAssertionElement"
NOASSERTION_LICENCE = "expandedlicensing_NoAssertionLicense"


def render(document=None) -> dict:
    return json.loads(spdx.render(read_estate(document or estate_document())))


@pytest.fixture(scope="module")
def doc() -> dict:
    return render()


def graph(doc: dict) -> dict[str, dict]:
    return {e.get("spdxId", e.get("@id")): e for e in doc["@graph"]}


def of_type(doc: dict, kind: str) -> list[dict]:
    return [e for e in doc["@graph"] if e["type"] == kind]


def package(doc: dict, resource_id: str) -> dict:
    return next(
        p
        for p in of_type(doc, "ai_AIPackage")
        if p["externalIdentifier"][0]["identifier"] == resource_id
    )


def relations(doc: dict, source: str, kind: str) -> list[dict]:
    return [
        r
        for r in of_type(doc, "Relationship")
        if r["from"] == source and r["relationshipType"] == kind
    ]


def test_the_estate_validates_against_the_json_schema_and_shacl(doc):
    assert spdx_schema_problems(doc) == []
    assert spdx_shacl_problems(doc) is None


def test_shacl_catches_a_broken_document(doc):
    broken = json.loads(json.dumps(doc))
    for element in broken["@graph"]:
        if element["type"] == "Relationship":
            element["to"] = []  # a relationship must point somewhere
            break
    assert spdx_shacl_problems(broken) is not None


def test_ai_packages_carry_what_the_profile_requires(doc):
    fraud = package(doc, f"{REGISTRY}/models/fraud/versions/3")
    assert fraud["software_packageVersion"] == "3"
    assert fraud["software_primaryPurpose"] == "model"
    assert fraud["software_downloadLocation"] == "s3://ml-models/fraud/3"
    assert fraud["releaseTime"] == "2025-03-01T10:00:00Z"
    assert fraud["software_packageUrl"].startswith("pkg:mlflow/fraud@3?")
    assert graph(doc)[fraud["suppliedBy"]]["name"] == "fraud-team@example.com"
    assert fraud["ai_typeOfModel"] == ["gradient-boosted trees"]
    assert fraud["ai_limitation"] == "Not for card-not-present transactions"


def test_unknowns_are_noassertion_never_invented(doc):
    stray = package(doc, "s3://ml-models/scratch/exp7")
    assert stray["software_packageVersion"] == "NOASSERTION"
    assert graph(doc)[stray["suppliedBy"]]["name"] == "NOASSERTION"
    assert "releaseTime" not in stray  # a time has no NOASSERTION: left out
    trained = relations(doc, stray["spdxId"], "trainedOn")
    assert [(r["to"], r["completeness"]) for r in trained] == [
        ([NOASSERTION_ELEMENT], "noAssertion")
    ]
    for kind in ("hasConcludedLicense", "hasDeclaredLicense"):
        assert [r["to"] for r in relations(doc, stray["spdxId"], kind)] == [[NOASSERTION_LICENCE]]


def test_training_and_test_data_and_the_declared_licence(doc):
    fraud = package(doc, f"{REGISTRY}/models/fraud/versions/3")
    names = {e["spdxId"]: e.get("name") for e in doc["@graph"] if "spdxId" in e}
    trained = relations(doc, fraud["spdxId"], "trainedOn")
    assert [[names[t] for t in r["to"]] for r in trained] == [["transactions-2024"]]
    tested = relations(doc, fraud["spdxId"], "testedOn")
    assert [[names[t] for t in r["to"]] for r in tested] == [["holdout-2024"]]
    declared = relations(doc, fraud["spdxId"], "hasDeclaredLicense")[0]["to"][0]
    assert graph(doc)[declared]["simplelicensing_licenseExpression"] == "Apache-2.0"
    concluded = relations(doc, fraud["spdxId"], "hasConcludedLicense")[0]["to"]
    assert concluded == [NOASSERTION_LICENCE]  # declared is what the owner says; nothing concluded


def test_dataset_packages(doc):
    data = {d["name"]: d for d in of_type(doc, "dataset_DatasetPackage")}
    transactions = data["transactions-2024"]
    assert transactions["software_primaryPurpose"] == "data"
    assert transactions["software_downloadLocation"] == "s3://ml-data/transactions/2024.parquet"
    assert transactions["dataset_datasetType"] == ["noAssertion"]
    assert transactions["verifiedUsing"] == [
        {
            "type": "Hash",
            "algorithm": "other",
            "hashValue": "d1g3st01",
            "comment": "the dataset digest the registry records",
        }
    ]


def test_files_and_training_run(doc):
    fraud = package(doc, f"{REGISTRY}/models/fraud/versions/3")
    contained = relations(doc, fraud["spdxId"], "contains")[0]["to"]
    files = {graph(doc)[f]["name"]: graph(doc)[f] for f in contained}
    assert files["model.safetensors"]["verifiedUsing"][0]["hashValue"] == "ab" * 32
    outputs = [r for r in of_type(doc, "Relationship") if r["relationshipType"] == "hasOutput"]
    build = next(graph(doc)[r["from"]] for r in outputs if r["to"] == [fraud["spdxId"]])
    assert build["build_buildId"] == "run-fraud-3"
    assert build["build_configSourceUri"] == ["https://git.example.com/risk/fraud.git"]
    assert build["build_configSourceDigest"][0]["algorithm"] == "sha1"


def test_profile_requirements_are_checked_in_code():
    bom = spdx.build(read_estate(estate_document()))
    gaps = {(g.profile, g.name): g.missing for g in bom.gaps.values()}
    assert gaps == {
        ("ai", "churn"): ("releaseTime",),
        ("ai", "exp7"): ("releaseTime",),
        ("dataset", "holdout-2024"): ("builtTime", "releaseTime"),
        ("dataset", "transactions-2024"): ("builtTime", "releaseTime"),
    }
    assert "ai" not in bom.conformance and "dataset" not in bom.conformance
    document = render()
    comment = next(e for e in document["@graph"] if e["type"] == "SpdxDocument")["comment"]
    assert "ai profile: churn (" in comment and ") lacks releaseTime" in comment


def test_the_ai_profile_is_claimed_when_every_model_meets_it():
    complete = [r for r in estate_resources() if r.name in ("fraud", "fraud/3", "3")]
    bom = spdx.build(read_estate(estate_document(complete)))
    assert [g.profile for g in bom.gaps.values()] == ["dataset", "dataset"]
    assert "ai" in bom.conformance and "dataset" not in bom.conformance
    document = render(estate_document(complete))
    claimed = next(e for e in document["@graph"] if e["type"] == "SpdxDocument")
    assert "ai" in claimed["profileConformance"]


def test_a_missing_licence_relationship_is_a_gap():
    bom = spdx.build(read_estate(estate_document()))
    kept = [
        o
        for o in bom.objects
        if not (
            type(o).__name__ == "Relationship"
            and o.relationshipType.endswith("/hasDeclaredLicense")
        )
    ]
    gaps = spdx.profile_gaps(kept)
    assert all("exactly one hasDeclaredLicense relationship" in g.missing for g in gaps.values())
    assert len(gaps) == 6  # every AI and dataset package


def test_deterministic_and_namespaced_by_scan():
    first = spdx.render(read_estate(estate_document()))
    assert first == spdx.render(read_estate(estate_document()))
    other = render(estate_document(scan_id="scan-2"))
    ids = {e["spdxId"] for e in json.loads(first)["@graph"] if "spdxId" in e}
    assert not ids & {e["spdxId"] for e in other["@graph"] if "spdxId" in e}
    assert json.loads(first)["@graph"][0]["created"] == "2025-06-30T09:01:00Z"


def test_hostile_strings_stay_data_and_the_document_validates():
    document = render(estate_document(hostile_resources()))
    assert spdx_schema_problems(document) == []
    assert spdx_shacl_problems(document) is None
    evil = next(p for p in of_type(document, "ai_AIPackage"))
    assert evil["name"] == f"evil{HOSTILE}"
    assert evil["ai_limitation"] == MEGABYTE
    assert evil["software_downloadLocation"] == "NOASSERTION"  # not a URL: not written as one
    assert "releaseTime" not in evil  # "2025-01-01T00:00:00Z<script>…" is not a time
    assert not [e for e in document["@graph"] if e["type"] == "simplelicensing_LicenseExpression"]


def test_per_class_schema_validation_agrees_with_the_whole_schema():
    """tests/bom_checks.py validates each element against its class (the whole schema takes
    minutes on a real document); on a small one, both ways give the same verdicts."""
    small = render(estate_document([]))
    assert spdx_schema_problems(small) == spdx_schema_problems(small, whole=True) == []
    broken = json.loads(json.dumps(small))
    broken["@graph"][0]["specVersion"] = 3  # CreationInfo.specVersion must be a string
    assert spdx_schema_problems(broken)
    assert spdx_schema_problems(broken, whole=True)
