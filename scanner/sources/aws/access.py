"""Who can read each bucket's model objects, and whether anyone at all can.

Combines, per bucket: the bucket policy (its principals matched against every IAM principal
of the account, `*`, and foreign accounts), every principal's identity statements, the bucket
ACL, and the public-access blocks of the bucket and the account. Evaluation of one principal
against one bucket is `iam_eval.evaluate_reads`; this module decides which statements apply
to whom.

Kleene logic for the booleans: `Unknown` (a denied read) never becomes false, and a true from
another path (an ACL that is public whatever the policy says) is not hidden by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.aws.actions import LIST_ACTIONS, object_read_actions
from scanner.sources.aws.iam import IamAccount, IamPrincipal
from scanner.sources.aws.iam_eval import (
    Grant,
    Sourced,
    Statement,
    allowed_actions,
    evaluate_reads,
    restrictions,
    strongly_restricted,
    surely_applies_to,
    tls_only_deny,
)
from scanner.sources.aws.s3 import PAB_FLAGS, BucketFacts
from scanner.sources.aws.s3_objects import model_prefixes

ANYONE = "*"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
Tri = bool | Unknown


def t_or(*values: Tri) -> Tri:
    if any(v is True for v in values):
        return True
    return next((v for v in values if isinstance(v, Unknown)), False)


def t_and(*values: Tri) -> Tri:
    if any(v is False for v in values):
        return False
    return next((v for v in values if isinstance(v, Unknown)), True)


def t_not(value: Tri) -> Tri:
    return value if isinstance(value, Unknown) else not value


@dataclass(frozen=True)
class GrantRecord:
    principal: str
    bucket: str  # storage id
    grant: Grant | None  # None for ACL grants
    via: str
    policy: str
    statement: str
    actions: tuple[str, ...]
    conditions: dict[str, Any]
    restricted_by: tuple[str, ...]
    cross_account: bool
    wildcard_action: bool
    wildcard_resource: bool
    limited_by_denies: tuple[str, ...] = ()

    def as_attr(self, other_key: str, other: Any) -> dict[str, Any]:
        return {
            other_key: other,
            "via": self.via,
            "policy": self.policy,
            "statement": self.statement,
            "actions": list(self.actions),
            "conditions": self.conditions,
            "restricted_by": list(self.restricted_by),
            "cross_account": self.cross_account,
            "wildcard_action": self.wildcard_action,
            "wildcard_resource": self.wildcard_resource,
            "limited_by_denies": list(self.limited_by_denies),
        }


@dataclass
class BucketAccess:
    grants: list[GrantRecord] | Unknown = field(default_factory=list)
    public: Tri = False
    public_reasons: list[str] = field(default_factory=list)
    tls_only: Tri = False
    network_restricted: Tri = False
    external: dict[str, str] = field(default_factory=dict)  # principal id -> account


@dataclass(frozen=True)
class Scope:
    """Everything the evaluation of one account's buckets needs."""

    iam: dict[str, IamAccount | Unknown]  # by account, every scanned account
    account_pab: dict[str, dict[str, bool] | Unknown | None]


def _conditions(st: Statement) -> dict[str, Any]:
    return {op: {k: list(v) for k, v in keys.items()} for op, keys in st.conditions.items()}


def _root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _normalise(value: str) -> str:
    """An AWS principal as written in a policy -> the principal id used in the inventory."""
    if value.isdigit() and len(value) == 12:
        return _root(value)
    if value.startswith("arn:aws:sts::") and ":assumed-role/" in value:
        account = value.split(":")[4]
        role = value.split(":assumed-role/", 1)[1].split("/", 1)[0]
        return f"arn:aws:iam::{account}:role/{role}"
    return value


def _account(pid: str) -> str | None:
    parts = pid.split(":")
    return parts[4] if len(parts) > 4 and parts[0] == "arn" else None


def _names(st: Statement, pid: str, owner: str) -> bool:
    """Does the statement's Principal/NotPrincipal include `pid` for this effect?

    An Allow naming the owner account's root delegates to IAM (grants nothing by itself);
    a Deny naming it applies to every principal of that account.
    """
    acct = _account(pid)
    if st.not_principals is not None:
        listed = {_normalise(v) for k, v in st.not_principals if k == "AWS"}
        excluded = pid in listed or (acct is not None and _root(acct) in listed)
        return not excluded
    for kind, value in st.principals:
        if kind == "*":
            return True
        if kind != "AWS":
            continue
        v = _normalise(value)
        if v == pid:
            return True
        if st.effect == "Deny" and acct and v == _root(acct):
            return True
    return False


def _pab_flag(flag: str, *pabs: dict[str, bool] | Unknown | None) -> Tri:
    values: list[Tri] = []
    for pab in pabs:
        if isinstance(pab, Unknown):
            values.append(pab)
        elif pab is not None:
            values.append(bool(pab.get(flag, False)))
    return t_or(*values) if values else False


def _pab_reason(flag: str, bucket: Any, account: Any) -> str:
    where = [
        name
        for name, pab in (("bucket", bucket), ("account", account))
        if isinstance(pab, dict) and pab.get(flag)
    ]
    return f"{flag} ({' and '.join(where) or 'unknown'})"


def evaluate_bucket(facts: BucketFacts, scope: Scope) -> BucketAccess:
    out = BucketAccess()
    owner = facts.account
    prefixes = model_prefixes(facts)
    whole = [f"arn:aws:s3:::{facts.name}/"]
    reads = object_read_actions()
    account_pab = scope.account_pab.get(owner)
    restrict = _pab_flag("RestrictPublicBuckets", facts.pab, account_pab)
    ignore_acls = _pab_flag("IgnorePublicAcls", facts.pab, account_pab)
    policy = facts.policy
    stmts: tuple[Statement, ...] = () if policy is None or isinstance(policy, Unknown) else policy

    # --- the bucket policy alone: TLS, network restriction, public grants ---
    if isinstance(policy, Unknown):
        out.tls_only = policy
        policy_public: Tri = policy
        network_deny: Tri = policy
    else:
        out.tls_only = any(
            tls_only_deny(st)
            and _names(st, ANYONE, owner)
            and allowed_actions(st, {"s3:GetObject"})
            and all(surely_applies_to(st, p) for p in whole)
            for st in stmts
        )
        network_deny = any(
            st.effect == "Deny"
            and _names(st, ANYONE, owner)
            and {"vpce", "vpc"} & set(restrictions(st))
            and not _restriction_is_other_only(st)
            and allowed_actions(st, reads) == reads
            and all(surely_applies_to(st, p) for p in prefixes)
            for st in stmts
        )
        policy_public = False

    grants: list[GrantRecord] = []
    # --- anonymous: bucket policy statements naming "*" ---
    anyone = [Sourced(st, "bucket_policy") for st in stmts if _names(st, ANYONE, owner)]
    for g in evaluate_reads(anyone, reads, prefixes, facts.name):
        public = not strongly_restricted(g.statement) and not any(
            c in g.restricted_by for c in ("vpce", "vpc", "org", "source_ip")
        )
        record = _record(ANYONE, facts, g, cross_account=True)
        if public:
            reason = (
                f"bucket policy statement {g.statement.sid} allows {', '.join(g.actions)} to anyone"
            )
            if restrict is True:
                out.public_reasons.append(
                    reason
                    + " - blocked by "
                    + _pab_reason("RestrictPublicBuckets", facts.pab, account_pab)
                )
                continue
            out.public_reasons.append(reason)
            policy_public = t_or(policy_public, t_not(restrict))
        grants.append(record)

    # --- the bucket ACL ---
    acl_public: Tri = False
    if isinstance(facts.acl, Unknown):
        acl_public = facts.acl
    else:
        for grant in facts.acl:
            grantee = grant.get("Grantee", {})
            uri = grantee.get("URI")
            perm = grant.get("Permission")
            if uri not in (ALL_USERS, AUTHENTICATED_USERS) or perm not in ("READ", "FULL_CONTROL"):
                continue
            who = "AllUsers" if uri == ALL_USERS else "AuthenticatedUsers (any AWS account)"
            reason = f"bucket ACL grants {perm} to {who}"
            if ignore_acls is True:
                out.public_reasons.append(
                    reason
                    + " - ignored by "
                    + _pab_reason("IgnorePublicAcls", facts.pab, account_pab)
                )
                continue
            out.public_reasons.append(reason)
            acl_public = t_or(acl_public, t_not(ignore_acls))
            grants.append(
                GrantRecord(
                    principal=ANYONE,
                    bucket=facts.id,
                    grant=None,
                    via="acl",
                    policy="bucket ACL",
                    statement=f"{who} {perm}",
                    actions=tuple(sorted(LIST_ACTIONS)),
                    conditions={},
                    restricted_by=(),
                    cross_account=True,
                    wildcard_action=perm == "FULL_CONTROL",
                    wildcard_resource=False,
                )
            )
    out.public = t_or(acl_public, policy_public)

    # --- IAM principals of the owner account ---
    iam = scope.iam.get(owner)
    principals_known: Tri = True
    if isinstance(iam, Unknown):
        principals_known = iam
    elif iam is not None:
        for p in iam.principals.values():
            grants.extend(_principal_grants(p, stmts, facts, prefixes, owner, reads))

    # --- principals of other accounts named by the bucket policy ---
    for pid in _foreign(stmts, owner):
        acct = _account(pid) or "unknown"
        other = scope.iam.get(acct)
        real = other.principals.get(pid) if isinstance(other, IamAccount) else None
        named = [
            Sourced(st, "bucket_policy")
            for st in stmts
            if (st.effect == "Allow" and _explicit(st, pid))
            or (st.effect == "Deny" and _names(st, pid, owner))
        ]
        found = evaluate_reads(named, reads, prefixes, facts.name)
        if found and real is None:
            out.external[pid] = acct
        grants.extend(_record(pid, facts, g, cross_account=True) for g in found)

    if isinstance(policy, Unknown):
        out.grants = Unknown(f"bucket policy unreadable ({policy.reason})")
    elif isinstance(principals_known, Unknown):
        out.grants = Unknown(f"IAM principals unreadable ({principals_known.reason})")
    else:
        out.grants = sorted(grants, key=lambda g: (g.principal, g.via, g.policy, g.statement))
    if isinstance(out.grants, Unknown):
        out.network_restricted = t_or(network_deny, out.grants)
    else:
        every = bool(out.grants) and all({"vpce", "vpc"} & set(g.restricted_by) for g in out.grants)
        out.network_restricted = t_or(network_deny, every)
    return out


def _restriction_is_other_only(st: Statement) -> bool:
    return set(restrictions(st)) <= {"other"}


def _principal_grants(
    p: IamPrincipal,
    stmts: tuple[Statement, ...],
    facts: BucketFacts,
    prefixes: list[str],
    owner: str,
    reads: frozenset[str],
) -> list[GrantRecord]:
    from_bucket = [
        Sourced(st, "bucket_policy")
        for st in stmts
        if (st.effect == "Allow" and _explicit(st, p.arn))
        or (st.effect == "Deny" and _names(st, p.arn, owner))
    ]
    if not p.statements and not any(s.statement.effect == "Allow" for s in from_bucket):
        return []
    # Identity Denies apply to bucket-policy grants too; "*" Allows are the anonymous reader's.
    found = evaluate_reads([*p.statements, *from_bucket], reads, prefixes, facts.name)
    if isinstance(p.boundary, tuple):
        limits = [Sourced(s, "boundary") for s in p.boundary]
        bounded = {
            a for g in evaluate_reads(limits, reads, prefixes, facts.name) for a in g.actions
        }
        found = [g for g in found if g.via != "identity_policy" or set(g.actions) & bounded]
    return [_record(p.arn, facts, g, cross_account=False) for g in found]


def _explicit(st: Statement, pid: str) -> bool:
    """The statement names `pid` itself (not through `*`, NotPrincipal or an account root)."""
    return st.not_principals is None and any(
        kind == "AWS" and _normalise(value) == pid for kind, value in st.principals
    )


def _foreign(stmts: Iterable[Statement], owner: str) -> list[str]:
    out: set[str] = set()
    for st in stmts:
        if st.effect != "Allow":
            continue
        for kind, value in st.principals:
            if kind != "AWS":
                continue
            pid = _normalise(value)
            acct = _account(pid)
            if acct and acct != owner:
                out.add(pid)
    return sorted(out)


def _record(pid: str, facts: BucketFacts, g: Grant, *, cross_account: bool) -> GrantRecord:
    return GrantRecord(
        principal=pid,
        bucket=facts.id,
        grant=g,
        via=g.via,
        policy=g.statement.policy,
        statement=g.statement.sid,
        actions=g.actions,
        conditions=_conditions(g.statement),
        restricted_by=g.restricted_by,
        cross_account=cross_account,
        wildcard_action=g.wildcard_action,
        wildcard_resource=g.wildcard_resource,
        limited_by_denies=g.limited_by_denies,
    )


def pab_attribute(facts: BucketFacts, account_pab: Any) -> dict[str, Any]:
    def one(pab: Any) -> Any:
        if isinstance(pab, Unknown) or pab is None:
            return pab if pab is not None else {flag: False for flag in PAB_FLAGS}
        return dict(pab)

    return {"bucket": one(facts.pab), "account": one(account_pab)}
