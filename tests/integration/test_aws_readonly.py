"""Read-only proof: the emulator's whole state is the same before and after a scan."""

from __future__ import annotations

import pytest

from tests.aws_estate import ACCOUNT, OTHER, policy, safetensors, scan, trust

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def estate(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="models")
    s3.put_object(
        Bucket="models",
        Key="fraud/model.safetensors",
        Body=safetensors(),
        ChecksumAlgorithm="SHA256",
    )
    s3.put_bucket_policy(
        Bucket="models",
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::models/*",
            }
        ),
    )
    kms = moto.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    s3.put_bucket_encryption(
        Bucket="models",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    }
                }
            ]
        },
    )
    iam = moto.client("iam")
    iam.create_user(UserName="alice")
    iam.put_user_policy(
        UserName="alice",
        PolicyName="p",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    )
    moto.client("cloudtrail").create_trail(Name="main", S3BucketName="models")
    for account in (ACCOUNT, OTHER):
        moto.client("iam", account=account).create_role(
            RoleName="audit",
            AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        )
    return moto


def _pruned(value):
    """moto creates empty backends lazily (ELB when EC2 is first described, ...): an empty
    container is no state, so it does not count as a change."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _diff(a, b, path=""):
    if not path:
        a, b = _pruned(a), _pruned(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}/{k}")
        ]
    return [] if a == b else [path]


def test_a_scan_changes_nothing(estate):
    # moto creates backends lazily on the first request of an account, service and region,
    # reads included (IAM account summaries, CloudTrail, S3 Control...): one scan first, so
    # the comparison is between two states that differ only by what a scan would write.
    # Without `regions=`: region validation reads EC2, whose backend moto fills with ~6 MB of
    # images per region on first touch (slow to dump, and no different in kind).
    arns = f"arn:aws:iam::{ACCOUNT}:role/audit+arn:aws:iam::{OTHER}:role/audit"
    scan(estate, f"aws:role_arn={arns}")
    before = estate.state()
    scan(estate)
    assert _diff(before, estate.state()) == []
    # sts:AssumeRole issues credentials, which moto records (and marks the role as used);
    # nothing else may differ.
    scan(estate, f"aws:role_arn={arns}")
    changed = set(_diff(before, estate.state()))
    assert "/sts/AssumedRole" in changed
    assert changed <= {"/iam/AccessKey", "/iam/Role", "/sts/AssumedRole"}


def test_only_read_operations_can_be_called():
    from scanner.sources.aws.context import AwsContext

    ctx = AwsContext(session=None, account=ACCOUNT)
    for method in ("put_object", "delete_bucket", "create_trail", "assume_role", "copy_object"):
        with pytest.raises(ValueError, match="is not a read-only operation"):
            ctx.call("s3", None, method)
        with pytest.raises(ValueError, match="is not a read-only operation"):
            ctx.pages("s3", None, method, "x")
