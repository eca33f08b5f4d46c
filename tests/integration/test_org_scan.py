"""Whole organisations on the moto server: org=true, shards and their merge, targeted scans.

The estate is an AWS Organization of a management account and three members, with IAM
enforced (`/moto-api/reset-auth`, global to the server: this module runs its own). The
scanner is a management-account user holding docs/iam-policy.json, except that its
`sts:AssumeRole` names the roles of every account but one: that account fails, the others
are read. Across accounts: a SageMaker version registered in `ml` whose files are in a
bucket of `data`, and a role of `ml` that bucket's policy lets read. Neither a shard of `ml`
nor one of `data` can see both ends; the merge must.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.sources.shards import account_unit, owner
from tests.aws_estate import aws_env, policy, safetensors, trust
from tests.helpers import REPO, CliResult, load_results
from tests.servers.fault_proxy import FaultProxy
from tests.servers.moto import moto_server

pytestmark = pytest.mark.slow

MANAGEMENT = "123456789012"
ROLE = "ModelwardReadOnly"
AS_OF = "2026-06-01"
POLICY = json.loads((REPO / "docs" / "iam-policy.json").read_text())
READ_MODELS = "arn:aws:s3:::data-models/*"
MOTO_ONLY = {  # moto checks the account public-access block as this (test_aws_permissions.py)
    "Sid": "MotoAccountPab",
    "Effect": "Allow",
    "Action": "s3:GetPublicAccessBlock",
    "Resource": "*",
}


def _member_policy() -> dict:
    doc = copy.deepcopy(POLICY)
    doc["Statement"] = [
        s for s in doc["Statement"] if s["Sid"] != "ModelwardOrganizationManagementAccount"
    ]
    doc["Statement"].append(MOTO_ONLY)
    return doc


def _scanner_policy(assumable: list[str]) -> dict:
    """docs/iam-policy.json, with sts:AssumeRole limited to the roles of `assumable`."""
    doc = copy.deepcopy(POLICY)
    for st in doc["Statement"]:
        if st["Sid"] == "ModelwardOrganizationManagementAccount":
            st["Action"] = [a for a in st["Action"] if a != "sts:AssumeRole"]
    doc["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": [f"arn:aws:iam::{a}:role/{ROLE}" for a in assumable],
        }
    )
    doc["Statement"].append(MOTO_ONLY)
    return doc


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    with moto_server() as server:
        organizations = server.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        root = organizations.list_roots()["Roots"][0]["Id"]
        ml_ou = organizations.create_organizational_unit(ParentId=root, Name="ml")[
            "OrganizationalUnit"
        ]["Id"]
        # Account ids are random: members are added until the two of a 2-shard scan each
        # own one, so that `ml` and `data` (the two ends of every cross-account link) are
        # read by different shards.
        members: list[str] = []
        for i in range(40):
            created = organizations.create_account(
                Email=f"member{i}@example.com", AccountName=f"member-{i}"
            )
            members.append(created["CreateAccountStatus"]["AccountId"])
            shards = {owner(account_unit("aws", m), 2) for m in members}
            if len(members) >= 3 and shards == {1, 2}:
                break
        ml = next(m for m in members if owner(account_unit("aws", m), 2) == 1)
        data = next(m for m in members if owner(account_unit("aws", m), 2) == 2)
        locked = next(m for m in members if m not in (ml, data))
        accounts = {"management": MANAGEMENT, "ml": ml, "data": data, "locked": locked}
        accounts.update({f"spare-{m}": m for m in members if m not in (ml, data, locked)})
        organizations.move_account(
            AccountId=accounts["ml"], SourceParentId=root, DestinationParentId=ml_ou
        )
        for name, account in accounts.items():
            name = name.split("-")[0]
            iam = server.client("iam", account=account)
            iam.create_role(
                RoleName=ROLE,
                AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}),
            )
            iam.put_role_policy(
                RoleName=ROLE, PolicyName="read", PolicyDocument=json.dumps(_member_policy())
            )
            s3 = server.client("s3", account=account)
            bucket = f"{name}-logs" if name != "spare" else f"spare-{account}-logs"
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="2026/01/log.txt", Body=b"x")
        # The ml account's training role reads the data account's model bucket.
        ml_iam = server.client("iam", account=ml)
        ml_iam.create_role(
            RoleName="trainer",
            AssumeRolePolicyDocument=trust({"Service": "sagemaker.amazonaws.com"}),
        )
        ml_iam.put_role_policy(
            RoleName="trainer",
            PolicyName="read-models",
            PolicyDocument=policy(
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": READ_MODELS}
            ),
        )
        data_s3 = server.client("s3", account=data)
        data_s3.create_bucket(Bucket="data-models")
        data_s3.put_object(
            Bucket="data-models", Key="fraud/1/model.safetensors", Body=safetensors()
        )
        data_s3.put_object(Bucket="data-models", Key="fraud/1/config.json", Body=b"{}")
        data_s3.put_object(
            Bucket="data-models", Key="churn/1/model.safetensors", Body=safetensors()
        )
        trainer = f"arn:aws:iam::{ml}:role/trainer"
        data_s3.put_bucket_policy(
            Bucket="data-models",
            Policy=policy(
                {
                    "Sid": "TrainerReads",
                    "Effect": "Allow",
                    "Principal": {"AWS": trainer},
                    "Action": "s3:GetObject",
                    "Resource": READ_MODELS,
                }
            ),
        )
        sm = server.client("sagemaker", account=ml)
        sm.create_model_package_group(ModelPackageGroupName="fraud")
        sm.create_model_package(
            ModelPackageGroupName="fraud",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1",
                        "ModelDataUrl": "s3://data-models/fraud/1",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={"owner": "risk", "ip_value": "high"},
        )
        iam = server.client("iam")
        iam.create_user(UserName="scanner")
        assumable = [a for a in accounts.values() if a != locked]  # "locked" must fail
        iam.put_user_policy(
            UserName="scanner",
            PolicyName="modelward",
            PolicyDocument=json.dumps(_scanner_policy(assumable)),
        )
        key = iam.create_access_key(UserName="scanner")["AccessKey"]
        request = urllib.request.Request(
            f"{server.url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        env = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        yield server, env, accounts, ml_ou, tmp_path_factory.mktemp("org")


# moto, with IAM enforced, denies the management user AssumeRole into its own account's role
# (a real organization would have the role there too): the management account is left out.
ORG = f"aws:org=true,role_name={ROLE},exclude_accounts={MANAGEMENT}"


# moto's enforced IAM refuses every API Gateway and GuardDuty call whatever the policy
# (test_aws_permissions.py): the scans here judge storage, access and integrity, whose
# policies read no endpoint or detector, so those API families are not called at all.
POLICIES = ("--policy", "MW-STO-*", "--policy", "MW-IAM-*", "--policy", "MW-INT-*")


def _scan(cli, org, out: Path, *args: str, spec: str = ORG):
    server, env, *_ = org
    with aws_env(server, **env):
        r = cli("scan", "--source", spec, "--as-of", AS_OF, "-o", str(out), "-q", *POLICIES, *args)
    return r


def _normalised(path: Path) -> str:
    document = json.loads(path.read_text())
    for key in ("id", "started_at", "finished_at"):
        document["scan"][key] = "-"
    return json.dumps(document, indent=2, sort_keys=True)


def test_org_scan_reads_every_account_and_one_failure_hides_none(cli, org):
    _server, _env, accounts, _ou, tmp = org
    r = _scan(cli, org, tmp / "all")
    doc = load_results(tmp / "all")
    assert r.code == 3, r.err  # one account could not be read
    (source,) = doc["scan"]["sources"]
    statuses = {a["id"]: a for a in source["accounts"]}
    assert sorted(statuses) == sorted(a for n, a in accounts.items() if n != "management")
    locked = statuses[accounts["locked"]]
    assert locked["status"] == "error"
    assert f"{accounts['locked']}:role/{ROLE}: cannot assume role (AccessDenied)" in locked["error"]
    assert locked["name"].startswith("member-")
    for name in ("ml", "data"):
        assert statuses[accounts[name]]["status"] == "ok", statuses[accounts[name]]
        assert statuses[accounts[name]]["resource_count"] > 0
    # API families no selected policy reads were never called (they would be denied here).
    assert not [p for p in source["problems"] if "apigateway" in p or "guardduty" in p]
    ids = {r["id"] for r in doc["resources"]}
    assert {"s3://ml-logs", "s3://data-logs", "s3://data-models"} <= ids
    assert not {"s3://locked-logs", "s3://management-logs"} & ids
    assert source["error"].startswith(f"arn:aws:iam::{accounts['locked']}:role/{ROLE}")
    # The trainer role of one account reads the other's bucket: joined across accounts.
    resources = {r["id"]: r for r in doc["resources"]}
    trainer = resources[f"arn:aws:iam::{accounts['ml']}:role/trainer"]
    assert {"$ref": "s3://data-models"} in trainer["attributes"]["can_read"]
    # --allow-partial forgives the account, not the findings.
    r = _scan(cli, org, tmp / "partial", "--allow-partial", "--fail-on", "none")
    assert r.code == 0, r.err


def test_include_and_exclude_by_account_and_ou(cli, org):
    _server, _env, accounts, ml_ou, tmp = org
    r = _scan(cli, org, tmp / "ou", "--fail-on", "none", spec=f"{ORG},ous={ml_ou}")
    doc = load_results(tmp / "ou")
    (source,) = doc["scan"]["sources"]
    assert r.code == 0, r.err
    assert [(a["id"], a["ou"]) for a in source["accounts"]] == [(accounts["ml"], ml_ou)]
    spec = f"aws:org=true,role_name={ROLE},exclude_accounts={accounts['locked']}+{MANAGEMENT}"
    r = _scan(cli, org, tmp / "ex", "--fail-on", "none", spec=spec)
    (source,) = load_results(tmp / "ex")["scan"]["sources"]
    assert r.code == 0, r.err
    assert {a["id"] for a in source["accounts"]} == {
        a for n, a in accounts.items() if n not in ("locked", "management")
    }
    assert source["status"] == "ok"


def test_unknown_ou_is_a_problem_not_a_silent_empty_scan(cli, org):
    _server, _env, _accounts, _ou, tmp = org
    r = _scan(cli, org, tmp / "noou", spec=f"{ORG},ous=ou-abcd-12345678")
    (source,) = load_results(tmp / "noou")["scan"]["sources"]
    assert r.code == 3
    assert source["problems"][0].startswith("organizational unit ou-abcd-12345678: cannot list")


@pytest.fixture(scope="module")
def cli_module():
    """The CLI in-process for module fixtures (output is not captured: only the code counts)."""

    def run(*args: str) -> CliResult:
        return CliResult(main(list(args)), "", "")

    return run


@pytest.fixture(scope="module")
def sharded(cli_module, org):
    """One unsharded scan and its two shards (`ml` and `data` are in different shards: the
    fixture chose them so)."""
    _server, _env, _accounts, _ou, tmp = org
    full = _scan(cli_module, org, tmp / "full")
    shards = []
    for k in (1, 2):
        _scan(cli_module, org, tmp / f"shard-{k}", "--shard", f"{k}/2")
        shards.append(str(tmp / f"shard-{k}" / "results.json"))
    return full, shards


def test_shards_merge_into_the_unsharded_result_byte_for_byte(cli, org, sharded):
    tmp = org[-1]
    full, shards = sharded
    for k, path in enumerate(shards, start=1):
        doc = json.loads(Path(path).read_text())
        assert doc["scan"]["shard"] == {"index": k, "count": 2, "sources": [ORG]}
        # Neither shard alone links the version in `ml` to the bucket in `data`.
        versions = [r for r in doc["resources"] if r["type"] == "model_version"]
        storage = {r["id"] for r in doc["resources"] if r["type"] == "storage"}
        assert not (versions and "s3://data-models" in storage)
    merged = cli("merge", *shards, *POLICIES, "-o", str(tmp / "merged"), "-q")
    assert merged.code == full.code == 3, merged.err
    assert _normalised(tmp / "merged" / "results.json") == _normalised(
        tmp / "full" / "results.json"
    )
    doc = load_results(tmp / "merged")
    resources = {r["id"]: r for r in doc["resources"]}
    assert resources["s3://data-models"]["attributes"]["holds_high_value_models"] is True
    assert "shard" not in doc["scan"]


def test_merge_refuses_an_incomplete_or_mixed_set(cli, org, sharded):
    tmp = org[-1]
    _full, (one, two) = sharded
    r = cli("merge", one, *POLICIES, "-o", str(tmp / "bad"))
    assert r.code == 2 and "shard 2/2 is missing" in r.err
    r = cli("merge", one, one, two, *POLICIES, "-o", str(tmp / "bad"))
    assert r.code == 2 and "shard 1/2 is given twice" in r.err
    whole = str(tmp / "full" / "results.json")
    r = cli("merge", one, whole, *POLICIES, "-o", str(tmp / "bad"))
    assert r.code == 2 and "not a shard result" in r.err
    r = cli("merge", one, two, "--policy", "MW-STO-*", "-o", str(tmp / "bad"))
    assert r.code == 2 and "another policy pack" in r.err
    assert not (tmp / "bad" / "results.json").exists()


def test_targeted_model_scan_reads_what_the_deployment_touches(cli, org):
    _server, _env, accounts, _ou, tmp = org
    spec = f"aws:org=true,role_name={ROLE},exclude_accounts={accounts['locked']}+{MANAGEMENT}"
    r = _scan(cli, org, tmp / "target", "--model", "fraud", "--fail-on", "none", spec=spec)
    assert r.code == 0, r.err
    doc = load_results(tmp / "target")
    ids = {r["id"] for r in doc["resources"]}
    judged = set(doc["scan"]["target"]["judged"])
    assert doc["scan"]["target"]["model"] == "fraud"
    assert "s3://data-models" in judged  # the bucket in another account than the registry
    assert "s3://data-models/fraud/1" in judged
    assert f"arn:aws:iam::{accounts['ml']}:role/trainer" in judged  # the bucket's reader
    assert not any(i.endswith("-logs") for i in ids)  # no other bucket is read
    assert {f["resource_id"] for f in doc["findings"]} <= judged | {
        f"modelward:missing/{t}" for t in ("model", "model_version", "artefact", "storage")
    }
    assert {p["resource"] for p in doc["policies"]} <= {  # only policies for what it touches
        "model", "model_version", "artefact", "storage", "principal", "endpoint"
    }  # fmt: skip
    # --resource: one bucket and its readers.
    r = _scan(cli, org, tmp / "res", "--resource", "s3://data-models", "--fail-on", "none",
              spec=spec)  # fmt: skip
    doc = load_results(tmp / "res")
    assert r.code == 0, r.err
    assert {r["id"] for r in doc["resources"] if r["type"] == "storage"} == {"s3://data-models"}


def test_org_options_are_checked_before_any_call(cli, org):
    server, env, *_ = org
    with aws_env(server, **env):
        r = cli("scan", "--source", "aws:org=true")
        assert r.code == 2 and "org=true needs role_name=NAME" in r.err
        r = cli("scan", "--source", f"{ORG},accounts=12345")
        assert r.code == 2 and "is not a 12-digit account id" in r.err
        r = cli("scan", "--source", "aws:ous=ou-abcd-12345678")
        assert r.code == 2 and "ous needs org=true" in r.err
        r = cli("scan", "--source", ORG, "--shard", "3/2")
        assert r.code == 2 and "K must be between 1 and N" in r.err


@pytest.mark.parametrize(
    ("kind", "operation", "spec"),
    [
        ("empty", "organizations:ListAccounts", ORG),
        ("html", "organizations:ListAccounts", ORG),
        ("cut", "organizations:ListAccounts", ORG),
        ("empty", "organizations:ListAccountsForParent", f"{ORG},ous=OU"),
    ],
)
def test_a_malformed_account_list_is_never_an_organisation_of_no_accounts(
    cli, org, kind, operation, spec
):
    """An empty, HTML or cut 200 to the account listing would read as "no accounts", and a
    scan of nothing passes every gate: it is a malformed answer, the scan exits 3."""
    server, env, _accounts, ou, tmp = org
    out = tmp / f"malformed-{kind}-{operation.split(':')[1]}"
    with FaultProxy(server.url) as proxy:
        proxy.fault(kind, operation)
        with aws_env(server, **env, AWS_ENDPOINT_URL=proxy.url):
            r = cli(
                "scan", "--source", spec.replace("OU", ou), "--as-of", AS_OF, "-o", str(out),
                "-q", *POLICIES,
            )  # fmt: skip
        assert operation in proxy.seen
    assert r.code == 3, r.err
    if operation == "organizations:ListAccounts":
        assert f"malformed answer from {operation}" in r.err
        assert "Traceback" not in r.err
    else:
        (source,) = load_results(out)["scan"]["sources"]
        assert any(f"malformed answer from {operation}" in p for p in source["problems"])
