"""Every resource of one `aws:` source carries that source's configured name, whichever
collector built it (S3, IAM, SageMaker, API Gateway, EC2, GuardDuty)."""

from __future__ import annotations

import pytest

from scanner.sources.aws.source import AwsSource
from scanner.sources.registry import parse_spec
from tests.aws_estate import aws_env, safetensors, trust
from tests.integration.aws_services.estate import Estate
from tests.servers.moto import MotoServer

pytestmark = pytest.mark.slow


def test_every_resource_carries_the_configured_source_name(moto: MotoServer, estate: Estate):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="named-source-models")
    s3.put_object(Bucket="named-source-models", Key="m/model.safetensors", Body=safetensors())
    moto.client("iam").create_role(
        RoleName="named-source-reader",
        AssumeRolePolicyDocument=trust({"Service": "sagemaker.amazonaws.com"}),
    )
    with aws_env(moto, MOTO_EC2_LOAD_DEFAULT_AMIS="false"):
        source = AwsSource(parse_spec("aws:", name="prod-account"))
        collection = source.collect(lambda _message: None)
    by_type: dict[str, set[str]] = {}
    for resource in collection.resources:
        by_type.setdefault(resource.type, set()).add(resource.source)
    # The kinds each collector builds are all there, so the check below covers every one.
    assert {
        "artefact",
        "storage",
        "principal",
        "model",
        "model_version",
        "endpoint",
        "network",
        "threat_detection",
    } <= by_type.keys()
    assert {t: names for t, names in by_type.items() if names != {"prod-account"}} == {}
