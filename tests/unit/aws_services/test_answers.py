"""Is an answer an answer: the shape checks every AWS call passes, on botocore's own models.

The wire format per protocol (`check_body`, run as botocore's `before-parse` hook), the fields
each operation always returns (`check_fields`), and how a failed call is named (`classify`).
The integration matrix (tests/integration/test_wire_faults.py) drives the same code through a
proxy; these pin each rule on its own.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from scanner.sources.aws.answers import check_body, check_fields
from scanner.sources.aws.context import DeadlinePassed, GaveUp, classify
from scanner.sources.faults import FaultKind, MalformedAnswer

_SESSION = botocore.session.get_session()
HTML = b"<!DOCTYPE html><html><body>Sign in to the network</body></html>"


def model(service: str, operation: str) -> Any:
    return _SESSION.get_service_model(service).operation_model(operation)


def answer(body: bytes, status: int = 200, content_type: str = "") -> dict[str, Any]:
    return {"status_code": status, "headers": {"content-type": content_type}, "body": body}


GOOD = {
    ("s3", "GetBucketAcl"): b"<AccessControlPolicy><Owner><ID>o</ID></Owner>"
    b"<AccessControlList/></AccessControlPolicy>",
    ("s3", "GetBucketVersioning"): b"<VersioningConfiguration/>",
    ("s3", "GetBucketPolicy"): b'{"Version": "2012-10-17", "Statement": []}',
    ("iam", "GetAccountAuthorizationDetails"): b"<GetAccountAuthorizationDetailsResponse>"
    b"<GetAccountAuthorizationDetailsResult/></GetAccountAuthorizationDetailsResponse>",
    ("sagemaker", "Search"): b'{"Results": []}',
    ("guardduty", "ListDetectors"): b'{"detectorIds": []}',
}


@pytest.mark.parametrize(("service", "operation"), sorted(GOOD))
def test_a_real_answer_passes(service: str, operation: str) -> None:
    check_body(model(service, operation), answer(GOOD[(service, operation)]))


@pytest.mark.parametrize(
    ("service", "operation", "body", "why"),
    [
        ("s3", "GetBucketAcl", b"", "not XML"),
        ("s3", "GetBucketAcl", HTML, "an HTML page"),
        ("s3", "GetBucketAcl", b"<html><body>portal</body></html>", "an HTML page"),
        ("s3", "GetBucketAcl", GOOD[("s3", "GetBucketAcl")][:40], "not XML"),
        ("s3", "GetBucketAcl", b"<Error><Code>X</Code></Error>", "root element Error"),
        ("s3", "GetBucketVersioning", b"<SomethingElse/>", "root element SomethingElse"),
        ("s3", "GetBucketPolicy", b"", "empty body"),
        ("iam", "GetAccountAuthorizationDetails", b"<ListUsersResponse/>", "root element"),
        ("sagemaker", "Search", b"", "not a JSON object"),
        ("sagemaker", "Search", HTML, "not JSON"),
        ("sagemaker", "Search", b'{"Results": [{"Endpo', "not JSON"),
        ("sagemaker", "Search", b"[]", "not a JSON object"),
        ("guardduty", "ListDetectors", bytes(range(40)), "not JSON"),
    ],
)
def test_a_body_that_is_not_the_operations_answer_is_malformed(
    service: str, operation: str, body: bytes, why: str
) -> None:
    with pytest.raises(MalformedAnswer) as info:
        check_body(model(service, operation), answer(body))
    assert str(info.value).startswith(f"malformed answer from {service}:{operation}")
    assert why in str(info.value)


def test_a_content_type_of_the_other_format_is_a_mismatch_and_html_is_judged_by_body() -> None:
    with pytest.raises(MalformedAnswer, match="content type application/xml"):
        check_body(model("sagemaker", "Search"), answer(b'{"Results": []}', 200, "application/xml"))
    with pytest.raises(MalformedAnswer, match="content type application/json"):
        acl = answer(GOOD[("s3", "GetBucketAcl")], 200, "application/json")
        check_body(model("s3", "GetBucketAcl"), acl)
    # moto labels JSON answers text/html: the body decides.
    check_body(model("sagemaker", "Search"), answer(b'{"Results": []}', 200, "text/html"))


def test_error_answers_and_streams_are_left_to_botocore_and_their_reader() -> None:
    check_body(model("s3", "GetBucketAcl"), answer(HTML, 403))
    check_body(model("s3", "GetObject"), answer(b""))


@pytest.mark.parametrize(
    ("service", "operation", "parsed", "missing"),
    [
        ("s3", "ListObjectsV2", {"IsTruncated": False}, "Name"),
        ("s3", "GetBucketAcl", {"Grants": []}, "Owner"),
        ("sts", "GetCallerIdentity", {"UserId": "u"}, "Account"),
        ("cloudtrail", "DescribeTrails", {}, "trailList"),
        ("guardduty", "GetDetector", {"ServiceRole": "r"}, "Status"),
    ],
)
def test_an_answer_without_a_field_the_operation_always_returns_is_malformed(
    service: str, operation: str, parsed: dict[str, Any], missing: str
) -> None:
    with pytest.raises(MalformedAnswer, match=f"no {missing}"):
        check_fields(service, model(service, operation), parsed)


def test_a_list_field_that_is_not_a_list_is_malformed() -> None:
    with pytest.raises(MalformedAnswer, match="Results is not a list"):
        check_fields("sagemaker", model("sagemaker", "Search"), {"Results": {"a": 1}})


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (_client_error("AccessDenied", 403), FaultKind.DENIED, "denied: s3:GetBucketAcl"),
        (_client_error("403", 403), FaultKind.DENIED, "denied: s3:GetBucketAcl"),
        (
            _client_error("SlowDown", 503),
            FaultKind.THROTTLED,
            "throttled past retries: s3:GetBucketAcl",
        ),
        (_client_error("500", 500), FaultKind.FAILED, "failed: s3:GetBucketAcl: HTTP 500"),
        (_client_error("InternalError", 500), FaultKind.FAILED, "failed: s3:GetBucketAcl: Intern"),
        (
            ReadTimeoutError(endpoint_url="http://h"),
            FaultKind.STALLED,
            "no answer within 20 s from s3:GetBucketAcl",
        ),
        (
            GaveUp(ConnectionClosedError(endpoint_url="http://h")),
            FaultKind.UNREACHABLE,
            "cannot reach s3:GetBucketAcl (connection closed)",
        ),
        (
            EndpointConnectionError(endpoint_url="http://h"),
            FaultKind.UNREACHABLE,
            "cannot reach s3:GetBucketAcl (cannot connect)",
        ),
        (
            MalformedAnswer("s3:GetBucketAcl", "not XML"),
            FaultKind.MALFORMED,
            "malformed answer from s3:GetBucketAcl (not XML)",
        ),
        (
            DeadlinePassed(),
            FaultKind.DEADLINE,
            "not read: the scan's time limit passed before s3:GetBucketAcl",
        ),
    ],
)
def test_every_failure_of_a_call_is_named_for_what_it_is(
    exc: BaseException, kind: FaultKind, reason: str
) -> None:
    fault = classify(exc, "s3:GetBucketAcl", "s3:GetBucketAcl", "us-east-1", 20.0)
    assert fault.kind is kind
    assert fault.reason.startswith(reason)
