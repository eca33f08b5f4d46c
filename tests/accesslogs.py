"""Storage access logs in the documented formats, for tests, the demo's twin and benchmarks.

CloudTrail: files as CloudTrail delivers them (`{"Records": [...]}`, gzip, under
`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz`),
records with the fields the CloudTrail record reference documents for S3 data events
(userIdentity with sessionContext.sessionIssuer for role sessions, requestParameters
bucketName/key and x-amz-copy-source, additionalEventData.bytesTransferredOut, vpcEndpointId,
readOnly, resources, eventCategory), management events mixed in as a real trail has them.

S3 server access logs: lines in the documented space-separated format (owner, bucket,
[time], remote IP, requester, request id, operation, URL-encoded key, quoted request URI,
status, error code, bytes sent, object size, times, quoted referer and user agent, version
id, host id, signature, cipher, auth type, host header, TLS version, access point ARN, ACL
required, source region), `-` for missing values, files named `PREFIXYYYY-MM-DD-HH-MM-SS-ID`
with no extension.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
REGION = "eu-west-1"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
GB = 10**9


@dataclass(frozen=True)
class Who:
    """A caller: kind is role | user | anonymous | account | service | root."""

    kind: str
    name: str = ""
    account: str = ACCOUNT
    path: str = "/"
    session: str = "session"

    @property
    def arn(self) -> str:
        if self.kind == "role":
            return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"
        if self.kind == "user":
            return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"
        if self.kind in ("account", "root"):
            return f"arn:aws:iam::{self.account}:root"
        if self.kind == "anonymous":
            return "*"
        return f"service:{self.name}"

    def user_identity(self) -> dict[str, Any]:
        if self.kind == "role":
            return {
                "type": "AssumedRole",
                "principalId": f"AROAEXAMPLE{self.name.upper()}:{self.session}",
                "arn": f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{self.session}",
                "accountId": self.account,
                "accessKeyId": "ASIAEXAMPLEKEY",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": f"AROAEXAMPLE{self.name.upper()}",
                        "arn": self.arn,
                        "accountId": self.account,
                        "userName": self.name,
                    },
                    "attributes": {
                        "creationDate": "2024-01-01T00:00:00Z",
                        "mfaAuthenticated": "false",
                    },
                },
            }
        if self.kind == "user":
            return {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": self.arn,
                "accountId": self.account,
                "accessKeyId": "AKIAEXAMPLEKEY",
                "userName": self.name,
            }
        if self.kind == "root":
            return {
                "type": "Root",
                "principalId": self.account,
                "arn": self.arn,
                "accountId": self.account,
            }
        if self.kind == "account":  # a caller of another account, as the bucket owner sees it
            return {"type": "AWSAccount", "principalId": "AIDAFOREIGN", "accountId": self.account}
        if self.kind == "anonymous":
            return {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
        return {"type": "AWSService", "invokedBy": self.name}

    def requester(self) -> str:
        if self.kind == "role":
            return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{self.session}"
        if self.kind in ("user", "root"):
            return self.arn
        if self.kind == "anonymous":
            return "-"
        return OWNER


@dataclass(frozen=True)
class Read:
    when: dt.datetime
    bucket: str
    key: str
    who: Who
    ip: str = "10.0.1.20"
    vpce: str | None = None
    bytes: int | None = 1_000_000
    object_size: int | None = None
    operation: str = "GetObject"  # GetObject | SelectObjectContent | CopyObject
    error: str | None = None
    version: str | None = None


def cloudtrail_record(r: Read, rng: random.Random) -> dict[str, Any]:
    params: dict[str, Any] = {
        "bucketName": r.bucket,
        "Host": f"{r.bucket}.s3.{REGION}.amazonaws.com",
        "key": r.key,
    }
    resources = [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{r.bucket}/{r.key}"},
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{r.bucket}"},
    ]
    if r.version:
        params["versionId"] = r.version
    if r.operation == "CopyObject":
        source = urllib.parse.quote(f"{r.bucket}/{r.key}")
        params = {"bucketName": "copy-destination", "key": r.key, "x-amz-copy-source": source}
    extra: dict[str, Any] = {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": "EXAMPLEID2",
    }
    if r.bytes is not None:
        extra["bytesTransferredOut"] = float(r.bytes)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": r.who.user_identity(),
        "eventTime": r.when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": r.operation,
        "awsRegion": REGION,
        "sourceIPAddress": r.ip,
        "userAgent": "[Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux lang/python#3.11]",
        "requestParameters": params,
        "responseElements": None,
        "additionalEventData": extra,
        "requestID": f"{rng.getrandbits(64):016X}",
        "eventID": f"{rng.getrandbits(128):032x}",
        "readOnly": r.operation != "CopyObject",
        "resources": resources,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{r.bucket}.s3.{REGION}.amazonaws.com",
        },
    }
    if r.vpce:
        record["vpcEndpointId"] = r.vpce
        record["vpcEndpointAccountId"] = ACCOUNT
    if r.error:
        record["errorCode"] = r.error
        record["errorMessage"] = "Access Denied"
        record["additionalEventData"].pop("bytesTransferredOut", None)
    return record


def management_record(when: dt.datetime, rng: random.Random) -> dict[str, Any]:
    who = Who("role", "ci-deployer")
    return {
        "eventVersion": "1.08",
        "userIdentity": who.user_identity(),
        "eventTime": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com",
        "eventName": "ListRoles",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.9.9",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": None,
        "responseElements": None,
        "requestID": f"{rng.getrandbits(64):016x}",
        "eventID": f"{rng.getrandbits(128):032x}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def server_access_line(r: Read, rng: random.Random) -> str:
    op = {
        "GetObject": "REST.GET.OBJECT",
        "SelectObjectContent": "REST.POST.SELECT",
        "CopyObject": "REST.COPY.OBJECT_GET",
    }[r.operation]
    key = urllib.parse.quote(r.key, safe="/")
    query = f"?versionId={r.version}" if r.version else ""
    method = "POST" if r.operation == "SelectObjectContent" else "GET"
    status, error = ("403", r.error) if r.error else ("200", "-")
    sent = "-" if not r.bytes or r.error else str(r.bytes)
    size = "-" if r.object_size is None else str(r.object_size)
    when = r.when.astimezone(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (
        f"{OWNER} {r.bucket} [{when}] {r.ip} {r.who.requester()} {rng.getrandbits(64):016X} {op} "
        f'{key} "{method} /{r.bucket}/{key}{query} HTTP/1.1" {status} {error} {sent} {size} '
        f'{rng.randint(5, 900)} {rng.randint(1, 50)} "-" "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 '
        f'exe/x86_64 prompt/off command/s3.cp" {r.version or "-"} '
        f"{rng.getrandbits(128):032x}= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
        f"{r.bucket}.s3.{REGION}.amazonaws.com TLSv1.2 - - {REGION}"
    )


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    records: int = 0


def write_cloudtrail(
    root: Path,
    reads: Iterable[Read],
    *,
    per_file: int = 200,
    management_every: int = 5,
    seed: int = 1,
    gz: bool = True,
) -> Written:
    """Reads into CloudTrail files, five-minute buckets as CloudTrail delivers them, with a
    management event after every `management_every` data events."""
    rng = random.Random(seed)
    by_slot: dict[dt.datetime, list[dict[str, Any]]] = defaultdict(list)
    for i, r in enumerate(sorted(reads, key=lambda r: r.when)):
        slot = r.when.replace(minute=r.when.minute - r.when.minute % 5, second=0, microsecond=0)
        by_slot[slot].append(cloudtrail_record(r, rng))
        if management_every and i % management_every == 0:
            by_slot[slot].append(management_record(r.when, rng))
    out = Written()
    for slot, records in sorted(by_slot.items()):
        for part in range(0, len(records), per_file):
            chunk = records[part : part + per_file]
            folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / slot.strftime("%Y/%m/%d")
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{ACCOUNT}_CloudTrail_{REGION}_{slot:%Y%m%dT%H%MZ}_{rng.getrandbits(64):016x}"
            data = json.dumps({"Records": chunk}).encode()
            path = folder / (name + (".json.gz" if gz else ".json"))
            path.write_bytes(gzip.compress(data, compresslevel=1) if gz else data)
            out.files.append(path)
            out.records += len(chunk)
    return out


def write_server_access(
    root: Path,
    reads: Iterable[Read],
    *,
    per_file: int = 500,
    prefix: str = "",
    seed: int = 2,
    gz: bool = False,
) -> Written:
    rng = random.Random(seed)
    ordered = sorted(reads, key=lambda r: r.when)
    out = Written()
    root.mkdir(parents=True, exist_ok=True)
    for part in range(0, len(ordered), per_file):
        chunk = ordered[part : part + per_file]
        name = f"{prefix}{chunk[0].when:%Y-%m-%d-%H-%M-%S}-{rng.getrandbits(64):016X}"
        text = "".join(server_access_line(r, rng) + "\n" for r in chunk).encode()
        (root / name).write_bytes(gzip.compress(text) if gz else text)
        out.files.append(root / name)
        out.records += len(chunk)
    return out


def daily(
    who: Who,
    bucket: str,
    keys: list[str],
    *,
    start: dt.datetime,
    days: int,
    bytes_each: int,
    every: int = 1,
    **kw: Any,
) -> list[Read]:
    """One read of each key every `every` days from `start`, at a steady hour."""
    out = []
    for d in range(0, days, every):
        when = start + dt.timedelta(days=d, hours=9, minutes=(d * 7) % 55)
        out.extend(Read(when, bucket, k, who, bytes=bytes_each, **kw) for k in keys)
    return out


def shifted(reads: Iterable[Read], **changes: Any) -> list[Read]:
    return [replace(r, **changes) for r in reads]
