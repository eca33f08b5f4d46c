"""The emulated estate the SageMaker / API Gateway / VPC / GuardDuty tests read.

Every misconfiguration sits next to its fixed twin, seeded through the real AWS APIs:

- fraud-prod: REST API with a usage plan (throttle, quota 7000/week), API key, Cognito
  authorizer, stage throttle and access logs; data capture of inputs; in VPC ml-vpc; KMS.
- churn-public: REST API without plan, key, authorizer, throttle or logs; no capture; public.
- vision-secure / vision-open: one HTTP API, a route with a JWT authorizer and one without;
  stage throttle and access logs.
- raw-direct: no gateway (SageMaker runtime only, SigV4); captures outputs only.
- VPCs: ml-vpc (flow log ALL), reject-vpc (REJECT only), bare-vpc (none), the default VPC.
- us-west-2: an endpoint whose model was deleted after deployment (still serving, its settings
  unreadable), fronted by a REST API that names it through a stage variable.
- GuardDuty: us-east-1 on with S3 protection, eu-west-1 on without, ap-southeast-2 off,
  us-west-2 no detector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.servers.moto import MotoServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
WEST = "us-west-2"
# The configured name of the `aws:` source the collectors build resources for.
SOURCE = "aws-test"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/inference:1"
FRAUD_SHA256 = "ab" * 32


def runtime_uri(endpoint: str, region: str = REGION) -> str:
    return f"arn:aws:apigateway:{region}:runtime.sagemaker:path//endpoints/{endpoint}/invocations"


def runtime_url(endpoint: str, region: str = REGION) -> str:
    return f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{endpoint}/invocations"


@dataclass(frozen=True)
class Estate:
    ml_vpc: str
    bare_vpc: str
    reject_vpc: str
    fraud_group: str
    churn_group: str
    packages: dict[str, str]  # "fraud/1" → ARN
    endpoints: dict[str, str]  # name → ARN
    rest_fraud_api: str
    rest_churn_api: str
    http_api: str


def _spec(url: str, etag: str | None = None) -> dict:
    container = {"Image": IMAGE, "ModelDataUrl": url}
    if etag:
        container["ModelDataETag"] = etag
    return {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def seed(server: MotoServer) -> Estate:
    ec2 = server.client("ec2", REGION)
    s3 = server.client("s3", REGION)
    s3.create_bucket(Bucket="flowlogs")
    ml_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[ml_vpc], Tags=[{"Key": "Name", "Value": "ml-vpc"}])
    bare_vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    reject_vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    for vpc, traffic in ((ml_vpc, "ALL"), (reject_vpc, "REJECT")):
        ec2.create_flow_logs(
            ResourceIds=[vpc],
            ResourceType="VPC",
            TrafficType=traffic,
            LogDestinationType="s3",
            LogDestination="arn:aws:s3:::flowlogs",
        )
    subnet = ec2.create_subnet(VpcId=ml_vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="inference", Description="x", VpcId=ml_vpc)

    sm = server.client("sagemaker", REGION)
    fraud_group = sm.create_model_package_group(
        ModelPackageGroupName="fraud",
        ModelPackageGroupDescription="card fraud scoring",
        Tags=[
            {"Key": "owner", "Value": "team-risk"},
            {"Key": "classification", "Value": "Confidential"},
        ],
    )["ModelPackageGroupArn"]
    churn_group = sm.create_model_package_group(ModelPackageGroupName="churn")[
        "ModelPackageGroupArn"
    ]
    packages = {}
    packages["fraud/1"] = sm.create_model_package(
        ModelPackageGroupName="fraud",
        InferenceSpecification=_spec("s3://models/fraud/1/model.tar.gz", etag='"etag-fraud-1"'),
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={
            "owner": "alice",
            "classification": "Restricted",
            "ip_value": "High",
            "authorized_deployments": "fraud-prod, fraud-shadow",
            "sha256": FRAUD_SHA256,
        },
        MetadataProperties={
            "CommitId": "4f2a9c1",
            "Repository": "https://git.example.com/risk/fraud.git",
            "GeneratedBy": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-train",
        },
    )["ModelPackageArn"]
    packages["fraud/2"] = sm.create_model_package(
        ModelPackageGroupName="fraud",
        InferenceSpecification=_spec("s3://models/fraud/2/model.tar.gz"),
        ModelApprovalStatus="Rejected",
    )["ModelPackageArn"]
    packages["fraud/3"] = sm.create_model_package(
        ModelPackageGroupName="fraud",
        InferenceSpecification=_spec("s3://models/fraud/3/model.tar.gz"),
        ModelApprovalStatus="PendingManualApproval",
    )["ModelPackageArn"]
    packages["fraud/4"] = sm.create_model_package(
        ModelPackageGroupName="fraud",
        InferenceSpecification=_spec("s3://models/fraud/4/model.tar.gz", etag='"etag-fraud-4"'),
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"owner": "carol"},
    )["ModelPackageArn"]
    packages["churn/1"] = sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification=_spec("s3://models/churn/model.tar.gz"),
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={
            "owner": "bob",
            "retired": "true",
            "watermark": "radioactive-v2",
            "output_mode": "Scores",
        },
    )["ModelPackageArn"]

    sm.create_model(
        ModelName="fraud-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"ModelPackageName": packages["fraud/1"]},
        VpcConfig={"SecurityGroupIds": [group["GroupId"]], "Subnets": [subnet]},
        EnableNetworkIsolation=True,  # moto drops it: describe_model says false
    )
    sm.create_model(
        ModelName="churn-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"ModelPackageName": packages["churn/1"]},
    )
    sm.create_model(
        ModelName="raw-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models/raw/model.tar.gz"},
    )
    variant = {"VariantName": "main", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(
        EndpointConfigName="fraud-config",
        ProductionVariants=[{**variant, "ModelName": "fraud-model"}],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://capture/fraud",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
        KmsKeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    sm.create_endpoint_config(
        EndpointConfigName="churn-config",
        ProductionVariants=[{**variant, "ModelName": "churn-model"}],
    )
    sm.create_endpoint_config(
        EndpointConfigName="raw-config",
        ProductionVariants=[{**variant, "ModelName": "raw-model"}],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://capture/raw",
            "CaptureOptions": [{"CaptureMode": "Output"}],
        },
    )
    endpoints = {}
    for name, config, tags in (
        (
            "fraud-prod",
            "fraud-config",
            [
                {"Key": "output_mode", "Value": "Label"},
                {"Key": "exposure", "Value": "decision-api"},
            ],
        ),
        ("churn-public", "churn-config", [{"Key": "output_mode", "Value": "scores"}]),
        ("vision-secure", "raw-config", []),
        ("vision-open", "raw-config", []),
        ("raw-direct", "raw-config", []),
    ):
        kwargs = {"Tags": tags} if tags else {}
        endpoints[name] = sm.create_endpoint(
            EndpointName=name, EndpointConfigName=config, **kwargs
        )["EndpointArn"]

    rest_fraud_api, rest_churn_api = _rest_apis(server)
    http_api = _http_api(server)
    _guardduty(server)
    _west(server)
    return Estate(
        ml_vpc=ml_vpc,
        bare_vpc=bare_vpc,
        reject_vpc=reject_vpc,
        fraud_group=fraud_group,
        churn_group=churn_group,
        packages=packages,
        endpoints=endpoints,
        rest_fraud_api=rest_fraud_api,
        rest_churn_api=rest_churn_api,
        http_api=http_api,
    )


def _rest_api(ag, name: str, path: str, endpoint: str, **method) -> tuple[str, str]:
    api = ag.create_rest_api(name=name)["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    resource = ag.create_resource(restApiId=api, parentId=root, pathPart=path)["id"]
    ag.put_method(restApiId=api, resourceId=resource, httpMethod="POST", **method)
    ag.put_integration(
        restApiId=api,
        resourceId=resource,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=runtime_uri(endpoint),
        credentials=f"arn:aws:iam::{ACCOUNT}:role/apigateway-invoke",
    )
    ag.create_deployment(restApiId=api, stageName="prod")
    return api, resource


def _rest_apis(server: MotoServer) -> tuple[str, str]:
    ag = server.client("apigateway", REGION)
    # fraud-api: usage plan with throttle and quota, API key, Cognito authorizer, stage limits.
    api = ag.create_rest_api(name="fraud-api")["id"]
    authorizer = ag.create_authorizer(
        restApiId=api,
        name="cognito",
        type="COGNITO_USER_POOLS",
        providerARNs=[f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_pool"],
        identitySource="method.request.header.Authorization",
    )["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    resource = ag.create_resource(restApiId=api, parentId=root, pathPart="predict")["id"]
    ag.put_method(
        restApiId=api,
        resourceId=resource,
        httpMethod="POST",
        authorizationType="COGNITO_USER_POOLS",
        authorizerId=authorizer,
        apiKeyRequired=True,
    )
    ag.put_integration(
        restApiId=api,
        resourceId=resource,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=runtime_uri("fraud-prod"),
        credentials=f"arn:aws:iam::{ACCOUNT}:role/apigateway-invoke",
    )
    ag.create_deployment(restApiId=api, stageName="prod")
    ag.update_stage(
        restApiId=api,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "50"},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "100"},
            {
                "op": "replace",
                "path": "/accessLogSettings/destinationArn",
                "value": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:fraud-api-access",
            },
            {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"},
        ],
    )
    plan = ag.create_usage_plan(
        name="partners",
        apiStages=[
            {
                "apiId": api,
                "stage": "prod",
                "throttle": {"/predict/POST": {"rateLimit": 5.0, "burstLimit": 10}},
            }
        ],
        throttle={"rateLimit": 20.0, "burstLimit": 40},
        quota={"limit": 7000, "period": "WEEK", "offset": 0},
    )
    key = ag.create_api_key(name="partner-a", enabled=True)
    ag.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")

    # churn-api: the open twin (no key, no authorizer, no throttling, no logs).
    churn_api, _ = _rest_api(ag, "churn-api", "score", "churn-public", authorizationType="NONE")
    return api, churn_api


def _http_api(server: MotoServer) -> str:
    v2 = server.client("apigatewayv2", REGION)
    api = v2.create_api(Name="vision-http", ProtocolType="HTTP")["ApiId"]
    authorizer = v2.create_authorizer(
        ApiId=api,
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        Name="oidc",
        JwtConfiguration={"Audience": ["vision"], "Issuer": "https://issuer.example.com"},
    )["AuthorizerId"]
    for route, endpoint, auth in (
        ("POST /secure", "vision-secure", {"AuthorizationType": "JWT", "AuthorizerId": authorizer}),
        ("POST /open", "vision-open", {}),
    ):
        integration = v2.create_integration(
            ApiId=api,
            IntegrationType="HTTP_PROXY",
            IntegrationMethod="POST",
            IntegrationUri=runtime_url(endpoint),
            PayloadFormatVersion="1.0",
        )["IntegrationId"]
        v2.create_route(ApiId=api, RouteKey=route, Target=f"integrations/{integration}", **auth)
    v2.create_stage(
        ApiId=api,
        StageName="$default",
        DefaultRouteSettings={"ThrottlingBurstLimit": 20, "ThrottlingRateLimit": 10.0},
        AccessLogSettings={
            "DestinationArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:vision-access",
            "Format": "$context.requestId",
        },
    )
    # A gateway in another region pointing at fraud-prod: reported, not linked.
    euro = server.client("apigateway", "eu-west-1")
    _rest_api(euro, "euro-api", "predict", "fraud-prod", authorizationType="AWS_IAM")
    return api


def _guardduty(server: MotoServer) -> None:
    server.client("guardduty", "us-east-1").create_detector(
        Enable=True, Features=[{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}]
    )
    server.client("guardduty", "eu-west-1").create_detector(
        Enable=True, DataSources={"S3Logs": {"Enable": False}}
    )
    server.client("guardduty", "ap-southeast-2").create_detector(Enable=False)
    # us-west-2: no detector at all.


def _west(server: MotoServer) -> None:
    sm = server.client("sagemaker", WEST)
    sm.create_model(
        ModelName="ghost-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models-west/ghost/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="ghost-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "ghost-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="ghost", EndpointConfigName="ghost-config")
    sm.delete_model(ModelName="ghost-model")
    ag = server.client("apigateway", WEST)
    api = ag.create_rest_api(name="ghost-api")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    ag.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="AWS_IAM")
    ag.put_integration(
        restApiId=api,
        resourceId=root,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=runtime_uri("${stageVariables.endpoint}", WEST),
        credentials=f"arn:aws:iam::{ACCOUNT}:role/apigateway-invoke",
    )
    ag.create_deployment(restApiId=api, stageName="live", variables={"endpoint": "ghost"})
    # A stage without the variable invokes nothing.
    ag.create_deployment(restApiId=api, stageName="empty")


def scanner_policy(actions: list[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )


def boto_session(access_key: str = "testing", secret_key: str = "testing"):
    import boto3

    return boto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )


def aws_context(server: MotoServer, session=None, max_pool: int = 4):
    """An `AwsContext` on the emulator, as the orchestrator builds one (no retries: moto
    answers what it does not implement with HTTP 500, which botocore would retry). Pass one
    session to many contexts: a session caches the service models, a new one takes seconds
    to build a SageMaker client. Tests that count calls use `max_pool=1`: the context's
    counter is not locked."""
    from scanner.sources.aws.context import AwsContext

    return AwsContext(
        session or boto_session(),
        ACCOUNT,
        max_attempts=1,
        max_pool=max_pool,
        client_kwargs={"endpoint_url": server.url},
    )
