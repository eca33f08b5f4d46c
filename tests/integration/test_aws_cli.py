"""`modelward scan --source aws:` in a real process, AWS_ENDPOINT_URL pointing at moto."""

from __future__ import annotations

import json
import os

import pytest

from tests.aws_estate import ACCOUNT, OTHER, policy, safetensors, trust
from tests.helpers import REPO, CliResult, load_results, write

pytestmark = pytest.mark.slow

# Small policies shaped like the built-in MW-STO-01/02/03 and MW-IAM-01/03/04.
POLICIES = {
    "sto01.yaml": """
        id: T-STO-01
        title: Model storage is not publicly readable
        severity: critical
        maturity: applied
        resource: storage
        scope: {field: holds_models, equals: true}
        check:
          all:
            - {field: public, equals: false}
            - {field: readers, no_item: {field: kind, equals: anonymous}}
    """,
    "sto02.yaml": """
        id: T-STO-02
        title: Model storage is encrypted with a customer-managed key
        severity: high
        maturity: advanced
        resource: storage
        scope: {field: holds_models, equals: true}
        check: {field: encryption.customer_managed_key, equals: true}
    """,
    "sto03.yaml": """
        id: T-STO-03
        title: Reads of model objects are logged
        severity: medium
        maturity: advanced
        resource: storage
        scope: {field: holds_models, equals: true}
        check:
          any:
            - {field: access_logging.read_events, equals: true}
            - {field: access_logging.server_access, equals: true}
    """,
    "iam01.yaml": """
        id: T-IAM-01
        title: Few principals read model storage
        severity: high
        maturity: applied
        resource: storage
        scope: {field: holds_models, equals: true}
        check: {field: readers, count_at_most: 2}
    """,
    "iam03.yaml": """
        id: T-IAM-03
        title: Humans read model storage only through just-in-time elevation
        severity: high
        maturity: advanced
        resource: principal
        scope: {field: kind, equals: human}
        check:
          any:
            - {field: can_read, count_at_most: 0}
            - {field: just_in_time, equals: true}
    """,
    "iam04.yaml": """
        id: T-IAM-04
        title: Cross-account grants are limited to the organisation
        severity: high
        maturity: advanced
        resource: storage
        check:
          field: access_grants
          every_item:
            any:
              - {field: cross_account, equals: false}
              - {field: restricted_by, contains: org}
    """,
}


def run_subprocess(*args: str, env: dict[str, str]) -> CliResult:
    """Like tests.helpers.run_subprocess, with no AWS_* variable of the caller leaking in."""
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "PYTHONPATH": str(REPO), **env},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def estate(moto, tmp_path_factory):
    s3 = moto.client("s3")
    iam = moto.client("iam")
    key = moto.client("kms").create_key()["KeyMetadata"]["KeyId"]
    for name in ("open-models", "good-models"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="fraud/3/model.safetensors", Body=safetensors())
    s3.put_bucket_acl(Bucket="open-models", ACL="public-read")
    s3.put_bucket_policy(
        Bucket="open-models",
        Policy=policy(
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::open-models/*",
            }
        ),
    )
    s3.put_bucket_encryption(
        Bucket="good-models",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    }
                }
            ]
        },
    )
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_policy(
        Bucket="logs",
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::logs/*",
            }
        ),
    )
    s3.put_bucket_logging(
        Bucket="good-models",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "g/"}},
    )
    iam.create_role(
        RoleName="analyst", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    )
    iam.put_role_policy(
        RoleName="analyst",
        PolicyName="read",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )
    pack = tmp_path_factory.mktemp("pack")
    for name, text in POLICIES.items():
        write(pack / name, text)
    out = tmp_path_factory.mktemp("out")
    env = {
        **moto.env(),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    result = run_subprocess(
        "scan",
        "--source",
        "aws:",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "-o",
        str(out),
        env=env,
    )
    return result, load_results(out), env, pack, out


def status(results, policy_id, resource_id):
    (f,) = [
        f
        for f in results["findings"]
        if f["policy_id"] == policy_id and f["resource_id"] == resource_id
    ]
    return f["status"]


def test_exit_code_and_source_status(estate):
    result, results, *_ = estate
    assert result.code == 1, result.err
    (source,) = results["scan"]["sources"]
    assert (source["type"], source["status"]) == ("aws", "ok")


def test_storage_findings(estate):
    results = estate[1]
    assert status(results, "T-STO-01", "s3://open-models") == "fail"
    assert status(results, "T-STO-01", "s3://good-models") == "pass"
    assert status(results, "T-STO-01", "s3://logs") == "not_applicable"
    assert status(results, "T-STO-02", "s3://open-models") == "fail"
    assert status(results, "T-STO-02", "s3://good-models") == "pass"
    assert status(results, "T-STO-03", "s3://good-models") == "pass"
    assert status(results, "T-STO-03", "s3://open-models") == "fail"


def test_iam_findings(estate):
    results = estate[1]
    # open-models: anyone (ACL), the partner account and the analyst role
    assert status(results, "T-IAM-01", "s3://open-models") == "fail"
    assert status(results, "T-IAM-01", "s3://good-models") == "pass"
    assert status(results, "T-IAM-03", f"arn:aws:iam::{ACCOUNT}:role/analyst") == "fail"
    assert status(results, "T-IAM-04", "s3://open-models") == "fail"
    assert status(results, "T-IAM-04", "s3://good-models") == "pass"


def test_results_hold_the_aws_resources(estate):
    results = estate[1]
    by_id = {r["id"]: r for r in results["resources"]}
    assert by_id["s3://open-models"]["attributes"]["public"] is True
    assert by_id["s3://good-models/fraud/3"]["type"] == "artefact"
    assert by_id["*"]["attributes"]["kind"] == "anonymous"
    assert json.dumps(results)  # plain JSON all the way down


def test_missing_credentials_exit_2_in_one_line(estate):
    _, _, env, pack, out = estate
    bare = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    r = run_subprocess(
        "scan", "--source", "aws:", "--policies", str(pack), "-o", str(out), env=bare
    )
    assert r.code == 2
    (error,) = [line for line in r.err.splitlines() if "error" in line]
    assert error.startswith("modelward: error: source 'aws:': no AWS credentials found")


def test_unreachable_endpoint_exit_3(estate):
    from tests.servers.moto import free_port

    _, _, env, pack, out = estate
    dead = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    r = run_subprocess(
        "scan", "--source", "aws:", "--policies", str(pack), "-o", str(out), env=dead
    )
    assert r.code == 3
    assert "cannot reach the AWS endpoint" in r.err
