"""S3 → storage and artefact resources, each misconfiguration beside its fixed twin (moto)."""

from __future__ import annotations

import hashlib

import pytest

from tests.aws_estate import ACCOUNT, attrs, pickle_bytes, policy, safetensors, scan

pytestmark = pytest.mark.slow


def _bucket(s3, name: str, model: bool = True, **create) -> None:
    s3.create_bucket(Bucket=name, **create)
    if model:
        s3.put_object(Bucket=name, Key="fraud/v3/model.safetensors", Body=safetensors())


def _allow_anyone(bucket: str, **condition) -> dict:
    st = {
        "Sid": "Anyone",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    if condition:
        st["Condition"] = condition
    return st


@pytest.fixture(scope="module")
def estate(moto):
    s3 = moto.client("s3")
    kms = moto.client("kms")
    # public vs private ACL
    _bucket(s3, "acl-public")
    s3.put_bucket_acl(Bucket="acl-public", ACL="public-read")
    _bucket(s3, "acl-private")
    # public policy vs VPC-endpoint-restricted policy
    _bucket(s3, "policy-public")
    s3.put_bucket_policy(Bucket="policy-public", Policy=policy(_allow_anyone("policy-public")))
    _bucket(s3, "policy-vpce")
    s3.put_bucket_policy(
        Bucket="policy-vpce",
        Policy=policy(_allow_anyone("policy-vpce", StringEquals={"aws:SourceVpce": "vpce-1a2b"})),
    )
    # a public ACL the bucket's public-access block ignores
    _bucket(s3, "acl-blocked")
    s3.put_bucket_acl(Bucket="acl-blocked", ACL="public-read")
    s3.put_public_access_block(
        Bucket="acl-blocked",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    # encryption: SSE-S3, SSE-KMS with the AWS-managed key, SSE-KMS with a customer key
    key = kms.create_key(Description="models")["KeyMetadata"]["KeyId"]
    for name, rule in {
        "enc-s3": {"SSEAlgorithm": "AES256"},
        "enc-kms-aws": {"SSEAlgorithm": "aws:kms"},
        "enc-kms-cmk": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
    }.items():
        _bucket(s3, name, model=False)
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": rule}]
            },
        )
    # versioning, object lock, server access logging, TLS-only
    _bucket(s3, "hardened", model=False, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket="hardened", VersioningConfiguration={"Status": "Enabled"})
    _bucket(s3, "access-logs", model=False)
    s3.put_bucket_policy(
        Bucket="access-logs",
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::access-logs/*",
            }
        ),
    )
    s3.put_bucket_logging(
        Bucket="hardened",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "h/"}
        },
    )
    s3.put_bucket_policy(
        Bucket="hardened",
        Policy=policy(
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::hardened", "arn:aws:s3:::hardened/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ),
    )
    # model directories: an MLflow model, a renamed pickle next to weights, a .bin that is
    # not a model, a sha256 checksum, a signature
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="mlflow/fraud/MLmodel", Body=b"flavors: {}\n")
    s3.put_object(Bucket="models", Key="mlflow/fraud/data/model.pkl", Body=pickle_bytes())
    s3.put_object(Bucket="models", Key="mlflow/fraud/conda.yaml", Body=b"name: x\n")
    s3.put_object(
        Bucket="models",
        Key="hf/bert/model.safetensors",
        Body=safetensors(),
        ChecksumAlgorithm="SHA256",
    )
    s3.put_object(Bucket="models", Key="hf/bert/config.dat", Body=pickle_bytes())
    s3.put_object(Bucket="models", Key="hf/bert/model.sig", Body=b"{}")
    s3.put_object(Bucket="models", Key="blobs/raw.bin", Body=b"just some bytes, no model" * 4)
    s3.put_object(Bucket="models", Key="data/train.csv", Body=b"a,b\n")
    s3.create_bucket(Bucket="root-model")
    s3.put_object(Bucket="root-model", Key="model.onnx", Body=b"\x08\x07\x12\x04test")
    resources, problems, source = scan(moto)
    return resources, problems, source


def storage(estate, name):
    return attrs(estate[0][f"s3://{name}"])


def test_no_problems_and_one_listing_per_bucket(estate):
    resources, problems, source = estate
    assert problems == []
    buckets = [r for r in resources.values() if r.type == "storage"]
    assert source.calls["s3:ListBucket"] == len(buckets)


def test_public_acl_and_its_private_twin(estate):
    public = storage(estate, "acl-public")
    assert public["public"] is True
    assert public["public_reasons"] == ["bucket ACL grants READ to AllUsers"]
    assert {"$ref": "*"} in public["readers"]
    private = storage(estate, "acl-private")
    assert private["public"] is False and private["public_reasons"] == []
    assert {"$ref": "*"} not in private["readers"]


def test_public_policy_and_its_vpce_restricted_twin(estate):
    public = storage(estate, "policy-public")
    assert public["public"] is True
    assert "allows s3:GetObject to anyone" in public["public_reasons"][0]
    assert public["network_restricted"] is False
    vpce = storage(estate, "policy-vpce")
    assert vpce["public"] is False
    assert vpce["network_restricted"] is True
    (grant,) = [g for g in vpce["access_grants"] if g["principal"] == {"$ref": "*"}]
    assert grant["restricted_by"] == ["vpce"]
    assert grant["conditions"] == {"StringEquals": {"aws:SourceVpce": ["vpce-1a2b"]}}


def test_bucket_public_access_block_ignores_the_public_acl(estate):
    blocked = storage(estate, "acl-blocked")
    assert blocked["public"] is False
    assert blocked["public_reasons"] == [
        "bucket ACL grants READ to AllUsers - ignored by IgnorePublicAcls (bucket)"
    ]
    assert blocked["public_access_block"]["bucket"]["IgnorePublicAcls"] is True
    assert blocked["public_access_block"]["account"]["IgnorePublicAcls"] is False


def test_encryption_kinds(estate):
    assert storage(estate, "enc-s3")["encryption"] == {
        "at_rest": True,
        "algorithm": "aes256",
        "kms_key": None,
        "customer_managed_key": False,
        "bucket_key": False,
    }
    assert storage(estate, "enc-kms-aws")["encryption"]["customer_managed_key"] is False
    cmk = storage(estate, "enc-kms-cmk")["encryption"]
    assert cmk["algorithm"] == "aws:kms" and cmk["customer_managed_key"] is True
    # moto, like AWS before 2023, answers "no default encryption" for an untouched bucket.
    assert storage(estate, "acl-private")["encryption"]["at_rest"] is False


def test_versioning_lock_logging_tls_and_their_twins(estate):
    hardened = storage(estate, "hardened")
    plain = storage(estate, "acl-private")
    assert (hardened["versioning"], plain["versioning"]) == (True, False)
    assert (hardened["object_lock"], plain["object_lock"]) == (True, False)
    assert hardened["access_logging"]["server_access"] is True
    assert plain["access_logging"]["server_access"] is False
    assert (hardened["tls_only"], plain["tls_only"]) == (True, False)


def test_model_directories_become_artefacts(estate):
    resources = estate[0]
    arts = {i: attrs(r) for i, r in resources.items() if r.type == "artefact"}
    assert "s3://models/mlflow/fraud" in arts and "s3://models/hf/bert" in arts
    assert not any(i.startswith("s3://models/blobs") for i in arts)  # a .bin with no model
    mlflow = arts["s3://models/mlflow/fraud"]
    assert {f["path"] for f in mlflow["files"]} == {"MLmodel", "data/model.pkl", "conda.yaml"}
    # Pickle-based, small: downloaded and scanned (a benign pickle: nothing unsafe).
    assert mlflow["serialization"] == {
        "formats": ["pickle"],
        "pickle_based": True,
        "unsafe": [],
        "unsafe_reasons": [],
        "lambda_layers": [],
    }
    assert mlflow["storage"] == {"$ref": "s3://models"}
    assert mlflow["location"]["prefix"] == "mlflow/fraud"
    bert = arts["s3://models/hf/bert"]
    assert bert["serialization"]["pickle_based"] is True  # the renamed pickle beside the weights
    weights = next(f for f in bert["files"] if f["path"] == "model.safetensors")
    assert weights["sha256"] == hashlib.sha256(safetensors()).hexdigest()
    assert weights["format"] == "safetensors" and weights["etag"]
    # No checksum was stored with the renamed pickle; the read that scanned it hashed it.
    dat = next(f for f in bert["files"] if f["path"] == "config.dat")
    assert dat["sha256"] == hashlib.sha256(pickle_bytes()).hexdigest()
    assert bert["signature"]["present"] is True
    # `{}` is no signature at all: checked (no trust needed to see that) and refused.
    assert bert["signature"]["verified"] is False
    assert "neither a Sigstore bundle nor a DSSE envelope" in bert["signature"]["error"]
    assert mlflow["signature"]["present"] is False
    assert storage(estate, "models")["holds_models"] is True
    assert storage(estate, "enc-s3")["holds_models"] is False


def test_a_model_at_the_bucket_root(estate):
    resources = estate[0]
    art = attrs(resources["s3://root-model/"])  # not s3://root-model: that is the storage
    assert art["location"]["prefix"] == "" and art["storage"] == {"$ref": "s3://root-model"}
    assert resources["s3://root-model"].type == "storage"


def test_readers_are_checked_against_the_model_prefixes(estate):
    public = storage(estate, "policy-public")
    (g,) = public["access_grants"]
    assert g["via"] == "bucket_policy" and g["statement"] == "Anyone"
    assert public["reader_count"] == 1


def test_account_public_access_block(moto, estate):
    s3control = moto.client("s3control")
    from scanner.sources.aws.context import _local_host_prefix

    s3control.meta.events.register("before-sign.s3-control.*", _local_host_prefix)
    s3control.put_public_access_block(
        AccountId=ACCOUNT,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    try:
        resources, problems, _ = scan(moto)
    finally:
        s3control.delete_public_access_block(AccountId=ACCOUNT)
    assert problems == []
    acl = attrs(resources["s3://acl-public"])
    assert acl["public"] is False
    assert acl["public_reasons"] == [
        "bucket ACL grants READ to AllUsers - ignored by IgnorePublicAcls (account)"
    ]
    pol = attrs(resources["s3://policy-public"])
    assert pol["public"] is False
    assert pol["public_reasons"][0].endswith("blocked by RestrictPublicBuckets (account)")
    assert {"$ref": "*"} not in pol["readers"]
    assert acl["public_access_block"]["account"]["RestrictPublicBuckets"] is True


def test_listing_cap_and_sniff_budget(moto, estate):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="big-data")
    for i in range(7):
        s3.put_object(Bucket="big-data", Key=f"part-{i}.csv", Body=b"x")
    big = b"\x80\x04" + b"\x00" * (70 * 1024)  # more than one 64 KiB block
    s3.put_object(Bucket="big-data", Key="zz/model.pt", Body=big)
    resources, _, _ = scan(moto, options={"max_objects_per_bucket": 5, "sniff_bytes": 1000})
    data = attrs(resources["s3://big-data"])
    assert data["listing_truncated"] is True and data["object_count"] == 5
    assert data["holds_models"] == {
        "$unknown": "no model files among the first 5 objects; listing capped "
        "(raise max_objects_per_bucket)"
    }
    # Uncapped listing, tiny read budget: the format is unknown, with the reason.
    resources, _, _ = scan(moto, options={"sniff_bytes": 1000})
    art = attrs(resources["s3://big-data/zz"])
    (f,) = art["files"]
    assert f["format"] == {
        "$unknown": "sniffing needs more than the 1000-byte read budget (sniff_bytes)"
    }
    assert "$unknown" in art["serialization"]["pickle_based"]
    assert attrs(resources["s3://big-data"])["listing_truncated"] is False
