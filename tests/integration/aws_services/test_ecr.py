"""ECR repositories on the moto server: policy, tag immutability, scanning, KMS, lifecycle."""

from __future__ import annotations

import json

import pytest

from scanner.inventory import Ref
from scanner.sources.aws import ecr
from scanner.sources.aws.context import AwsContext
from tests.integration.aws_services.estate import ACCOUNT, SOURCE, Estate
from tests.servers.moto import MotoServer

pytestmark = pytest.mark.slow
REGION = "eu-central-1"  # a region the other collectors' tests do not read
FOREIGN = "210987654321"


def _pull(principal: object, condition: dict[str, object] | None = None) -> str:
    statement: dict[str, object] = {
        "Sid": "pull",
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def repositories(moto: MotoServer, estate: Estate) -> dict[str, str]:
    client = moto.client("ecr", REGION)
    kms = moto.client("kms", REGION)
    key = kms.create_key(Description="ecr")["KeyMetadata"]["Arn"]
    client.create_repository(
        repositoryName="serving/locked",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key},
    )
    client.put_lifecycle_policy(
        repositoryName="serving/locked",
        lifecyclePolicyText=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {
                            "tagStatus": "untagged",
                            "countType": "imageCountMoreThan",
                            "countNumber": 5,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
    )
    client.create_repository(repositoryName="serving/open")
    client.set_repository_policy(repositoryName="serving/open", policyText=_pull("*"))
    client.create_repository(repositoryName="serving/partner")
    client.set_repository_policy(
        repositoryName="serving/partner", policyText=_pull({"AWS": f"arn:aws:iam::{FOREIGN}:root"})
    )
    client.create_repository(repositoryName="serving/org")
    client.set_repository_policy(
        repositoryName="serving/org",
        policyText=_pull("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
    )
    return {"key": key}


def _by_name(ctx: AwsContext) -> dict[str, object]:
    got = ecr.collect(ctx, REGION, SOURCE)
    assert got.problems == ()
    return {r.name: r for r in got.resources}


def test_repository_settings(ctx: AwsContext, repositories: dict[str, str]) -> None:
    repos = _by_name(ctx)
    locked = repos["serving/locked"]
    assert locked.id == f"oci://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/serving/locked"  # type: ignore[attr-defined]
    attrs = locked.attributes  # type: ignore[attr-defined]
    assert attrs["tag_immutability"] is True and attrs["scan_on_push"] is True
    assert attrs["encryption"]["algorithm"] == "kms"
    assert attrs["encryption"]["kms_key"] == repositories["key"]
    assert attrs["encryption"]["customer_managed_key"] is True
    assert attrs["lifecycle_policy"] is True and attrs["public"] is False
    assert attrs["readers"] == [] and attrs["tls_only"] is True
    open_ = repos["serving/open"].attributes  # type: ignore[attr-defined]
    assert open_["tag_immutability"] is False and open_["scan_on_push"] is False
    assert open_["encryption"]["algorithm"] == "aes256" and open_["lifecycle_policy"] is False


def test_repository_policy_public_and_cross_account(
    ctx: AwsContext, repositories: dict[str, str]
) -> None:
    repos = _by_name(ctx)
    open_ = repos["serving/open"].attributes  # type: ignore[attr-defined]
    assert open_["public"] is True and open_["readers"] == [Ref("*")]
    assert "lets anyone pull" in open_["public_reasons"][0]
    partner = repos["serving/partner"].attributes  # type: ignore[attr-defined]
    assert partner["public"] is False
    assert partner["readers"] == [Ref(f"arn:aws:iam::{FOREIGN}:root")]
    (grant,) = partner["access_grants"]
    assert grant["cross_account"] is True and grant["restricted_by"] == []
    org = repos["serving/org"].attributes  # type: ignore[attr-defined]
    assert org["public"] is False  # limited to the organisation
    assert org["access_grants"][0]["restricted_by"] == ["org"]
