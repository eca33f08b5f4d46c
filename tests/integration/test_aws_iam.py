"""IAM → principal resources and each bucket's readers, seeded through the real APIs (moto)."""

from __future__ import annotations

import pytest

from tests.aws_estate import ACCOUNT, OTHER, attrs, policy, safetensors, scan, trust

pytestmark = pytest.mark.slow

ARN = f"arn:aws:iam::{ACCOUNT}"


def _read(resource: str, action: str | list[str] = "s3:GetObject", **condition) -> dict:
    st = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


@pytest.fixture(scope="module")
def estate(moto):
    s3 = moto.client("s3")
    iam = moto.client("iam")
    for name in ("models", "shared", "locked"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="m/model.safetensors", Body=safetensors())
    # cross-account: a foreign account without and with an organisation condition
    s3.put_bucket_policy(
        Bucket="shared",
        Policy=policy(
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared/*",
            },
            {
                "Sid": "Org",
                "Effect": "Allow",
                "Principal": {"AWS": "999999999999"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
            },
            {
                "Sid": "Direct",
                "Effect": "Allow",
                "Principal": {"AWS": f"{ARN}:role/direct"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared/m/*",
            },
        ),
    )
    # an explicit Deny for one role on the locked bucket
    s3.put_bucket_policy(
        Bucket="locked",
        Policy=policy(
            {
                "Sid": "NoWildcardRole",
                "Effect": "Deny",
                "Principal": {"AWS": f"{ARN}:role/wildcard"},
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::locked/*",
            }
        ),
    )
    service = trust({"Service": "sagemaker.amazonaws.com"})
    iam.create_role(RoleName="wildcard", AssumeRolePolicyDocument=service)
    iam.put_role_policy(
        RoleName="wildcard", PolicyName="all", PolicyDocument=policy(_read("*", "s3:*"))
    )
    iam.create_role(RoleName="exact", AssumeRolePolicyDocument=service)
    iam.put_role_policy(
        RoleName="exact",
        PolicyName="one",
        PolicyDocument=policy(_read("arn:aws:s3:::models/m/*")),
    )
    iam.create_role(RoleName="logs-only", AssumeRolePolicyDocument=service)
    iam.put_role_policy(
        RoleName="logs-only",
        PolicyName="logs",
        PolicyDocument=policy(_read("arn:aws:s3:::models/logs/*", "s3:Get*")),
    )
    iam.create_role(RoleName="direct", AssumeRolePolicyDocument=service)
    # humans: a role assumable by account users, a SAML role, a JIT role, a tagged one
    iam.create_role(RoleName="analyst", AssumeRolePolicyDocument=trust({"AWS": f"{ARN}:root"}))
    iam.create_role(
        RoleName="sso",
        AssumeRolePolicyDocument=policy(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"{ARN}:saml-provider/corp"},
                "Action": "sts:AssumeRoleWithSAML",
            }
        ),
    )
    iam.create_role(
        RoleName="breakglass",
        AssumeRolePolicyDocument=trust(
            {"AWS": f"{ARN}:root"}, Bool={"aws:MultiFactorAuthPresent": "true"}
        ),
        MaxSessionDuration=3600,
    )
    iam.create_role(
        RoleName="elevate",
        AssumeRolePolicyDocument=trust({"AWS": f"{ARN}:root"}),
        Tags=[{"Key": "modelward:jit", "Value": "true"}],
    )
    iam.create_role(
        RoleName="mfa-long-session",
        AssumeRolePolicyDocument=trust(
            {"AWS": f"{ARN}:root"}, Bool={"aws:MultiFactorAuthPresent": "true"}
        ),
        MaxSessionDuration=43200,
    )
    # a role allowed s3:* by its policy but bounded to listing by its permission boundary
    bound = iam.create_policy(
        PolicyName="list-only",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=service, PermissionsBoundary=bound)
    iam.put_role_policy(
        RoleName="bounded", PolicyName="all", PolicyDocument=policy(_read("*", "s3:*"))
    )
    iam.create_role(
        RoleName="partner-role",
        AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{OTHER}:root"}),
    )
    # a user reading through a group with a NotAction policy, an admin user
    iam.create_group(GroupName="ds")
    iam.put_group_policy(
        GroupName="ds",
        PolicyName="most",
        PolicyDocument=policy(
            {"Effect": "Allow", "NotAction": ["iam:*", "s3:Put*"], "Resource": "*"}
        ),
    )
    iam.create_user(UserName="carol")
    iam.add_user_to_group(GroupName="ds", UserName="carol")
    admin = iam.create_policy(
        PolicyName="Admin",
        PolicyDocument=policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.create_user(UserName="root-ish")
    iam.attach_user_policy(UserName="root-ish", PolicyArn=admin)
    iam.create_user(UserName="nobody")
    resources, problems, _ = scan(moto)
    return resources, problems


def principal(estate, name):
    return attrs(estate[0][name if name.startswith("arn:") else f"{ARN}:{name}"])


def readers(estate, bucket):
    return {r["$ref"] for r in attrs(estate[0][f"s3://{bucket}"])["readers"]}


def test_no_problems_but_the_moto_deny(estate):
    # moto applies a bucket policy's object Deny to every caller, whatever its Principal (AWS
    # applies it to role/wildcard only): the scanner's own ranged GET on "locked" is denied.
    assert estate[1] == ["account 123456789012: denied: s3:GetObject (1 call)"]
    (locked,) = [attrs(r) for r in estate[0].values() if r.id == "s3://locked/m"]
    assert locked["files"][0]["format"] == {"$unknown": "denied: s3:GetObject"}


def test_wildcard_identity_grant(estate):
    w = principal(estate, "role/wildcard")
    assert {r["$ref"] for r in w["can_read"]} == {"s3://models", "s3://shared"}
    (g,) = [g for g in w["grants"] if g["storage"] == {"$ref": "s3://models"}]
    assert g["wildcard_action"] is True and g["wildcard_resource"] is True
    assert g["via"] == "identity_policy" and g["policy"] == "inline all on role/wildcard"
    assert "s3:GetObject" in g["actions"]


def test_explicit_bucket_policy_deny_removes_the_reader(estate):
    assert f"{ARN}:role/wildcard" not in readers(estate, "locked")
    assert f"{ARN}:role/wildcard" in readers(estate, "models")


def test_exact_grant_and_a_grant_on_another_prefix(estate):
    e = principal(estate, "role/exact")
    (g,) = e["grants"]
    assert g["wildcard_action"] is False and g["wildcard_resource"] is False
    assert principal(estate, "role/logs-only")["can_read"] == []


def test_not_action_through_a_group(estate):
    carol = principal(estate, "user/carol")
    assert carol["kind"] == "human" and carol["groups"] == ["ds"]
    assert {r["$ref"] for r in carol["can_read"]} == {"s3://models", "s3://shared", "s3://locked"}
    assert carol["grants"][0]["policy"] == "inline most on group/ds"
    assert carol["grants"][0]["wildcard_action"] is True
    group = principal(estate, "group/ds")
    assert group["kind"] == "group" and group["can_read"]
    assert f"{ARN}:group/ds" not in readers(estate, "models")  # groups sign no requests


def test_cross_account_grants_with_and_without_organisation(estate):
    partner = principal(estate, f"arn:aws:iam::{OTHER}:root")
    assert partner["kind"] == "external" and partner["cross_account"] is True
    (g,) = partner["grants"]
    assert g["restricted_by"] == [] and g["via"] == "bucket_policy"
    org = principal(estate, "arn:aws:iam::999999999999:root")
    (g,) = org["grants"]
    assert g["restricted_by"] == ["org"]
    assert g["conditions"] == {"StringEquals": {"aws:PrincipalOrgID": ["o-abc"]}}
    shared = attrs(estate[0]["s3://shared"])
    assert shared["public"] is False
    assert shared["network_restricted"] is False


def test_bucket_policy_names_a_role_directly(estate):
    direct = principal(estate, "role/direct")
    (g,) = direct["grants"]
    assert g["via"] == "bucket_policy" and g["statement"] == "Direct"
    assert g["cross_account"] is False


def test_kinds_and_just_in_time(estate):
    assert principal(estate, "role/wildcard")["kind"] == "service"
    assert "just_in_time" not in principal(estate, "role/wildcard")
    analyst = principal(estate, "role/analyst")
    assert (analyst["kind"], analyst["just_in_time"]) == ("human", False)
    assert principal(estate, "role/sso")["kind"] == "human"
    assert principal(estate, "role/breakglass")["just_in_time"] is True
    assert principal(estate, "role/elevate")["just_in_time"] is True
    long_session = principal(estate, "role/mfa-long-session")
    assert (long_session["just_in_time"], long_session["max_session_seconds"]) == (False, 43200)
    assert principal(estate, "user/nobody")["just_in_time"] is False
    partner = principal(estate, "role/partner-role")
    assert partner["cross_account"] is True and partner["kind"] == "human"
    assert principal(estate, "role/analyst")["cross_account"] is False


def test_permission_boundary_limits_identity_grants(estate):
    assert principal(estate, "role/bounded")["can_read"] == []
    assert f"{ARN}:role/bounded" not in readers(estate, "models")


def test_admin(estate):
    assert principal(estate, "user/root-ish")["admin"] is True
    assert principal(estate, "user/carol")["admin"] is False
    assert principal(estate, "role/wildcard")["admin"] is False  # s3:* is not *:*


def test_reader_count_matches_readers(estate):
    models = attrs(estate[0]["s3://models"])
    assert models["reader_count"] == len(models["readers"])
    assert f"{ARN}:user/root-ish" in readers(estate, "models")
    assert f"{ARN}:user/nobody" not in readers(estate, "models")


def test_jit_by_name_pattern(moto, estate):
    resources, _, _ = scan(moto, options={"jit_role_patterns": ["analy*"]})
    assert attrs(resources[f"{ARN}:role/analyst"])["just_in_time"] is True
