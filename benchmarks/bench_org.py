"""An organization scan against the same estate in one account, in the same run.

On one moto server: an AWS Organization of M member accounts with B buckets each (a fifth
holding a model directory) and R roles each, read with `aws:org=true,role_name=...`; and, in
the management account, the same M x B buckets and M x R roles, read with plain `aws:`. The
ratio is what reading by account costs (listing the organization, one AssumeRole and one set
of account-wide calls per account, `accounts_in_parallel` accounts at a time on the one call
pool) against reading everything through one account. Run:
`python -m benchmarks.bench_org [--accounts 20 --buckets 50 --roles 10]`.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.bench_aws_source import _weights
from scanner.demo.aws_estate import policy, trust
from scanner.sources.aws.source import AwsSource
from scanner.sources.registry import parse_spec
from tests.servers.moto import MotoServer, moto_server

MANAGEMENT = "123456789012"
ROLE = "ModelwardReadOnly"
TRUST = trust({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"})


def seed_account(moto: MotoServer, account: str, prefix: str, buckets: int, roles: int) -> None:
    s3 = moto.client("s3", account=account)
    iam = moto.client("iam", account=account)
    weights = _weights()

    def bucket(i: int) -> None:
        name = f"{prefix}-{i:04d}"
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="data/part-0.csv", Body=b"a,b\n")
        if i % 5 == 0:
            s3.put_object(Bucket=name, Key=f"models/m{i}/model.safetensors", Body=weights)
            s3.put_object(Bucket=name, Key=f"models/m{i}/config.json", Body=b"{}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bucket, range(buckets)))
    for i in range(roles):
        iam.create_role(RoleName=f"{prefix}-role-{i:03d}", AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(
            RoleName=f"{prefix}-role-{i:03d}",
            PolicyName="read",
            PolicyDocument=policy(
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{prefix}-{i % buckets:04d}/*",
                }
            ),
        )


def collect(spec: str, workers: int) -> tuple[float, int, int]:
    source = AwsSource(parse_spec(spec, options={"workers": workers}))
    started = time.perf_counter()
    collection = source.collect(lambda _m: None)
    elapsed = time.perf_counter() - started
    assert not collection.problems, collection.problems[:3]
    return elapsed, len(collection.resources), sum(source.calls.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--buckets", type=int, default=50, help="per member account")
    ap.add_argument("--roles", type=int, default=10, help="per member account")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with moto_server() as moto:
        os.environ.update(moto.env())
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        started = time.perf_counter()
        org = moto.client("organizations")
        org.create_organization(FeatureSet="ALL")
        for i in range(args.accounts):
            created = org.create_account(Email=f"m{i}@example.com", AccountName=f"member-{i}")
            account = created["CreateAccountStatus"]["AccountId"]
            moto.client("iam", account=account).create_role(
                RoleName=ROLE, AssumeRolePolicyDocument=TRUST
            )
            seed_account(moto, account, f"org{i:02d}", args.buckets, args.roles)
        seed_account(
            moto, MANAGEMENT, "one", args.accounts * args.buckets, args.accounts * args.roles
        )
        print(
            f"seeded {args.accounts} accounts x {args.buckets} buckets, and one account of "
            f"{args.accounts * args.buckets}, in {time.perf_counter() - started:.0f} s"
        )
        org_spec = f"aws:org=true,role_name={ROLE},exclude_accounts={MANAGEMENT}"
        collect(org_spec, args.workers)  # warm-up: clients, service models
        orgs, ones = [], []
        for _ in range(args.repeat):
            orgs.append(collect(org_spec, args.workers))
            ones.append(collect("aws:", args.workers))
        best_org, best_one = min(orgs), min(ones)
    print(f"load average: {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"org scan:    {best_org[0]:.2f} s ({best_org[1]} resources, {best_org[2]} calls)")
    print(f"one account: {best_one[0]:.2f} s ({best_one[1]} resources, {best_one[2]} calls)")
    print(f"ratio org/one account: {best_org[0] / best_one[0]:.2f}")


if __name__ == "__main__":
    main()
