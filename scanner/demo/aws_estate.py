"""The demo's AWS account, seeded through the real APIs of the moto server.

A mix an assessor meets in practice: the bucket of the MLflow release experiment (private,
CMK, versioned, logged, readable by the scanner, so the signatures on the production models
are verified where they live; not TLS-only, because the emulator speaks plain HTTP and would
deny the scanner too, so MW-STO-06 flags it), one artefact bucket locked to TLS and a VPC
endpoint (the scanner, outside it, is denied its objects: the fail-closed case) and its twin
mistakes
(a public share, an unconditioned partner grant), a human user with `s3:*`, a break-glass
role, a trail that logs reads on one bucket only, three SageMaker endpoints (one behind an
authenticated, rate-limited gateway, one behind an open one, one still serving an archived
model), a VPC with flow logs and one without, and GuardDuty without S3 protection.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTNER_ACCOUNT = "444455556666"

ARTIFACTS = "acme-ml-artifacts"
REGISTRY = "acme-ml-registry"
PUBLIC_SHARE = "acme-models-public-share"
PARTNER = "acme-partner-exchange"
TRAINING = "acme-training-data"
ACCESS_LOGS = "acme-s3-access-logs"
TRAIL_LOGS = "acme-cloudtrail-logs"
VPCE = "vpce-0a1b2c3d4e5f60718"


@dataclass(frozen=True)
class AwsEstate:
    artifact_root: str  # where MLflow writes run artifacts by default (the locked bucket)
    release_root: str  # where the release experiment writes them (the registry bucket)
    sagemaker_role: str
    vpc_serving: str
    vpc_legacy: str
    subnets: tuple[str, ...]


def policy(*statements: dict[str, Any]) -> str:
    """An IAM policy document (JSON) of `statements`."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: dict[str, Any] | str, **condition: Any) -> str:
    """A role's trust policy (JSON): `principal` may assume it, under `condition` if any."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return policy(statement)


def _tls_only(bucket: str) -> dict[str, Any]:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def seed_s3(client: Any, kms: Any) -> None:
    for bucket in (ARTIFACTS, REGISTRY, PUBLIC_SHARE, PARTNER, TRAINING, ACCESS_LOGS, TRAIL_LOGS):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_policy(
        Bucket=ACCESS_LOGS,
        Policy=policy(
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{ACCESS_LOGS}/*",
            }
        ),
    )
    key = kms.create_key(Description="ML artefacts", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    # The well-kept buckets: private, CMK, versioned, logged (and, for the artefact bucket,
    # TLS and VPC endpoint only: see lock_down_artifacts).
    for bucket in (ARTIFACTS, REGISTRY):
        _well_kept(client, bucket, key["Arn"])
    # A "temporary" public share that stayed: anyone can read the model copied there.
    client.put_bucket_policy(
        Bucket=PUBLIC_SHARE,
        Policy=policy(
            {
                "Sid": "ShareWithVendor",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{PUBLIC_SHARE}/*",
            }
        ),
    )
    # A partner account may read everything, with no organisation or network condition.
    client.put_bucket_policy(
        Bucket=PARTNER,
        Policy=policy(
            {
                "Sid": "PartnerRead",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{PARTNER}", f"arn:aws:s3:::{PARTNER}/*"],
            }
        ),
    )
    client.put_bucket_encryption(
        Bucket=PARTNER,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def _well_kept(client: Any, bucket: str, key_arn: str) -> None:
    client.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    client.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": ACCESS_LOGS, "TargetPrefix": f"{bucket}/"}
        },
    )


def lock_down_artifacts(client: Any) -> None:
    """Applied last: the emulator enforces bucket policies on the seeding requests too."""
    client.put_bucket_policy(
        Bucket=ARTIFACTS,
        Policy=policy(
            _tls_only(ARTIFACTS),
            {
                "Sid": "OnlyThroughVpce",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{ARTIFACTS}/*",
                "Condition": {"StringNotEquals": {"aws:SourceVpce": VPCE}},
            },
        ),
    )


def upload_model_files(client: Any, bucket: str, prefix: str, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=body)


def model_tarball(files: dict[str, bytes]) -> bytes:
    """SageMaker's model.tar.gz layout."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def seed_iam(iam: Any) -> str:
    def role(name: str, trusted: str, allowed: dict[str, Any], **extra: Any) -> str:
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trusted, **extra)[
            "Role"
        ]["Arn"]
        iam.put_role_policy(
            RoleName=name, PolicyName=f"{name}-access", PolicyDocument=policy(allowed)
        )
        return arn

    read_artifacts = {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{ARTIFACTS}/*", f"arn:aws:s3:::{REGISTRY}/*"],
    }
    serving = role(
        "sagemaker-serving",
        trust({"Service": "sagemaker.amazonaws.com"}),
        read_artifacts,
    )
    role(
        "ml-breakglass",
        trust(
            {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            Bool={"aws:MultiFactorAuthPresent": "true"},
        ),
        read_artifacts,
        MaxSessionDuration=3600,
        Tags=[{"Key": "modelward:jit", "Value": "true"}],
    )
    # A long-lived human user with s3:* on everything: the classic finding.
    iam.create_user(UserName="alice")
    iam.put_user_policy(
        UserName="alice",
        PolicyName="legacy-admin-s3",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    )
    # Data scientists read the artefact bucket through their group.
    iam.create_group(GroupName="data-scientists")
    managed = iam.create_policy(
        PolicyName="read-ml-artifacts", PolicyDocument=policy(read_artifacts)
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="data-scientists", PolicyArn=managed)
    for user in ("bob", "carol"):
        iam.create_user(UserName=user)
        iam.add_user_to_group(GroupName="data-scientists", UserName=user)
    return serving


def seed_cloudtrail(cloudtrail: Any, s3: Any) -> None:
    s3.put_bucket_policy(
        Bucket=TRAIL_LOGS,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{TRAIL_LOGS}", f"arn:aws:s3:::{TRAIL_LOGS}/*"],
            }
        ),
    )
    cloudtrail.create_trail(
        Name="org-trail",
        S3BucketName=TRAIL_LOGS,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
    )
    cloudtrail.start_logging(Name="org-trail")
    cloudtrail.put_event_selectors(
        TrailName="org-trail",
        AdvancedEventSelectors=[
            {
                "Name": "Reads of the artefact bucket",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                    {
                        "Field": "resources.ARN",
                        "StartsWith": [f"arn:aws:s3:::{ARTIFACTS}/", f"arn:aws:s3:::{REGISTRY}/"],
                    },
                ],
            }
        ],
    )


def seed_network(ec2: Any) -> tuple[str, str, tuple[str, ...]]:
    serving = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    legacy = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        for vpc, cidr in ((serving, "10.20.1.0/24"), (legacy, "10.30.1.0/24"))
    )
    ec2.create_flow_logs(
        ResourceIds=[serving],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{ACCESS_LOGS}/flow-logs/",
    )
    return serving, legacy, subnets


def seed_guardduty(guardduty: Any) -> None:
    guardduty.create_detector(
        Enable=True,
        DataSources={"S3Logs": {"Enable": False}},
        FindingPublishingFrequency="SIX_HOURS",
    )


def seed_aws(server: Any) -> AwsEstate:
    s3 = server.client("s3", REGION)
    seed_s3(s3, server.client("kms", REGION))
    serving_role = seed_iam(server.client("iam", REGION))
    seed_cloudtrail(server.client("cloudtrail", REGION), s3)
    vpc_serving, vpc_legacy, subnets = seed_network(server.client("ec2", REGION))
    seed_guardduty(server.client("guardduty", REGION))
    return AwsEstate(
        artifact_root=f"s3://{ARTIFACTS}/mlflow",
        release_root=f"s3://{REGISTRY}/mlflow",
        sagemaker_role=serving_role,
        vpc_serving=vpc_serving,
        vpc_legacy=vpc_legacy,
        subnets=subnets,
    )
