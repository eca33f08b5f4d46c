"""Denied calls, a region that is not enabled, and proof that collecting changes nothing."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scanner.inventory import Unknown
from scanner.sources.aws import apigateway, ec2, guardduty, sagemaker
from tests.integration.aws_services.estate import (
    REGION,
    SOURCE,
    WEST,
    Estate,
    aws_context,
    boto_session,
    scanner_policy,
)
from tests.servers.moto import MotoServer, free_port

pytestmark = pytest.mark.slow

COLLECTORS = (sagemaker, apigateway, ec2, guardduty)
# What the scanner is allowed in the denial test: listings, never the describes.
ALLOWED = [
    "sagemaker:ListEndpoints",
    "sagemaker:ListModelPackageGroups",
    "sagemaker:ListModelPackages",
    "sagemaker:ListTags",
    "ec2:DescribeVpcs",
    "guardduty:ListDetectors",
]


@pytest.fixture
def scanner_keys(moto: MotoServer, estate: object) -> Iterator[dict[str, str]]:
    """A scanner user allowed only `ALLOWED`, with IAM enforced for the test's duration
    (moto's switch is server-wide; tests run one at a time, and it is switched off after)."""
    iam = moto.client("iam")
    iam.create_user(UserName="scanner")
    iam.put_user_policy(
        UserName="scanner", PolicyName="listings", PolicyDocument=scanner_policy(ALLOWED)
    )
    key = iam.create_access_key(UserName="scanner")["AccessKey"]
    _enforce(moto, "0")
    try:
        yield {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}
    finally:
        # The user stays: once an IAM user is deleted, moto's /moto-api/data.json answers 500.
        _enforce(moto, "inf")


def _enforce(server: MotoServer, unauthenticated_calls: str) -> None:
    request = urllib.request.Request(
        f"{server.url}/moto-api/reset-auth",
        data=unauthenticated_calls.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def test_denied_calls_become_unknowns_naming_the_action(
    moto: MotoServer, estate: Estate, scanner_keys: dict[str, str]
) -> None:
    ctx = aws_context(moto, boto_session(**scanner_keys))
    results = {c.__name__.rsplit(".", 1)[-1]: c.collect(ctx, REGION, SOURCE) for c in COLLECTORS}
    resources = {r.id: r for r in results["sagemaker"].resources}

    endpoint = resources[estate.endpoints["fraud-prod"]]
    for key in ("data_capture", "network_isolation", "in_private_network", "encryption"):
        assert endpoint.attributes[key] == Unknown("denied: sagemaker:DescribeEndpoint"), key
    version = resources[estate.packages["fraud/1"]]
    assert version.attributes["owner"] == Unknown("denied: sagemaker:DescribeModelPackage")
    # Approved, and whether an endpoint serves it cannot be read: production or staging?
    assert version.attributes["stage"] == Unknown("denied: sagemaker:DescribeEndpoint")
    assert resources[estate.packages["fraud/2"]].attributes["stage"] == "archived"
    assert "sagemaker us-east-1: denied: sagemaker:DescribeEndpoint (5 calls)" in (
        results["sagemaker"].problems
    )

    network = next(r for r in results["ec2"].resources if r.attributes["vpc_id"] == estate.ml_vpc)
    assert network.attributes["flow_logs"]["enabled"] == Unknown("denied: ec2:DescribeFlowLogs")
    assert results["ec2"].problems == ("ec2 us-east-1: denied: ec2:DescribeFlowLogs",)

    # moto's IAM check rejects every signed REST-JSON request (API Gateway, GuardDuty) with a
    # 403, allowed or not; the 403 path is what this exercises for those two services.
    (detection,) = results["guardduty"].resources
    assert detection.attributes["enabled"] == Unknown("denied: guardduty:ListDetectors")
    partial = next(r for r in results["apigateway"].resources if r.id == endpoint.id)
    for key in ("gateway", "rate_limit", "auth_required", "access_logging"):
        assert partial.attributes[key] == Unknown("denied: apigateway:GET"), key


class OptInRequired(BaseHTTPRequestHandler):
    """Answers every request as AWS does in a region the account has not enabled."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        message = "You are not subscribed to this service in this region."
        if "Action=" in body:  # EC2's query protocol answers in XML
            payload = (
                "<Response><Errors><Error><Code>OptInRequired</Code>"
                f"<Message>{message}</Message></Error></Errors><RequestID>r</RequestID></Response>"
            ).encode()
            content_type = "text/xml"
        else:
            payload = json.dumps({"__type": "OptInRequired", "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        self.send_response(403)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-ErrorType", "OptInRequired")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


def test_a_region_that_is_not_enabled_is_a_problem_line_not_a_failure() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), OptInRequired)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        ctx = aws_context(MotoServer(f"http://127.0.0.1:{httpd.server_port}"))
        region = "ap-east-1"
        for collector in COLLECTORS:
            result = collector.collect(ctx, region, SOURCE)
            name = collector.__name__.rsplit(".", 1)[-1]
            assert result.problems, name
            assert all(f"region {region} not enabled" in p for p in result.problems), name
            if collector is guardduty:
                (detection,) = result.resources  # still one per region scanned
                assert isinstance(detection.attributes["enabled"], Unknown)
            else:
                assert result.resources == (), name
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_collecting_changes_nothing_in_the_emulator(
    moto: MotoServer, estate: Estate, session: Any
) -> None:
    def collect_everything() -> None:
        ctx = aws_context(moto, session)
        for region in (REGION, WEST):
            for collector in COLLECTORS:
                collector.collect(ctx, region, SOURCE)

    # moto creates some objects lazily on a region's first read (default VPCs, the API
    # Gateway account record): one pass first, so the comparison sees only what a scan adds.
    collect_everything()
    moto.state()  # the first dump initialises the remaining backends
    before = moto.state()
    collect_everything()
    assert moto.state() == before
