"""The aws: source as a whole: credentials, endpoint, regions, accounts, collectors, read-only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scanner.errors import UsageError
from scanner.inventory import Resource
from scanner.sources.aws import guardduty, sagemaker
from scanner.sources.aws.collected import AwsCollected
from scanner.sources.interface import SourceError
from tests.aws_estate import ACCOUNT, OTHER, attrs, aws_env, policy, safetensors, scan, trust
from tests.servers.moto import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def estate(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="fraud/model.safetensors", Body=safetensors())
    s3.create_bucket(
        Bucket="eu-models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="eu-models", Key="m/model.safetensors", Body=safetensors())
    # a second account: an audit role to assume, a bucket, and a role reading this account's
    for account in (ACCOUNT, OTHER):
        moto.client("iam", account=account).create_role(
            RoleName="audit",
            AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        )
    other_iam = moto.client("iam", account=OTHER)
    other_iam.create_role(
        RoleName="trainer", AssumeRolePolicyDocument=trust({"Service": "sagemaker.amazonaws.com"})
    )
    moto.client("s3", account=OTHER).create_bucket(Bucket="other-models")
    s3.put_bucket_policy(
        Bucket="models",
        Policy=policy(
            {
                "Sid": "Trainer",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/trainer"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::models/*",
            }
        ),
    )
    return moto


def test_all_buckets_by_default_and_only_the_chosen_regions_when_given(estate):
    resources, problems, _ = scan(estate)
    assert problems == []
    assert attrs(resources["s3://eu-models"])["region"] == "eu-west-1"
    resources, problems, _ = scan(estate, "aws:regions=eu-west-1")
    assert "s3://eu-models" in resources and "s3://models" not in resources


def test_disabled_and_unknown_regions_are_problems_not_failures(estate):
    resources, problems, _ = scan(estate, "aws:regions=us-east-1+ap-east-1+xx-fake-1")
    assert f"account {ACCOUNT}: region ap-east-1 is not enabled; skipped" in problems
    assert f"account {ACCOUNT}: region xx-fake-1 is not an AWS region here" in problems
    assert "s3://models" in resources


def test_several_accounts_through_role_arns(estate):
    arns = f"arn:aws:iam::{ACCOUNT}:role/audit+arn:aws:iam::{OTHER}:role/audit"
    resources, problems, _ = scan(estate, f"aws:role_arn={arns}")
    assert problems == []
    assert attrs(resources["s3://other-models"])["account"] == OTHER
    assert attrs(resources["s3://models"])["account"] == ACCOUNT
    trainer = attrs(resources[f"arn:aws:iam::{OTHER}:role/trainer"])
    assert trainer["kind"] == "service"  # the real principal, not an external stub
    (g,) = trainer["grants"]
    assert g["storage"] == {"$ref": "s3://models"} and g["cross_account"] is True
    # Scanning one account only, the same principal is an external one.
    resources, _, _ = scan(estate)
    assert attrs(resources[f"arn:aws:iam::{OTHER}:role/trainer"])["kind"] == "external"


def test_missing_credentials_are_a_usage_error(estate):
    with aws_env(estate), pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ACCESS_KEY_ID")
        mp.delenv("AWS_SECRET_ACCESS_KEY")
        from scanner.sources.aws.source import AwsSource
        from scanner.sources.registry import parse_spec

        with pytest.raises(UsageError, match="no AWS credentials found"):
            AwsSource(parse_spec("aws:")).collect(lambda _m: None)


def test_unknown_profile_is_a_usage_error(estate):
    with pytest.raises(UsageError, match="could not be found"):
        scan(estate, "aws:profile=nonesuch")


def test_unreachable_endpoint_is_a_source_error(estate):
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceError, match="cannot reach the AWS endpoint"):
        scan(estate, AWS_ENDPOINT_URL=dead)


def test_the_endpoint_comes_from_boto3s_own_environment_handling(estate):
    # A service-specific variable wins over AWS_ENDPOINT_URL in boto3 itself: pointing only
    # IAM at a dead port leaves S3 readable and makes IAM a recorded failure.
    dead = f"http://127.0.0.1:{free_port()}"
    resources, problems, _ = scan(estate, AWS_ENDPOINT_URL_IAM=dead, AWS_MAX_ATTEMPTS="1")
    assert "s3://models" in resources
    assert any(
        "IAM unreadable (cannot reach iam:GetAccountAuthorizationDetails (cannot connect))" in p
        for p in problems
    ), problems


def test_regional_collectors_are_merged_and_a_crash_is_a_problem(estate, monkeypatch):
    def good(ctx, region, source):
        r = Resource(
            f"aws-test://{ctx.account}/{region}", "network", "n", "aws:", {"account": ctx.account}
        )
        return AwsCollected(resources=(r,), problems=(f"note from {region}",))

    def bad(ctx, region, source):
        raise RuntimeError("boom")

    monkeypatch.setattr(sagemaker, "collect", good)
    monkeypatch.setattr(guardduty, "collect", bad)
    resources, problems, _ = scan(estate)
    assert f"aws-test://{ACCOUNT}/us-east-1" in resources
    assert "note from us-east-1" in problems
    assert any(
        "guardduty collector in us-east-1: internal error: RuntimeError: boom" in p
        for p in problems
    )


@pytest.mark.parametrize("missing", ["sagemaker", "apigateway", "ec2", "guardduty"])
def test_a_collector_that_cannot_be_imported_stops_the_source(missing):
    # Fail closed: without one of its collectors the source must not load and scan less.
    code = (
        "import sys\n"
        f"sys.modules['scanner.sources.aws.{missing}'] = None\n"
        "from scanner.sources.registry import build_source, parse_spec\n"
        "build_source(parse_spec('aws:'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert f"scanner.sources.aws.{missing}" in done.stderr
