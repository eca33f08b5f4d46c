"""Is this answer an answer? The AWS source's shape checks, in botocore's terms.

botocore is lenient where a scanner cannot be: a 200 whose body is empty, an HTML page (a
captive portal, a corporate proxy) or JSON cut off mid-way parses as an answer with nothing
in it, and "no ACL grants", "no objects", "no endpoints" are verdicts. So every answer passes
two checks before anything reads it, and fails as `MalformedAnswer` (an `Unknown` on what it
feeds, `scanner.sources.faults`):

1. **The wire format** (`check_body`, a `before-parse` hook on every client): a successful
   answer of an operation that returns a body must be a document of the service's protocol -
   a JSON object for the JSON protocols, an XML document for the XML ones, its root element
   `<OperationResponse>` for the query protocols (IAM, STS, EC2), never an `<html>` page. The
   Content-Type is not trusted either way: moto labels JSON answers `text/html`, and a proxy
   can label anything anything; a type naming the *other* structured format (JSON for an
   XML service, XML for a JSON one) is a mismatch.
2. **The fields the operation always returns** (`check_fields`, on the parsed answer), for
   every operation the collectors call: the ones they read and that AWS returns every time,
   even empty (`ALWAYS_RETURNED`: the bucket name of a listing, the owner of an ACL, a trail
   list). Not botocore's `required` flags: emulators, and sometimes the services, leave out
   members the model marks required that the scanner never reads (moto's
   DescribeModelPackage has no ModelPackageName), and an answer is judged by what it feeds.

Streaming answers (GetObject) are checked by their reader (`s3_reader`: length, range and
ETag must be the object's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from scanner.sources.faults import MalformedAnswer

# Fields a successful answer always carries and the collectors read, checked against moto and
# the AWS API reference. Paginated listings are checked page by page.
ALWAYS_RETURNED: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListBuckets"): ("Owner",),
    ("s3", "ListObjectsV2"): ("Name", "IsTruncated"),
    ("s3", "GetBucketAcl"): ("Owner", "Grants"),
    ("s3", "GetBucketLocation"): ("LocationConstraint",),
    ("s3", "GetBucketPolicy"): ("Policy",),
    ("s3", "GetPublicAccessBlock"): ("PublicAccessBlockConfiguration",),
    ("s3", "GetBucketEncryption"): ("ServerSideEncryptionConfiguration",),
    ("s3", "GetObjectLockConfiguration"): ("ObjectLockConfiguration",),
    ("s3control", "GetPublicAccessBlock"): ("PublicAccessBlockConfiguration",),
    ("sts", "GetCallerIdentity"): ("Account", "Arn"),
    ("sts", "AssumeRole"): ("Credentials",),
    ("iam", "GetAccountAuthorizationDetails"): ("IsTruncated",),
    ("kms", "DescribeKey"): ("KeyMetadata",),
    ("cloudtrail", "DescribeTrails"): ("trailList",),
    ("cloudtrail", "GetTrailStatus"): ("IsLogging",),
    ("cloudtrail", "GetEventSelectors"): ("TrailARN",),
    ("sagemaker", "Search"): ("Results",),
    ("sagemaker", "ListEndpoints"): ("Endpoints",),
    ("sagemaker", "DescribeEndpoint"): ("EndpointName", "EndpointArn", "EndpointStatus"),
    ("sagemaker", "DescribeEndpointConfig"): ("EndpointConfigName", "ProductionVariants"),
    ("sagemaker", "DescribeModel"): ("ModelName", "ModelArn"),
    ("sagemaker", "DescribeModelPackage"): ("ModelPackageArn",),
    ("sagemaker", "ListModelPackageGroups"): ("ModelPackageGroupSummaryList",),
    ("sagemaker", "ListModelPackages"): ("ModelPackageSummaryList",),
    ("iam", "ListRoles"): ("Roles",),
    ("guardduty", "ListDetectors"): ("DetectorIds",),
    ("guardduty", "GetDetector"): ("Status",),
    ("apigateway", "GetRestApis"): ("items",),
    ("apigateway", "GetResources"): ("items",),
    ("apigateway", "GetUsagePlans"): ("items",),
    ("apigateway", "GetStages"): ("item",),
    ("apigateway", "GetAccount"): ("throttleSettings",),
    ("apigatewayv2", "GetApis"): ("Items",),
    ("apigatewayv2", "GetIntegrations"): ("Items",),
    ("apigatewayv2", "GetRoutes"): ("Items",),
    ("apigatewayv2", "GetStages"): ("Items",),
    ("ecr", "DescribeRepositories"): ("repositories",),
    ("ecr", "GetRepositoryPolicy"): ("policyText",),
    ("ecr", "GetLifecyclePolicy"): ("lifecyclePolicyText",),
    ("ec2", "DescribeVpcs"): ("Vpcs",),
    ("ec2", "DescribeFlowLogs"): ("FlowLogs",),
    ("ec2", "DescribeSubnets"): ("Subnets",),
    ("ec2", "DescribeRegions"): ("Regions",),
    ("organizations", "ListAccounts"): ("Accounts",),
    ("organizations", "ListAccountsForParent"): ("Accounts",),
    ("organizations", "ListOrganizationalUnitsForParent"): ("OrganizationalUnits",),
}
# The same answers' lists, whose type a body that merely parses could still get wrong.
_LISTS = (
    "Buckets", "Contents", "Grants", "Results", "items", "Items", "Vpcs", "Subnets", "FlowLogs",
    "Regions", "trailList", "DetectorIds", "Endpoints", "ProductionVariants", "Roles",
    "ModelPackageGroupSummaryList", "ModelPackageSummaryList", "UserDetailList",
    "GroupDetailList", "RoleDetailList", "Policies", "EventSelectors", "AdvancedEventSelectors",
    "Accounts", "OrganizationalUnits",
)  # fmt: skip

# S3 settings whose answer is empty when the setting was never made (versioning, logging): no
# field tells a real answer from another XML document, so the root element must be theirs.
# `GetBucketVersioningResponse` is moto's name for an unset versioning answer.
EXPECTED_ROOTS: dict[tuple[str, str], frozenset[str]] = {
    ("s3", "GetBucketVersioning"): frozenset(
        {"VersioningConfiguration", "GetBucketVersioningResponse"}
    ),
    ("s3", "GetBucketLogging"): frozenset({"BucketLoggingStatus"}),
}
_ERROR_ROOTS = frozenset({"html", "error", "errorresponse", "response"})
_JSON = frozenset({"json", "rest-json", "smithy-rpc-v2-cbor"})
_QUERY = frozenset({"query", "ec2"})
_BODY_LOCATIONS = frozenset({None, ""})


def operation_name(operation_model: Any) -> str:
    """`s3:ListObjectsV2`: the API operation an answer belongs to (a malformed answer names
    the operation; a denial names the IAM action, which can differ)."""
    return f"{operation_model.service_model.service_name}:{operation_model.name}"


def _has_body(operation_model: Any) -> bool:
    """Whether a successful answer of this operation carries a document to parse."""
    output = operation_model.output_shape
    if output is None or operation_model.has_streaming_output:
        return False
    payload = output.serialization.get("payload")
    if payload is not None:
        return bool(output.members[payload].type_name == "structure")
    return any(m.serialization.get("location") in _BODY_LOCATIONS for m in output.members.values())


def check_body(operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
    """`before-parse` hook: raise MalformedAnswer for a success that is not a document of the
    service's protocol. Error answers are left to botocore (a proxy's HTML 403 is a denial)."""
    if not 200 <= int(response_dict.get("status_code") or 0) < 300:
        return
    action = operation_name(operation_model)
    service_model = operation_model.service_model
    protocol = getattr(service_model, "resolved_protocol", None) or service_model.protocol
    body = response_dict.get("body")
    if not isinstance(body, bytes | bytearray):
        return  # a stream: checked by whoever reads it
    content_type = str((response_dict.get("headers") or {}).get("content-type", "")).lower()
    payload = (operation_model.output_shape.serialization.get("payload") if
               operation_model.output_shape is not None else None)  # fmt: skip
    if payload is not None and not _has_body(operation_model):
        if not operation_model.has_streaming_output and not body.strip():
            raise MalformedAnswer(action, "empty body")  # GetBucketPolicy: the policy text
        return
    if not _has_body(operation_model):
        return
    if protocol in _JSON:
        if "xml" in content_type:
            raise MalformedAnswer(action, f"content type {content_type}")
        if protocol == "smithy-rpc-v2-cbor":
            return  # binary: botocore's own parser is the check
        try:
            parsed = json.loads(bytes(body) or b"null")
        except ValueError:
            raise MalformedAnswer(action, "not JSON") from None
        if not isinstance(parsed, dict):
            raise MalformedAnswer(action, "not a JSON object")
        return
    if "json" in content_type:
        raise MalformedAnswer(action, f"content type {content_type}")
    try:
        root = ElementTree.fromstring(bytes(body))
    except ElementTree.ParseError:
        raise MalformedAnswer(action, "not XML") from None
    tag = root.tag.rpartition("}")[2]
    if tag.lower() == "html":
        raise MalformedAnswer(action, "an HTML page")
    if protocol in _QUERY:
        if tag != f"{operation_model.name}Response":
            raise MalformedAnswer(action, f"root element {tag}")
        return
    expected = EXPECTED_ROOTS.get((service_model.service_name, operation_model.name))
    if tag.lower() in _ERROR_ROOTS or (expected is not None and tag not in expected):
        raise MalformedAnswer(action, f"root element {tag}")


def check_fields(service: str, operation_model: Any, answer: Any) -> None:
    """Raise MalformedAnswer when a parsed answer lacks a field the operation always returns,
    or has a list where a list must be something else."""
    action = operation_name(operation_model)
    if not isinstance(answer, Mapping):
        raise MalformedAnswer(action, "not an object")
    for name in ALWAYS_RETURNED.get((service, operation_model.name), ()):
        if name not in answer:
            raise MalformedAnswer(action, f"no {name}")
    for name in _LISTS:
        if name in answer and not isinstance(answer[name], list):
            raise MalformedAnswer(action, f"{name} is not a list")
