"""docs/iam-policy.json is enough, and less is Unknown naming the action, never a crash.

moto enforces IAM on every request once `/moto-api/reset-auth` is set to 0, which is global
to the server: this module runs its own server. moto differences, tested around honestly:
its S3 authorisation maps some sub-resources to other actions (GET ?encryption, ?object-lock
and ?publicAccessBlock are checked as s3:ListBucket, so denying s3:GetEncryptionConfiguration
alone has no effect there); it checks the account public-access block (S3 Control) as
`s3:GetPublicAccessBlock`, an action name AWS does not have (AWS: s3:GetAccountPublicAccessBlock),
so every scanner identity here also gets that moto-only name; and a TLS-only bucket policy is
enforced against the emulator's plain-HTTP requests, so the bucket whose objects are read
carries none.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.aws_estate import attrs, policy, safetensors, scan, trust
from tests.helpers import REPO
from tests.servers.moto import moto_server

pytestmark = pytest.mark.slow

POLICY = json.loads((REPO / "docs" / "iam-policy.json").read_text())
ACTIONS = {
    a
    for st in POLICY["Statement"]
    for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
}


MOTO_ONLY = {
    "Sid": "MotoAccountPab",
    "Effect": "Allow",
    "Action": "s3:GetPublicAccessBlock",
    "Resource": "*",
}


def _user(iam, name: str, document: dict) -> dict[str, str]:
    document = {**document, "Statement": [*document["Statement"], MOTO_ONLY]}
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="scanner", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def _without(*actions: str) -> dict:
    doc = json.loads(json.dumps(POLICY))
    for st in doc["Statement"]:
        if isinstance(st["Action"], list):
            st["Action"] = [a for a in st["Action"] if a not in actions]
    doc["Statement"] = [st for st in doc["Statement"] if st["Action"]]
    return doc


@pytest.fixture(scope="module")
def enforced():
    with moto_server() as server:
        s3 = server.client("s3")
        iam = server.client("iam")
        kms = server.client("kms")
        ct = server.client("cloudtrail")
        s3.create_bucket(Bucket="models")
        s3.put_object(
            Bucket="models",
            Key="fraud/model.safetensors",
            Body=safetensors(),
            ChecksumAlgorithm="SHA256",
        )
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
        s3.create_bucket(Bucket="hardened")
        s3.put_bucket_policy(
            Bucket="hardened",
            Policy=policy(
                {
                    "Sid": "Tls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::hardened/*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ),
        )
        iam.create_role(
            RoleName="breakglass",
            AssumeRolePolicyDocument=trust(
                {"AWS": "arn:aws:iam::123456789012:root"},
                Bool={"aws:MultiFactorAuthPresent": "true"},
            ),
            MaxSessionDuration=3600,
        )
        ct.create_trail(Name="main", S3BucketName="models")
        ct.start_logging(Name="main")
        users = {
            "full": _user(iam, "scanner", POLICY),
            "no-policy": _user(iam, "no-policy", _without("s3:GetBucketPolicy")),
            "no-iam": _user(
                iam, "no-iam", _without("iam:GetAccountAuthorizationDetails", "iam:ListRoles")
            ),
            "no-trails": _user(iam, "no-trails", _without("cloudtrail:DescribeTrails")),
            "no-kms-trail": _user(
                iam, "no-kms-trail", _without("kms:DescribeKey", "cloudtrail:GetEventSelectors")
            ),
        }
        request = urllib.request.Request(
            f"{server.url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        yield server, users


def _scan(enforced, who: str):
    server, users = enforced
    return scan(server, **users[who])


def _unknowns(value, found=None):
    found = [] if found is None else found
    if isinstance(value, dict):
        if set(value) == {"$unknown"}:
            found.append(value["$unknown"])
        for v in value.values():
            _unknowns(v, found)
    elif isinstance(value, list):
        for v in value:
            _unknowns(v, found)
    return found


# moto's IAM enforcement refuses every API Gateway and GuardDuty request whatever the policy
# says (and answers sagemaker:ListTags with a server error): those services' permissions are
# checked against the documented policy's action list below, not by the emulator.
MOTO_CANNOT_AUTHORISE = ("apigateway", "guardduty", "sagemaker:ListTags")


def _authorisable(line: str) -> bool:
    return not any(service in line for service in MOTO_CANNOT_AUTHORISE)


def test_the_documented_policy_is_enough(enforced):
    resources, problems, source = _scan(enforced, "full")
    assert [p for p in problems if _authorisable(p)] == []
    denied = [
        u
        for r in resources.values()
        for u in _unknowns(attrs(r))
        if "denied" in u and _authorisable(u)
    ]
    assert denied == []
    models = attrs(resources["s3://models"])
    assert models["encryption"]["customer_managed_key"] is True
    assert models["access_logging"]["read_events"] is False
    assert attrs(resources["s3://hardened"])["tls_only"] is True
    assert attrs(resources["arn:aws:iam::123456789012:role/breakglass"])["just_in_time"] is True
    # Every action the scan used is in the policy.
    assert set(source.calls) <= ACTIONS


def test_the_policy_lists_exact_actions():
    wildcards = {a for a in ACTIONS if "*" in a}
    assert wildcards == set()  # apigateway:GET is AWS's own (only) read action there
    assert all(st["Effect"] == "Allow" for st in POLICY["Statement"])


def test_without_get_bucket_policy(enforced):
    resources, problems, _ = _scan(enforced, "no-policy")
    models = attrs(resources["s3://models"])
    reason = {"$unknown": "denied: s3:GetBucketPolicy"}
    assert models["tls_only"] == reason
    assert models["readers"] == {
        "$unknown": "bucket policy unreadable (denied: s3:GetBucketPolicy)"
    }
    assert models["public"] == reason
    assert models["versioning"] is False  # everything else is still read
    assert "account 123456789012: denied: s3:GetBucketPolicy (2 calls)" in problems
    # Every principal might be named by an unreadable policy: their reads are unknown too.
    role = attrs(resources["arn:aws:iam::123456789012:role/breakglass"])
    assert "denied: s3:GetBucketPolicy" in role["can_read"]["$unknown"]


def test_without_iam(enforced):
    resources, problems, _ = _scan(enforced, "no-iam")
    assert not any(r.type == "principal" and r.id.startswith("arn:") for r in resources.values())
    models = attrs(resources["s3://models"])
    assert models["readers"] == {
        "$unknown": "IAM principals unreadable (denied: iam:GetAccountAuthorizationDetails)"
    }
    assert any("IAM unreadable (denied: iam:GetAccountAuthorizationDetails)" in p for p in problems)


def test_without_kms_and_event_selectors(enforced):
    resources, problems, _ = _scan(enforced, "no-kms-trail")
    assert "account 123456789012: denied: kms:DescribeKey (1 call)" in problems
    models = attrs(resources["s3://models"])
    assert models["encryption"]["customer_managed_key"] == {"$unknown": "denied: kms:DescribeKey"}
    assert models["access_logging"]["read_events"] == {
        "$unknown": "denied: cloudtrail:GetEventSelectors"
    }
    trail = attrs(resources["arn:aws:cloudtrail:us-east-1:123456789012:trail/main"])
    assert trail["read_events_on"] == {"$unknown": "denied: cloudtrail:GetEventSelectors"}
    assert trail["enabled"] is True


def test_without_describe_trails(enforced):
    resources, problems, _ = _scan(enforced, "no-trails")
    models = attrs(resources["s3://models"])
    assert models["access_logging"]["read_events"] == {
        "$unknown": "denied: cloudtrail:DescribeTrails"
    }
    assert not any(r.type == "audit_trail" for r in resources.values())
    assert "account 123456789012: denied: cloudtrail:DescribeTrails (1 call)" in problems
