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
import resource
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.replay import boto_replayer, recording_boto
from scanner.demo.aws_estate import policy, trust
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
                Policy=policy(
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": f"arn:aws:s3:::{name}/*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
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
            AssumeRolePolicyDocument=trust(principal),
        )
        resource = "*" if i % 10 == 0 else f"arn:aws:s3:::bench-{(i * 7) % buckets:04d}/*"
        iam.put_role_policy(
            RoleName=f"role-{i:04d}",
            PolicyName="read",
            PolicyDocument=policy(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": resource,
                },
                {"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": "*"},
            ),
        )

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(bucket, range(buckets)))
    for i in range(roles):  # moto's IAM backend is not safe for concurrent writes
        role(i)
    return sum(1 for i in range(buckets) if i % 5 == 0)


def seed_serving(moto: MotoServer, endpoints: int, buckets: int) -> str:
    """`endpoints` SageMaker endpoints, each serving a registered model package whose files
    are in one of the model buckets; returns the name of the first package group (the model a
    targeted scan asks about)."""
    sm = moto.client("sagemaker")
    image = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/inference:1"
    role = f"arn:aws:iam::{ACCOUNT}:role/role-0001"
    for i in range(endpoints):
        name = f"model-{i:03d}"
        bucket = (i * 5) % buckets  # buckets divisible by five hold a model directory
        url = f"s3://bench-{bucket:04d}/models/m{bucket}"
        sm.create_model_package_group(ModelPackageGroupName=name)
        package = sm.create_model_package(
            ModelPackageGroupName=name,
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": url}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={"owner": "bench", "ip_value": "high"},
        )["ModelPackageArn"]
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=role,
            PrimaryContainer={"ModelPackageName": package},
        )
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return "model-000"


def scan(moto: MotoServer, workers: int) -> tuple[AwsSource, int]:
    source = AwsSource(parse_spec("aws:", options={"workers": workers}))
    collection = source.collect(lambda _m: None)
    return source, len(collection.resources)


def _prepare(client: Any) -> None:
    if client.meta.service_model.service_name == "s3control":
        client.meta.events.register("before-sign.s3-control.*", _local_host_prefix)


def pipeline(spec: str, workers: int, target: Any = None) -> tuple[float, dict[str, Any]]:
    """A whole scan (collect, link, evaluate with the built-in pack, the results document),
    in process; its wall time and the document."""
    from scanner.progress import make_reporter
    from scanner.scan import ScanRequest, prepare, run

    request = ScanRequest(sources=(parse_spec(spec, options={"workers": workers}),), target=target)
    prepared = prepare(request)
    started = time.perf_counter()
    document = run(prepared, make_reporter(True, 0))
    return time.perf_counter() - started, document


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(
    buckets: int, roles: int, endpoints: int, workers: int, repeat: int, targeted: bool
) -> dict:
    """One estate size, in a process of its own (peak RSS is per process)."""
    from scanner.targeting import Target

    with moto_server() as moto:
        os.environ.update(moto.env())
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        started = time.perf_counter()
        with_models = seed(moto, buckets, roles, workers)
        model = seed_serving(moto, endpoints, buckets)
        seeded = time.perf_counter() - started
        with recording_boto() as calls:
            scan(moto, workers)  # warm-up, and the calls the floor will replay
        recorded = list(calls)
        replay, _ = boto_replayer(moto.url, workers, _prepare)
        replay(recorded)  # warm-up: clients, endpoint data
        before = rss_mb()
        floors: list[float] = []
        scans: list[float] = []
        source: AwsSource | None = None
        resources = 0
        for _ in range(repeat):
            t = time.perf_counter()
            replay(recorded)
            floors.append(time.perf_counter() - t)
            t = time.perf_counter()
            source, resources = scan(moto, workers)
            scans.append(time.perf_counter() - t)
        assert source is not None
        out = {
            "buckets": buckets,
            "with_models": with_models,
            "roles": roles,
            "endpoints": endpoints,
            "seeded_s": round(seeded, 1),
            "scan_s": min(scans),
            "floor_s": min(floors),
            "calls": sum(source.calls.values()),
            "floor_calls": len(recorded),
            "resources": resources,
            "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(rss_mb(), 1),
        }
        if targeted:
            full, _ = pipeline("aws:", workers)
            narrow, document = pipeline("aws:", workers, Target(model=model))
            out["pipeline_full_s"] = full
            out["pipeline_targeted_s"] = narrow
            out["targeted_judged"] = len(document["scan"]["target"]["judged"])
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--buckets", default="500,2000", help="estate sizes, comma-separated")
    ap.add_argument("--roles", type=int, default=200)
    ap.add_argument("--endpoints", type=int, default=50)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-targeted", action="store_true", help="skip the --model comparison")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        result = one(
            args.one, args.roles, args.endpoints, args.workers, args.repeat, not args.no_targeted
        )
        print("RESULT " + json.dumps(result))
        return
    sizes = [int(s) for s in args.buckets.split(",") if s.strip()]
    rows = []
    for i, size in enumerate(sizes):
        cmd = [
            sys.executable, "-m", "benchmarks.bench_aws_source", "--one", str(size),
            "--roles", str(args.roles), "--endpoints", str(min(args.endpoints, size)),
            "--workers", str(args.workers), "--repeat", str(args.repeat),
        ]  # fmt: skip
        if args.no_targeted or i != len(sizes) - 1:
            cmd.append("--no-targeted")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"size {size} failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(line[len("RESULT ") :]))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    header = "buckets | roles | endpoints | resources | calls | scan s | floor s | ratio | RSS MB"
    print(f"| {header} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['buckets']} | {r['roles']} | {r['endpoints']} | {r['resources']} | "
            f"{r['calls']} | {r['scan_s']:.2f} | {r['floor_s']:.2f} | "
            f"{r['scan_s'] / r['floor_s']:.2f} | {r['rss_peak_mb']:.0f} |"
        )
    for r in rows:
        print(f"ratio at {r['buckets']} buckets: {r['scan_s'] / r['floor_s']:.2f} (target <= 1.3)")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        span = b["buckets"] - a["buckets"]
        t_slope = (b["scan_s"] - a["scan_s"]) / span * 1000
        f_slope = (b["floor_s"] - a["floor_s"]) / span * 1000
        m_slope = (b["rss_peak_mb"] - a["rss_peak_mb"]) / span * 1000
        per_a, per_b = a["scan_s"] / a["buckets"], b["scan_s"] / b["buckets"]
        print(f"slope of scan time: {t_slope:.1f} ms per bucket (floor {f_slope:.1f})")
        print(f"slope of peak RSS: {m_slope:.1f} MB per 1000 buckets")
        print(f"time per bucket, largest/smallest estate: {per_b / per_a:.2f} (1.0 = linear)")
    last = rows[-1]
    if "pipeline_targeted_s" in last:
        share = last["pipeline_targeted_s"] / last["pipeline_full_s"]
        print(
            f"targeted --model scan at {last['buckets']} buckets: "
            f"{last['pipeline_targeted_s']:.2f} s vs full {last['pipeline_full_s']:.2f} s = "
            f"{share * 100:.1f} % ({last['targeted_judged']} resources judged; target < 5 %)"
        )


if __name__ == "__main__":
    main()
