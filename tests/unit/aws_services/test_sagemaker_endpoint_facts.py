"""Endpoint attributes that depend on every model it runs, on real-shaped answers (moto drops
EnableNetworkIsolation, so the true path is exercised here)."""

from __future__ import annotations

from typing import Any

from scanner.inventory import Ref, Unknown
from scanner.sources.aws.sagemaker import model_facts
from scanner.sources.aws.sagemaker_endpoints import EndpointFacts

REGION, ACCOUNT = "us-east-1", "123456789012"
NET_A = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-a"
NET_B = f"arn:aws:ec2:{REGION}:444455556666:vpc/vpc-b"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/fraud/3"


def facts(*models: str, shadow: tuple[str, ...] = ()) -> EndpointFacts:
    return EndpointFacts(
        name="e",
        arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/e",
        status="InService",
        description={"EndpointConfigName": "c"},
        config={
            "ProductionVariants": [{"VariantName": m, "ModelName": m} for m in models],
            "ShadowProductionVariants": [{"VariantName": m, "ModelName": m} for m in shadow],
        },
    )


def model(isolated: bool, *subnets: str, **container: Any) -> dict[str, Any]:
    return {
        "EnableNetworkIsolation": isolated,
        "VpcConfig": {"Subnets": list(subnets), "SecurityGroupIds": ["sg-1"]} if subnets else {},
        "PrimaryContainer": container or {"ModelDataUrl": "s3://b/m/model.tar.gz"},
    }


SUBNETS = {"subnet-1": NET_A, "subnet-2": NET_B}


def test_isolated_models_in_vpcs_from_packages_and_shadow_variants() -> None:
    models = {
        "live": model(True, "subnet-1", ModelPackageName=PACKAGE),
        "shadow": model(True, "subnet-2"),
    }
    spec = {"Containers": [{"ModelDataUrl": "s3://b/fraud/3/model.tar.gz"}]}
    packages = {PACKAGE: {"InferenceSpecification": spec}}
    out = model_facts(facts("live", shadow=("shadow",)), models, packages, SUBNETS, REGION, ACCOUNT)
    assert out["network_isolation"] is True
    assert out["in_private_network"] is True
    assert out["vpcs"] == [Ref(NET_A), Ref(NET_B)]  # sorted ids; a shared VPC keeps its owner
    assert out["vpc"] == Ref(NET_A)
    assert out["model_versions"] == [Ref(PACKAGE)]
    assert out["artefacts"] == [Ref("s3://b/m"), Ref("s3://b/fraud/3")]


def test_one_model_without_isolation_or_vpc_decides() -> None:
    models = {"a": model(True, "subnet-1"), "b": model(False)}
    out = model_facts(facts("a", "b"), models, {}, SUBNETS, REGION, ACCOUNT)
    assert out["network_isolation"] is False
    assert out["in_private_network"] is False
    assert out["vpcs"] == [Ref(NET_A)]


def test_unreadable_parts_make_the_dependent_attributes_unknown() -> None:
    denied = Unknown("denied: sagemaker:DescribeModel")
    out = model_facts(facts("a"), {"a": denied}, {}, SUBNETS, REGION, ACCOUNT)
    assert out == dict.fromkeys(
        (
            "network_isolation",
            "in_private_network",
            "vpcs",
            "model_versions",
            "artefacts",
            "images",
        ),
        denied,
    )
    no_subnets = Unknown("denied: ec2:DescribeSubnets")
    out = model_facts(facts("a"), {"a": model(True, "subnet-1")}, {}, no_subnets, REGION, ACCOUNT)
    assert out["vpcs"] is no_subnets and out["vpc"] is no_subnets
    assert out["in_private_network"] is True
    gone = model_facts(facts("a"), {"a": model(True, "subnet-9")}, {}, SUBNETS, REGION, ACCOUNT)
    assert "subnet-9 not found" in gone["vpcs"].reason
    unread = model_facts(
        facts("a"), {"a": model(True, ModelPackageName=PACKAGE)}, {}, SUBNETS, REGION, ACCOUNT
    )
    assert unread["model_versions"] == [Ref(PACKAGE)]
    assert isinstance(unread["artefacts"], Unknown)
    empty = model_facts(facts(), {}, {}, SUBNETS, REGION, ACCOUNT)
    assert all(isinstance(v, Unknown) for v in empty.values())
