"""Signatures and attestations verified where the models live: signed models in the moto S3,
checked by the aws: source within integrity_max_bytes (each object read at most once)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from scanner.artefacts.signatures.trust import IdentityTrust, KeyTrust, TrustPolicy, TrustSet
from scanner.demo.local_sigstore import LocalSigstore
from scanner.demo.registry_estate import safetensors_bytes
from tests.aws_estate import attrs, scan
from tests.signing import dsse_envelope, key_pair, sign_with_key, slsa_statement

BUCKET = "ml-signed"
CI = "https://ci.acme.example/pipelines/fraud-train"
WEIGHTS = safetensors_bytes(64 * 1024)  # more than the small budgets below
CONFIG = b'{"arch": "mlp"}'


def _model(root: Path, name: str, weights: bytes = WEIGHTS) -> Path:
    model = root / name
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(weights)
    (model / "config.json").write_bytes(CONFIG)
    return model


def _upload(s3, prefix: str, model: Path, **extra) -> None:
    for path in sorted(model.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(model).as_posix()}"
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), **extra)


@pytest.fixture(scope="module")
def estate(moto, tmp_path_factory):
    root = tmp_path_factory.mktemp("signed")
    keys, stranger = key_pair(root / "keys"), key_pair(root / "keys", "stranger")
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET)

    good = _model(root, "good")
    sign_with_key(good, keys)
    _upload(s3, "key/fraud", good)

    # Signed, uploaded, then one object overwritten: the weights were swapped in storage.
    _upload(s3, "tampered/fraud", good)
    s3.put_object(Bucket=BUCKET, Key="tampered/fraud/model.safetensors", Body=WEIGHTS + b"!")

    # v2's files next to the signature made for v1.
    v2 = _model(root, "v2", WEIGHTS[:-1] + b"\x01")
    _upload(s3, "other-version/fraud", v2)
    s3.put_object(
        Bucket=BUCKET,
        Key="other-version/fraud/model.sig",
        Body=(good / "model.sig").read_bytes(),
    )

    # A file added after signing: decided by the listing alone.
    _upload(s3, "added/fraud", good)
    s3.put_object(Bucket=BUCKET, Key="added/fraud/extra.bin", Body=b"not signed")

    # Stored with S3-computed SHA-256 checksums: verified without downloading the files.
    _upload(s3, "checksummed/fraud", good, ChecksumAlgorithm="SHA256")

    # Signed by a key nobody trusts.
    stranger_model = _model(root, "stranger")
    sign_with_key(stranger_model, stranger)
    _upload(s3, "stranger/fraud", stranger_model)

    _upload(s3, "unsigned/fraud", _model(root, "unsigned"))

    # Keyless, against our own Sigstore (CA as Fulcio, our log key as Rekor).
    sigstore = LocalSigstore(issuer="https://oidc.acme.example")
    with sigstore.serving():
        trust_files = sigstore.write_trust(root / "sigstore")
        keyless = _model(root, "keyless")
        sigstore.sign_model(keyless, keyless / "model.sig", CI, trust_files)
        _upload(s3, "keyless/fraud", keyless)
        # A keyless attestation (a Sigstore bundle over SLSA provenance) beside the files.
        files = {"model.safetensors": WEIGHTS, "config.json": CONFIG}
        bundle = sigstore.sign_statement(slsa_statement(files), CI, trust_files)
        _upload(s3, "attested-keyless/fraud", _model(root, "attested-keyless"))
        s3.put_object(
            Bucket=BUCKET, Key="attested-keyless/fraud/provenance.sigstore.json", Body=bundle
        )

    # Bare DSSE attestations signed with the release key: subjects that match, and not.
    _upload(s3, "attested/fraud", _model(root, "attested"))
    s3.put_object(
        Bucket=BUCKET,
        Key="attested/fraud/provenance.intoto.jsonl",
        Body=dsse_envelope(slsa_statement(files), keys),
    )
    _upload(s3, "attested-wrong/fraud", _model(root, "attested-wrong"))
    other = {"model.safetensors": WEIGHTS + b"?", "config.json": CONFIG}
    s3.put_object(
        Bucket=BUCKET,
        Key="attested-wrong/fraud/provenance.intoto.jsonl",
        Body=dsse_envelope(slsa_statement(other), keys),
    )

    trust = TrustPolicy(
        TrustSet(
            keys=(KeyTrust(keys.public),),
            identities=(IdentityTrust(CI, sigstore.issuer, trust_files.trusted_root),),
        )
    )
    return moto, trust, trust_files, sigstore


def _scan(estate, budget: int | None = None, trust: TrustPolicy | None = None):
    moto, default_trust, _, _ = estate
    options: dict = {"trust": trust or default_trust}
    if budget is not None:
        options["integrity_max_bytes"] = budget
    resources, problems, source = scan(moto, "aws:", options)
    arts = {
        rid.removeprefix(f"s3://{BUCKET}/"): attrs(r)
        for rid, r in resources.items()
        if r.type == "artefact" and rid.startswith(f"s3://{BUCKET}/")
    }
    return arts, problems, source


@pytest.fixture(scope="module")
def scanned(estate):
    return _scan(estate)


def test_a_key_signed_model_verifies_in_place(scanned):
    arts, problems, _ = scanned
    assert problems == []
    sig = arts["key/fraud"]["signature"]
    assert sig["verified"] is True, sig
    assert sig["kind"] == "model-signing" and sig["file"] == "model.sig"
    assert sig["identity"].startswith("key release.pub (sha256:")
    assert sig["digests_from"] == "read"
    assert {m["path"] for m in sig["manifest"]} == {"model.safetensors", "config.json"}
    # The same read gave the files their digests.
    weights = next(f for f in arts["key/fraud"]["files"] if f["path"] == "model.safetensors")
    assert weights["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()


def test_an_object_overwritten_after_signing_fails_naming_it(scanned):
    sig = scanned[0]["tampered/fraud"]["signature"]
    assert sig["verified"] is False
    assert sig["error"] == "files do not match the signature: changed: model.safetensors"


def test_a_signature_over_another_version_fails(scanned):
    sig = scanned[0]["other-version/fraud"]["signature"]
    assert sig["verified"] is False
    assert "changed: model.safetensors" in sig["error"]


def test_an_added_file_fails_by_its_name_without_reading_the_model(estate):
    # A budget that fits the signature file only: the verdict comes from the listing.
    arts, _, _ = _scan(estate, budget=4096)
    sig = arts["added/fraud"]["signature"]
    assert sig["verified"] is False
    assert sig["error"] == "files do not match the signature: added: extra.bin"


def test_a_signature_by_an_untrusted_key_fails_and_nobody_trusted_is_unknown(estate, scanned):
    sig = scanned[0]["stranger/fraud"]["signature"]
    assert sig["verified"] is False and "not signed by the trusted key release.pub" in sig["error"]
    arts, _, _ = _scan(estate, trust=TrustPolicy())
    reason = arts["key/fraud"]["signature"]["verified"]["$unknown"]
    assert "needs a trusted public key" in reason and "none is configured" in reason


def test_an_unsigned_model_has_no_signature(scanned):
    sig = scanned[0]["unsigned/fraud"]["signature"]
    assert (sig["present"], sig["verified"]) == (False, False)


def test_over_the_budget_the_signature_is_unknown_with_the_sizes(estate):
    arts, _, _ = _scan(estate, budget=4096)
    sig = arts["key/fraud"]["signature"]
    assert sig["verified"] == {
        "$unknown": "model is 65.6 KiB; budget 4.0 KiB: raise integrity_max_bytes "
        "(aws source option) or verify in the pipeline"
    }


def test_stored_sha256_checksums_verify_without_downloading_the_files(estate):
    # The budget holds the signature file but not the weights: S3's own SHA-256 decides.
    arts, _, _ = _scan(estate, budget=4096)
    sig = arts["checksummed/fraud"]["signature"]
    assert sig["verified"] is True, sig
    assert sig["digests_from"] == "S3 checksum"
    # ... while the same model without checksums could not be compared within that budget.
    assert "$unknown" in arts["key/fraud"]["signature"]["verified"]


def test_keyless_signature_verifies_against_the_pinned_local_trust_root(scanned):
    sig = scanned[0]["keyless/fraud"]["signature"]
    assert sig["verified"] is True, sig
    assert sig["identity"] == f"{CI} (https://oidc.acme.example)"


@pytest.mark.parametrize(
    ("identity", "issuer", "refusal"),
    [
        ("https://ci.acme.example/pipelines/other", None, "SANs do not match"),
        (CI, "https://token.actions.githubusercontent.com", "OIDCIssuer does not match"),
    ],
)
def test_keyless_with_the_wrong_identity_or_issuer_is_refused(estate, identity, issuer, refusal):
    _, _, trust_files, sigstore = estate
    pinned = IdentityTrust(identity, issuer or sigstore.issuer, trust_files.trusted_root)
    arts, _, _ = _scan(estate, trust=TrustPolicy(TrustSet(identities=(pinned,))))
    sig = arts["keyless/fraud"]["signature"]
    assert sig["verified"] is False and refusal in sig["error"]


def test_keyless_from_another_ca_is_refused(estate, tmp_path):
    other = LocalSigstore(issuer="https://oidc.acme.example", name="other")
    with other.serving():
        other_trust = other.write_trust(tmp_path)
    pinned = IdentityTrust(CI, "https://oidc.acme.example", other_trust.trusted_root)
    arts, _, _ = _scan(estate, trust=TrustPolicy(TrustSet(identities=(pinned,))))
    sig = arts["keyless/fraud"]["signature"]
    assert sig["verified"] is False and "certificate chain" in sig["error"]


def test_an_attestation_whose_subjects_match_is_verified_provenance(scanned):
    art = scanned[0]["attested/fraud"]
    prov = art["provenance"]
    assert prov["verified"] is True, prov
    assert prov["predicate_type"] == "https://slsa.dev/provenance/v1"
    assert prov["builder_id"] == "https://ci.acme.example/builders/train@v1"
    assert prov["build_type"] == "https://ci.acme.example/buildtypes/train/v1"
    assert prov["identity"].startswith("key release.pub")
    assert {s["name"] for s in prov["subjects"] if s["matched"]} == {
        "model.safetensors",
        "config.json",
    }
    # It names every model file, so it also stands as the model's signature.
    assert art["signature"]["kind"] == "in-toto" and art["signature"]["verified"] is True


def test_an_attestation_whose_subjects_differ_fails(scanned):
    art = scanned[0]["attested-wrong/fraud"]
    prov = art["provenance"]
    assert prov["verified"] is False
    assert prov["error"] == (
        "attestation subjects do not match the files: digest differs: model.safetensors"
    )
    assert prov["builder_id"]  # authentic, so what it claims about the build is reported
    assert art["signature"]["verified"] is False


def test_a_keyless_attestation_bundle_verifies_with_the_same_trust(scanned):
    prov = scanned[0]["attested-keyless/fraud"]["provenance"]
    assert prov["verified"] is True, prov
    assert prov["identity"] == f"{CI} (https://oidc.acme.example)"


@pytest.fixture(scope="module")
def mlflow_layout(estate, tmp_path_factory):
    """An MLflow run that logged `model/` and then `model.sig` beside it (signed over model/)."""
    moto = estate[0]
    root = tmp_path_factory.mktemp("mlflow-run")
    keys = key_pair(root / "keys")
    model = _model(root, "model")
    (model / "MLmodel").write_text("flavors: {pytorch: {}}\n")
    signature = sign_with_key(model, keys, root / "model.sig")
    s3 = moto.client("s3")
    _upload(s3, "mlflow/1/run1/artifacts/model", model)
    s3.put_object(
        Bucket=BUCKET, Key="mlflow/1/run1/artifacts/model.sig", Body=signature.read_bytes()
    )
    return TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))


def test_a_signature_logged_beside_the_model_directory_verifies_it(estate, mlflow_layout):
    arts, _, _ = _scan(estate, trust=mlflow_layout)
    # `model.sig` beside `model/` is the directory's signature, not a marker of `artifacts/`.
    assert "mlflow/1/run1/artifacts" not in arts
    sig = arts["mlflow/1/run1/artifacts/model"]["signature"]
    assert sig["verified"] is True, sig
    assert sig["file"] == "../model.sig"


@pytest.fixture(scope="module")
def sagemaker_recorded(estate, tmp_path_factory):
    """Model packages whose CustomerMetadataProperties say where their signature is."""
    moto = estate[0]
    root = tmp_path_factory.mktemp("sagemaker")
    keys = key_pair(root / "keys")
    s3, sm = moto.client("s3"), moto.client("sagemaker")
    model = _model(root, "credit")
    signature = sign_with_key(model, keys, root / "credit-v1.sig")
    _upload(s3, "sm/credit/v1", model)
    s3.put_object(Bucket=BUCKET, Key="signatures/credit-v1.sig", Body=signature.read_bytes())
    sm.create_model_package_group(ModelPackageGroupName="credit")
    for version, pointer in (
        ("v1", f"s3://{BUCKET}/signatures/credit-v1.sig"),
        ("v2", "../../../signatures/credit-v2.sig"),  # relative to the files; not uploaded
    ):
        if version == "v2":
            _upload(s3, "sm/credit/v2", model)
        sm.create_model_package(
            ModelPackageGroupName="credit",
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1",
                        "ModelDataUrl": f"s3://{BUCKET}/sm/credit/{version}/model.safetensors",
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={"signature": pointer},
        )
    return TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))


def test_a_signature_a_model_package_records_is_read_where_it_says(estate, sagemaker_recorded):
    moto = estate[0]
    resources, _, _ = scan(moto, "aws:", {"trust": sagemaker_recorded})
    packages = {
        r.attributes["version"]: attrs(r)
        for r in resources.values()
        if r.type == "model_version" and "model-package/credit/" in r.id
    }
    assert packages["1"]["recorded_signature"] == {
        "uri": f"s3://{BUCKET}/signatures/credit-v1.sig",
        "source": "CustomerMetadataProperties.signature",
    }
    sig = attrs(resources[f"s3://{BUCKET}/sm/credit/v1"])["signature"]
    assert sig["verified"] is True, sig
    assert sig["file"] == "../../../signatures/credit-v1.sig"
    assert sig["recorded_in"] == "CustomerMetadataProperties.signature"
    # A pointer to an object that is not there: the registry's word is not silently dropped.
    missing = attrs(resources[f"s3://{BUCKET}/sm/credit/v2"])["signature"]
    assert missing["present"] is True
    assert (
        "records the signature at s3://ml-signed/signatures/credit-v2.sig"
        in (missing["verified"]["$unknown"])
    )
