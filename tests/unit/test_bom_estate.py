"""What the AI-BOM reads out of results.json: models, datasets, findings, completeness."""

from __future__ import annotations

from scanner import results
from scanner.bom.completeness import ATTRIBUTE, CHECKS, annotate, score
from scanner.bom.estate import read_estate
from scanner.bom.iri import is_iri
from scanner.inventory import Ref, Unknown
from tests.bom_estate import REGISTRY, artefact, estate_document, model, version


def models_by_name(document):
    return {
        f"{m.name}/{m.version}" if m.version else m.name: m for m in read_estate(document).models
    }


def test_models_are_versions_and_unregistered_artefacts():
    estate = read_estate(estate_document())
    kinds = {m.ref: m.kind for m in estate.models}
    assert kinds == {
        f"{REGISTRY}/models/fraud/versions/3": "model_version",
        f"{REGISTRY}/models/fraud/versions/2": "model_version",
        f"{REGISTRY}/models/churn/versions/1": "model_version",
        # registered artefacts are described through their versions, not twice
        "s3://ml-models/scratch/exp7": "artefact",
    }


def test_datasets_with_a_digest_are_shared_and_contexts_kept():
    estate = read_estate(estate_document())
    assert [d.ref for d in estate.datasets] == [
        "dataset:holdout-2024@d1g3st02",
        "dataset:transactions-2024@d1g3st01",
    ]
    fraud3 = models_by_name(estate_document())["fraud/3"]
    assert [(u.ref, u.context) for u in fraud3.datasets] == [
        ("dataset:transactions-2024@d1g3st01", "training"),
        ("dataset:holdout-2024@d1g3st02", "test"),
    ]
    transactions = estate.datasets[1]
    assert transactions.location == "s3://ml-data/transactions/2024.parquet"  # from MLflow JSON


def test_datasets_without_a_digest_are_never_merged():
    same = {"name": "clicks", "source": "s3://d/clicks", "context": "training"}
    resources = [
        model("a"),
        version("a", 1, provenance={"datasets": [same]}),
        version("a", 2, provenance={"datasets": [same]}),
    ]
    estate = read_estate(estate_document(resources))
    assert len(estate.datasets) == 2
    assert all(d.digest is None for d in estate.datasets)


def test_mlflow_versions_get_a_purl_with_the_tracking_uri():
    found = models_by_name(estate_document())
    assert found["fraud/3"].purl == (
        "pkg:mlflow/fraud@3?repository_url=http://127.0.0.1:5000&run_id=run-fraud-3"
    )
    assert found["churn/1"].purl == "pkg:mlflow/churn@1?repository_url=http://127.0.0.1:5000"
    assert found["exp7"].purl is None


def test_a_name_that_needs_quoting_and_a_registry_without_purl():
    spaced = model("fraud detector")
    sagemaker = {
        "id": "arn:aws:sagemaker:eu-west-1:1:model-package/credit/4",
        "name": "credit/4",
    }
    resources = [spaced, version("fraud detector", 1)]
    document = estate_document(resources)
    document["resources"].append(
        {**sagemaker, "type": "model_version", "source": "sagemaker", "attributes": {}}
    )
    found = models_by_name(document)
    assert found["fraud detector/1"].purl.startswith("pkg:mlflow/fraud%20detector@1?")
    assert found["credit/4"].purl is None  # no purl type for SageMaker: none is invented


def test_unknown_values_are_left_out_not_filled():
    churn = models_by_name(estate_document())["churn/1"]
    assert churn.run is None  # {"$unknown": "mlflow: run deleted"}
    assert churn.datasets == ()
    assert churn.owner is None and churn.created_at is None and churn.artefact is None
    assert churn.location == "s3://ml-models/churn/1"  # the registry's source URI is known


def test_signature_state_and_signature_file():
    found = models_by_name(estate_document())
    signed = found["fraud/3"].artefact.signature
    assert (signed.present, signed.verified, signed.file) == (True, True, "model.sig")
    unsigned = found["fraud/2"].artefact.signature
    assert (unsigned.present, unsigned.known, unsigned.file) == (False, True, None)
    named = artefact(
        "s3://b/m",
        [{"path": "w.bin", "size": 1, "sha256": "ab" * 32, "etag": "x", "format": "x"}],
        signature={
            "present": True,
            "kind": "sigstore-bundle",
            "verified": Unknown("no trust"),
            "identity": None,
            "error": None,
            "file": "w.bin.sigstore.json",
        },
    )
    bundle = read_estate(estate_document([named])).models[0].artefact.signature
    assert (bundle.file, bundle.verified, bundle.known) == ("w.bin.sigstore.json", None, False)


def test_model_signature_columns_from_text_or_list():
    fraud3 = models_by_name(estate_document())["fraud/3"]
    assert fraud3.inputs == ("amount: double", "mcc: string")
    assert fraud3.outputs == ("tensor float32 [-1]",)
    broken = estate_document(
        [model("m"), version("m", 1, model_signature={"inputs": "[not json", "outputs": 7})]
    )
    m = models_by_name(broken)["m/1"]
    assert (m.inputs, m.outputs) == ((), ())


def test_model_card_facts_come_from_attributes_then_tags():
    fraud3 = models_by_name(estate_document())["fraud/3"]
    assert (fraud3.task, fraud3.architecture, fraud3.license) == (
        "binary-classification",
        "gradient-boosted trees",
        "Apache-2.0",
    )
    assert fraud3.considerations.limitations == ("Not for card-not-present transactions",)
    tagged = estate_document(
        [model("m", tags={"task": "from-model"}), version("m", 1, task="from-version")]
    )
    assert models_by_name(tagged)["m/1"].task == "from-version"


def test_base_models_by_name_or_reference():
    resources = [
        model("base"),
        version("base", 1),
        model("tuned", tags={"base_model": "distilbert-base-uncased, other"}),
        version(
            "tuned",
            1,
            base_models=[Ref(f"{REGISTRY}/models/base/versions/1"), Ref("mlflow+gone/x")],
        ),
        version("tuned", 2),
    ]
    found = models_by_name(estate_document(resources))
    refs = [(b.name, b.ref) for b in found["tuned/1"].base_models]
    assert refs == [
        (f"{REGISTRY}/models/base/versions/1", f"{REGISTRY}/models/base/versions/1"),
        ("mlflow+gone/x", None),  # not in this BOM: a name, not a dangling reference
    ]
    assert [b.name for b in found["tuned/2"].base_models] == ["distilbert-base-uncased", "other"]


def test_findings_about_models_map_onto_their_bom_refs():
    estate = read_estate(estate_document())
    got = {(f.policy_id, f.status): f.affects for f in estate.findings}
    assert got == {
        ("MW-INV-02", "fail"): (f"{REGISTRY}/models/churn/versions/1",),
        ("MW-INT-03", "fail"): (f"{REGISTRY}/models/fraud/versions/2",),  # via its artefact
        ("MW-INV-01", "error"): (f"{REGISTRY}/models/churn/versions/1",),  # via the model
        ("MW-STO-01", "fail"): ("s3://ml-models/scratch/exp7",),  # an unregistered artefact
    }  # MW-INT-01 passed: not reported
    controls = {f.controls for f in estate.findings}
    assert controls == {("eu-ai-act:Annex-IV", "iso-iec-42001-2023:A.6.2.7")}


def test_completeness_counts_only_known_facts():
    document = estate_document()
    estate = read_estate(document)
    datasets = {d.ref: d for d in estate.datasets}
    scores = {
        m.name + (f"/{m.version}" if m.version else ""): score(m, datasets) for m in estate.models
    }
    assert scores["fraud/3"].missing == ()
    assert scores["fraud/3"].score == 1.0
    assert scores["fraud/2"].missing == ("classification", "ip_value")
    assert scores["churn/1"].known == ()
    assert scores["exp7"].missing == tuple(CHECKS)  # a hash could not be read: not complete
    assert scores["fraud/2"].summary() == "7/9 (missing: classification, ip_value)"


def test_a_truncated_listing_is_not_complete_hashing():
    files = [{"path": "w.bin", "size": 1, "sha256": "ab" * 32, "etag": "x", "format": "pytorch"}]
    whole = artefact("s3://b/whole", files, listing_truncated=False)
    cut = artefact("s3://b/cut", files, listing_truncated=True)
    unknown = artefact("s3://b/unknown", files, listing_truncated=Unknown("throttled"))
    estate = read_estate(estate_document([whole, cut, unknown]))
    hashed = {m.ref: "artefact_hashes" in score(m, {}).known for m in estate.models}
    assert hashed == {"s3://b/whole": True, "s3://b/cut": False, "s3://b/unknown": False}


def test_annotate_adds_the_score_to_bom_models_only_and_stays_valid():
    document = annotate(estate_document())
    assert results.problems(document) == []
    scored = {
        r["id"]: r["attributes"][ATTRIBUTE]
        for r in document["resources"]
        if ATTRIBUTE in r["attributes"]
    }
    assert set(scored) == {m.ref for m in read_estate(document).models}
    assert scored[f"{REGISTRY}/models/fraud/versions/2"] == {
        "score": 0.78,
        "known": 7,
        "total": 9,
        "missing": ["classification", "ip_value"],
    }
    assert annotate(document) == document  # recomputing gives the same values


def test_iri_checks_agree_with_rfc3987_syntax_verdicts():
    """Verdicts recorded from rfc3987-syntax (the checker jsonschema would use) for tricky
    values; scanner.bom.iri must never accept what it refuses."""
    table = {
        "s3://b/x y": (False, False),
        "file:///a/b": (True, True),
        "git@github.com:a/b.git": (False, False),
        "NOASSERTION": (False, True),
        "mlflow+http://h/models/x": (True, True),
        "https://a/\u00e9": (True, True),
        "a\x00b": (False, False),
        "": (False, True),
        "https://a/<script>": (False, False),
        "https://***@h/x": (True, True),
        "http://\u00e9x.com/?\ue000#x": (True, True),
        "http://\u00e9x.com/#\ue000": (False, False),
        "http://h/%zz": (False, False),
        "http://ex.com/\ufffe": (False, False),
        "http://ex.com/\U00010000": (False, False),
        "1abc:x": (False, False),
        "http://h:port/": (False, False),
        "//h/x": (False, True),
        "#f": (False, True),
        "http://u@h:1/p?q#f#g": (False, False),
        "http://h/a|b": (False, False),
        "http://h/{x}": (False, False),
        "http://[::1]:80/a": (False, False),  # rfc3987-syntax refuses IP literals
        "pkg:mlflow/x@1?repository_url=http://h:5000&run_id=1": (True, True),
    }
    for value, (iri, reference) in table.items():
        assert (is_iri(value), is_iri(value, reference=True)) == (iri, reference), value


def test_a_blank_model_name_gets_no_purl():
    document = estate_document([model(" "), version(" ", 1)])
    assert models_by_name(document)[" /1"].purl is None  # named " ", version 1
