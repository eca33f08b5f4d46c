"""IAM users, groups and roles of one account from one `GetAccountAuthorizationDetails` pass.

One paginated call returns every principal with its inline policies, attached managed
policies, group memberships, role trust policies, permission boundaries and the managed
policy documents themselves - no call per principal. Each principal's identity statements
are flattened here (a user's include its groups' policies, labelled with the group), so the
access evaluation only matches statements against buckets.

Principal kind (docs/resource-model.md): users are human; groups are `group`; a role is
`human` when its trust policy lets people in (an account root or user, SAML federation, `*`,
or another human role), otherwise `service` (AWS services, OIDC workload identities, roles
assumed only by other service roles).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.actions import object_read_actions
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.iam_eval import (
    PolicyDocumentError,
    Sourced,
    Statement,
    allowed_actions,
    parse_policy,
)
from scanner.sources.aws.options import AwsOptions
from scanner.sources.tags import is_true

ADMIN_POLICY_SUFFIX = ":policy/AdministratorAccess"
_ASSUME = (
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:*",
    "*",
)


@dataclass
class IamPrincipal:
    arn: str
    name: str
    type: str  # user | group | role
    account: str
    statements: list[Sourced] = field(default_factory=list)  # read-relevant identity statements
    admin: bool = False
    groups: list[str] = field(default_factory=list)
    trust: tuple[Statement, ...] = ()
    max_session: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    boundary: tuple[Statement, ...] | Unknown | None = None
    kind: str = "human"
    cross_account: bool = False
    just_in_time: bool | Unknown | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class IamAccount:
    account: str
    principals: dict[str, IamPrincipal]  # by ARN
    problems: list[str] = field(default_factory=list)


def load(ctx: AwsContext, options: AwsOptions) -> IamAccount | Unknown:
    lists = ctx.pages_multi(
        "iam",
        None,
        "get_account_authorization_details",
        ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"),
    )
    if isinstance(lists, Unknown):
        return lists
    # Every entity names itself (a user, group or role skipped would be a reader missing).
    for key, names in (
        ("UserDetailList", ("Arn", "UserName")),
        ("GroupDetailList", ("Arn", "GroupName")),
        ("RoleDetailList", ("Arn", "RoleName")),
        ("Policies", ("Arn",)),
    ):
        checked = ctx.items(lists[key], "iam:GetAccountAuthorizationDetails", names)
        if isinstance(checked, Unknown):
            return checked
    account = IamAccount(ctx.account, {})
    managed: dict[str, tuple[Statement, ...]] = {}
    for pol in lists["Policies"]:
        arn = pol.get("Arn", "")
        default = next(
            (v for v in pol.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None
        )
        if default is None:
            continue
        try:
            managed[arn] = parse_policy(default.get("Document", {}), arn)
        except PolicyDocumentError as exc:
            account.problems.append(f"IAM policy {arn}: {exc}")
    reads = object_read_actions()

    def attached(entity: dict[str, Any], label: str) -> tuple[list[Statement], bool]:
        out: list[Statement] = []
        admin = False
        for inline in (
            entity.get("UserPolicyList", [])
            + entity.get("GroupPolicyList", [])
            + entity.get("RolePolicyList", [])
        ):
            name = f"inline {inline.get('PolicyName')} on {label}"
            try:
                out.extend(parse_policy(inline.get("PolicyDocument", {}), name))
            except PolicyDocumentError as exc:
                account.problems.append(f"IAM {exc}")
        for ref in entity.get("AttachedManagedPolicies", []):
            arn = ref.get("PolicyArn", "")
            admin = admin or arn.endswith(ADMIN_POLICY_SUFFIX)
            if arn in managed:
                out.extend(managed[arn])
            else:
                account.problems.append(
                    f"IAM {label}: attached policy {arn} is not in the authorization details"
                )
        admin = admin or any(_is_admin(st) for st in out)
        return out, admin

    def relevant(statements: Iterable[Statement], via: str) -> list[Sourced]:
        out = []
        for st in statements:
            actions = allowed_actions(st, reads)
            if actions:
                out.append(Sourced(st, via, actions))
        return out

    group_statements: dict[str, tuple[list[Statement], bool]] = {}
    for g in lists["GroupDetailList"]:
        label = f"group/{g.get('GroupName')}"
        stmts, admin = attached(g, label)
        group_statements[g.get("GroupName", "")] = (stmts, admin)
        p = IamPrincipal(g["Arn"], g.get("GroupName", ""), "group", ctx.account, kind="group")
        p.statements = relevant(stmts, "identity_policy")
        p.admin = admin
        p.just_in_time = False
        p.raw = _raw(g)
        account.principals[p.arn] = p

    for u in lists["UserDetailList"]:
        label = f"user/{u.get('UserName')}"
        stmts, admin = attached(u, label)
        p = IamPrincipal(u["Arn"], u.get("UserName", ""), "user", ctx.account, kind="human")
        p.groups = list(u.get("GroupList", []))
        for g in p.groups:
            g_stmts, g_admin = group_statements.get(g, ([], False))
            stmts = stmts + g_stmts
            admin = admin or g_admin
        p.statements = relevant(stmts, "identity_policy")
        p.admin = admin
        p.just_in_time = False
        p.tags = _tags(u)
        p.boundary = _boundary(u, managed)
        p.raw = _raw(u)
        account.principals[p.arn] = p

    roles: list[IamPrincipal] = []
    for r in lists["RoleDetailList"]:
        label = f"role/{r.get('RoleName')}"
        stmts, admin = attached(r, label)
        p = IamPrincipal(r["Arn"], r.get("RoleName", ""), "role", ctx.account)
        p.statements = relevant(stmts, "identity_policy")
        p.admin = admin
        p.tags = _tags(r)
        p.max_session = r.get("MaxSessionDuration")  # not in GAAD's RoleDetail: see below
        p.boundary = _boundary(r, managed)
        try:
            p.trust = parse_policy(
                r.get("AssumeRolePolicyDocument", {}), f"trust policy of {label}"
            )
        except PolicyDocumentError as exc:
            account.problems.append(f"IAM {exc}")
        p.raw = _raw(r)
        account.principals[p.arn] = p
        roles.append(p)
    _classify_roles(roles, account, options)
    # A human role's trust that requires MFA makes it just-in-time only with a short maximum
    # session, which GetAccountAuthorizationDetails does not return: ListRoles (100 roles a
    # page) is read only when some role needs it.
    pending = [p for p in roles if p.kind == "human" and p.just_in_time is None]
    if pending:
        listed = ctx.pages("iam", None, "list_roles", "Roles", item_key="Arn")
        sessions = (
            {}
            if isinstance(listed, Unknown) or listed is None
            else {r.get("Arn"): r.get("MaxSessionDuration") for r in listed}
        )
        for p in pending:
            if isinstance(listed, Unknown):
                p.just_in_time = Unknown(f"maximum session duration unreadable ({listed.reason})")
                continue
            p.max_session = sessions.get(p.arn)
            limit = options.jit_max_session_seconds
            p.just_in_time = p.max_session is not None and p.max_session <= limit
    return account


def _raw(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if k not in ("CreateDate", "RoleLastUsed")}


def _tags(entity: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value", "")) for t in entity.get("Tags", []) or []}


def _boundary(
    entity: dict[str, Any], managed: dict[str, tuple[Statement, ...]]
) -> tuple[Statement, ...] | Unknown | None:
    arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if not arn:
        return None
    if arn in managed:
        return managed[arn]
    return Unknown(f"permission boundary {arn} is not readable")


def _is_admin(st: Statement) -> bool:
    return (
        st.effect == "Allow"
        and st.not_actions is None
        and any(a in ("*", "*:*") for a in st.actions)
        and st.not_resources is None
        and "*" in st.resources
    )


def _trust_principals(p: IamPrincipal) -> list[tuple[str, str, Statement]]:
    out: list[tuple[str, str, Statement]] = []
    for st in p.trust:
        if st.effect != "Allow":
            continue
        if st.actions and not any(a.lower() in _ASSUME for a in st.actions):
            continue
        out.extend((kind, value, st) for kind, value in st.principals)
    return out


def _account_of(value: str) -> str | None:
    if value.isdigit() and len(value) == 12:
        return value
    parts = value.split(":")
    return parts[4] if len(parts) > 4 and parts[0] == "arn" else None


def _classify_roles(roles: list[IamPrincipal], account: IamAccount, options: AwsOptions) -> None:
    # Two passes: a role assumable from another role is human when that role is.
    direct: dict[str, str] = {}
    via_roles: dict[str, list[str]] = {}
    for p in roles:
        kinds: set[str] = set()
        for kind, value, _ in _trust_principals(p):
            acct = _account_of(value)
            if kind == "*" or value == "*":
                kinds.add("human")
                p.cross_account = True
            elif kind == "Service":
                kinds.add("service")
            elif kind == "Federated":
                kinds.add("human" if "saml-provider" in value else "service")
            elif kind == "AWS":
                if acct and acct != account.account:
                    p.cross_account = True
                if ":role/" in value or ":assumed-role/" in value:
                    via_roles.setdefault(p.arn, []).append(value)
                else:
                    kinds.add("human")
        direct[p.arn] = "human" if "human" in kinds else "service"
    for p in roles:
        kind = direct[p.arn]
        if kind != "human":
            for value in via_roles.get(p.arn, []):
                if direct.get(value) == "human":
                    kind = "human"
        p.kind = kind
        if kind == "human":
            p.just_in_time = _just_in_time(p, options)


def _just_in_time(p: IamPrincipal, options: AwsOptions) -> bool | None:
    """True/False, or None: the trust requires MFA, so the session length decides."""
    if is_true(p.tags.get(options.jit_tag)):
        return True
    if any(fnmatch.fnmatchcase(p.name, pat) for pat in options.jit_role_patterns):
        return True
    human_paths = [
        st
        for kind, value, st in _trust_principals(p)
        if kind not in ("Service",) and not (kind == "Federated" and "saml-provider" not in value)
    ]
    if not human_paths or not all(_requires_mfa(st) for st in human_paths):
        return False
    return None


def _requires_mfa(st: Statement) -> bool:
    for op, keys in st.conditions.items():
        for key, values in keys.items():
            k = key.lower()
            if k == "aws:multifactorauthpresent" and op.startswith("Bool") and "true" in values:
                return not op.endswith("IfExists")
            if k == "aws:multifactorauthage" and op.startswith("NumericLessThan"):
                return not op.endswith("IfExists")
    return False
