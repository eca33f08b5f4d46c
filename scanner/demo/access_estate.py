"""The demo's trail of S3 data events: 150 days of who read the production models.

CloudTrail does not deliver logs in the emulator, so the trail's bucket is filled here with
log files in the documented CloudTrail format (`{"Records": [...]}`, gzip, under
`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`), as the trail `org-trail` (which logs object
reads of the model buckets) would have delivered them. The story an assessor should find:

- the SageMaker serving role loads the production models every day, through the VPC endpoint;
- bob and carol (data scientists) read them now and then, through the endpoint too;
- `ml-reporting`, a standing role with read access, has read nothing for 120 days;
- `ml-breakglass` has read nothing either, but it is just-in-time access, not standing access;
- three days ago alice's long-lived key downloaded every production model, and SageMaker's
  credit-scoring archive, from a public IP: 13.5 GB in a day, where nobody else reads more than
  5.5.

The byte counts are what the logs would say for production-sized weights; the demo's own files
are a few hundred bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from scanner.demo import aws_estate as aws
from scanner.demo.registry_estate import RegistryEstate

GB = 10**9
PUBLIC_IP = "198.51.100.23"  # documentation range (RFC 5737)
HISTORY_DAYS = 150
REPORTING_IDLE_DAYS = 120


def _user_identity(kind: str, name: str) -> dict[str, Any]:
    if kind == "role":
        arn = f"arn:aws:iam::{aws.ACCOUNT}:role/{name}"
        return {
            "type": "AssumedRole",
            "principalId": f"AROADEMO{name.upper().replace('-', '')}:session",
            "arn": f"arn:aws:sts::{aws.ACCOUNT}:assumed-role/{name}/session",
            "accountId": aws.ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": arn,
                    "accountId": aws.ACCOUNT,
                    "userName": name,
                },
                "attributes": {"mfaAuthenticated": "false"},
            },
        }
    return {
        "type": "IAMUser",
        "principalId": f"AIDADEMO{name.upper()}",
        "arn": f"arn:aws:iam::{aws.ACCOUNT}:user/{name}",
        "accountId": aws.ACCOUNT,
        "userName": name,
    }


def _record(
    when: dt.datetime,
    who: tuple[str, str],
    path: str,
    size: int,
    rng: random.Random,
    *,
    vpce: str | None,
    ip: str,
) -> dict[str, Any]:
    """`path` is `BUCKET/KEY`: the production models and SageMaker's archive live in
    different buckets."""
    bucket, key = path.split("/", 1)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": _user_identity(*who),
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": aws.REGION,
        "sourceIPAddress": ip,
        "userAgent": "[Boto3/1.34.0 Python/3.11]",
        "requestParameters": {
            "bucketName": bucket,
            "key": key,
            "Host": f"{bucket}.s3.amazonaws.com",
        },
        "responseElements": None,
        "additionalEventData": {"bytesTransferredOut": float(size), "SignatureVersion": "SigV4"},
        "requestID": f"{rng.getrandbits(64):016X}",
        "eventID": f"{rng.getrandbits(128):032x}",
        "readOnly": True,
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": aws.ACCOUNT,
        "eventCategory": "Data",
    }
    if vpce:
        record["vpcEndpointId"] = vpce
    return record


def _path(source_uri: str, name: str) -> str:
    """`BUCKET/KEY` of a file of the model version at `source_uri` (`s3://BUCKET/PREFIX`)."""
    return f"{source_uri.removeprefix('s3://').rstrip('/')}/{name}"


# SageMaker's credit-scoring archive (serving_estate), which alice took too.
CREDIT_ARCHIVE = (f"{aws.ARTIFACTS}/sagemaker/credit-scoring/v1/model.tar.gz", 8 * GB)


def production_files(registry: RegistryEstate) -> list[tuple[str, dict[str, int]]]:
    """The production versions' files, with the sizes the logs report for them."""
    return [
        (registry.fraud.source, {"model.safetensors": int(2.1 * GB), "MLmodel": 612}),
        (registry.pricing.source, {"adapter.safetensors": int(3.4 * GB), "MLmodel": 655}),
    ]


def reads(models: Iterable[tuple[str, int]], now: dt.datetime) -> list[dict[str, Any]]:
    """The story above as CloudTrail records; `models` are (BUCKET/KEY, bytes) of production
    files."""
    rng = random.Random(22)
    models = list(models)
    out: list[dict[str, Any]] = []
    start = now - dt.timedelta(days=HISTORY_DAYS)
    private = {"vpce": aws.VPCE, "ip": "10.20.1.15"}
    for day in range(HISTORY_DAYS):
        base = start + dt.timedelta(days=day, hours=6)
        for key, size in models:
            out.append(_record(base, ("role", "sagemaker-serving"), key, size, rng, **private))
        if day % 7 == 3:
            key, size = models[0]
            out.append(
                _record(base + dt.timedelta(hours=4), ("user", "bob"), key, size, rng, **private)
            )
        if day % 14 == 9:
            key, size = next(m for m in models if m[0].endswith("adapter.safetensors"))
            out.append(
                _record(base + dt.timedelta(hours=5), ("user", "carol"), key, size, rng, **private)
            )
        if day < HISTORY_DAYS - REPORTING_IDLE_DAYS and day % 10 == 0:
            key, size = models[0]
            out.append(
                _record(
                    base + dt.timedelta(hours=1),
                    ("role", "ml-reporting"),
                    key,
                    size,
                    rng,
                    **private,
                )
            )
    theft = now - dt.timedelta(days=3)
    for i, (key, size) in enumerate([*models, CREDIT_ARCHIVE]):
        when = theft.replace(hour=2, minute=10 * i, second=0, microsecond=0)
        out.append(_record(when, ("user", "alice"), key, size, rng, vpce=None, ip=PUBLIC_IP))
    return out


def seed_access_logs(server: Any, registry: RegistryEstate, now: dt.datetime) -> None:
    """The `ml-reporting` role and the trail's log files."""
    production = production_files(registry)
    # The bucket the release pipeline writes production models to.
    bucket = registry.fraud.source.removeprefix("s3://").split("/", 1)[0]
    iam = server.client("iam", aws.REGION)
    iam.create_role(
        RoleName="ml-reporting",
        AssumeRolePolicyDocument=aws.trust({"Service": "glue.amazonaws.com"}),
    )
    iam.put_role_policy(
        RoleName="ml-reporting",
        PolicyName="ml-reporting-access",
        PolicyDocument=aws.policy(
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*"}
        ),
    )
    models = [(_path(uri, name), size) for uri, files in production for name, size in files.items()]
    by_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for record in reads(models, now):
        by_day[dt.date.fromisoformat(record["eventTime"][:10])].append(record)
    s3 = server.client("s3", aws.REGION)
    for day, records in sorted(by_day.items()):
        key = (
            f"AWSLogs/{aws.ACCOUNT}/CloudTrail/{aws.REGION}/{day:%Y/%m/%d}/"
            f"{aws.ACCOUNT}_CloudTrail_{aws.REGION}_{day:%Y%m%d}T2355Z_demo{day:%j}.json.gz"
        )
        body = gzip.compress(json.dumps({"Records": records}).encode())
        s3.put_object(Bucket=aws.TRAIL_LOGS, Key=key, Body=body)
