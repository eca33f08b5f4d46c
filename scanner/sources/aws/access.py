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
from scanner.sources.tri import Tri, t_not, t_or

ANYONE = "*"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


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
    network_restricted_reasons: list[str] = field(default_factory=list)
    external: dict[str, str] = field(default_factory=dict)  # principal id -> account


@dataclass
class Scope:
    """Everything the evaluation of one account's buckets needs."""

    iam: dict[str, IamAccount | Unknown]  # by account, every scanned account
    account_pab: dict[str, dict[str, bool] | Unknown | None]
    _index: dict[str, _Index] = field(default_factory=dict)

    def candidates(self, account: IamAccount, bucket: str) -> list[IamPrincipal]:
        """The principals whose identity statements could reach `bucket` at all."""
        index = self._index.get(account.account)
        if index is None:
            index = self._index[account.account] = _Index.build(account)
        return index.candidates(bucket)


@dataclass(frozen=True)
class _Index:
    """Principals by the bucket their Allow statements name, so a bucket is evaluated against
    the few principals that could read it rather than every principal of the account (500
    buckets x 200 roles otherwise). A statement whose bucket part has a wildcard (or a
    NotResource) makes its principal a candidate everywhere."""

    exact: dict[str, list[IamPrincipal]]
    anywhere: list[IamPrincipal]

    @staticmethod
    def build(account: IamAccount) -> _Index:
        exact: dict[str, list[IamPrincipal]] = {}
        anywhere: list[IamPrincipal] = []
        for p in account.principals.values():
            names: set[str] = set()
            wild = False
            for src in p.statements:
                st = src.statement
                if st.effect != "Allow":
                    continue
                if st.not_resources is not None:
                    wild = True
                for pattern in st.resources:
                    bucket = _bucket_part(pattern)
                    if bucket is None:
                        wild = True
                    else:
                        names.add(bucket)
            if wild:
                anywhere.append(p)
            else:
                for name in names:
                    exact.setdefault(name, []).append(p)
        return _Index(exact, anywhere)

    def candidates(self, bucket: str) -> list[IamPrincipal]:
        return self.anywhere + self.exact.get(bucket, [])


def _bucket_part(pattern: str) -> str | None:
    """The bucket an S3 ARN pattern names exactly, or None when it could name several."""
    head = "arn:aws:s3:::"
    if not pattern.startswith(head):
        return None
    bucket = pattern[len(head) :].split("/", 1)[0]
    return None if any(w in bucket for w in ("*", "?", "${")) else bucket


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


@dataclass
class _Context:
    """What every step of one bucket's evaluation reads."""

    facts: BucketFacts
    owner: str
    stmts: tuple[Statement, ...]
    prefixes: list[str]
    reads: frozenset[str]
    account_pab: Any
    out: BucketAccess = field(default_factory=BucketAccess)
    grants: list[GrantRecord] = field(default_factory=list)

    def blocked_by(self, flag: str) -> str:
        return _pab_reason(flag, self.facts.pab, self.account_pab)


def evaluate_bucket(facts: BucketFacts, scope: Scope) -> BucketAccess:
    policy = facts.policy
    stmts: tuple[Statement, ...] = () if policy is None or isinstance(policy, Unknown) else policy
    c = _Context(
        facts=facts,
        owner=facts.account,
        stmts=stmts,
        prefixes=model_prefixes(facts),
        reads=object_read_actions(),
        account_pab=scope.account_pab.get(facts.account),
    )
    network_deny = _policy_only(c)
    restrict = _pab_flag("RestrictPublicBuckets", facts.pab, c.account_pab)
    ignore_acls = _pab_flag("IgnorePublicAcls", facts.pab, c.account_pab)
    policy_public: Tri = policy if isinstance(policy, Unknown) else _anonymous(c, restrict)
    c.out.public = t_or(_acl(c, ignore_acls), policy_public)
    # The reasons explain `public`; one that could not be read is said, not left out.
    for what, value in (("bucket ACL", facts.acl), ("bucket policy", policy)):
        if isinstance(value, Unknown):
            c.out.public_reasons.append(f"{what} unreadable ({value.reason})")

    iam = scope.iam.get(c.owner)
    if isinstance(iam, IamAccount):
        named = {
            _normalise(value)
            for st in stmts
            if st.effect == "Allow"
            for kind, value in st.principals
            if kind == "AWS"
        }
        chosen = {p.arn: p for p in scope.candidates(iam, facts.name)}
        chosen.update({a: iam.principals[a] for a in named if a in iam.principals})
        for p in chosen.values():
            c.grants.extend(_principal_grants(p, stmts, facts, c.prefixes, c.owner, c.reads))
    _foreign_grants(c, scope)

    out = c.out
    if isinstance(policy, Unknown):
        out.grants = Unknown(f"bucket policy unreadable ({policy.reason})")
    elif isinstance(facts.acl, Unknown) and ignore_acls is not True:
        # An ACL nobody could read may grant anyone a read: the list would be short by it.
        out.grants = Unknown(f"bucket ACL unreadable ({facts.acl.reason})")
    elif isinstance(iam, Unknown):
        out.grants = Unknown(f"IAM principals unreadable ({iam.reason})")
    else:
        out.grants = sorted(c.grants, key=lambda g: (g.principal, g.via, g.policy, g.statement))
    if isinstance(out.grants, Unknown):
        out.network_restricted = t_or(network_deny, out.grants)
    else:
        every = bool(out.grants) and all({"vpce", "vpc"} & set(g.restricted_by) for g in out.grants)
        out.network_restricted = t_or(network_deny, every)
    out.network_restricted_reasons = network_reasons(network_deny, out.grants)
    return out


_VIA_WORDS = {
    "identity_policy": "identity policy",
    "bucket_policy": "bucket policy",
    "acl": "ACL",
}


def network_reasons(network_deny: Tri, grants: list[GrantRecord] | Unknown) -> list[str]:
    """Why the bucket is (not) limited to private networks, in words: the Deny that limits it,
    or every grant that reads objects with no VPC condition, naming principal, action and the
    policy that grants it."""
    if network_deny is True:
        return ["the bucket policy denies every object read from outside a VPC or VPC endpoint"]
    if isinstance(grants, Unknown):
        return [f"who can read is unknown: {grants.reason}"]
    open_grants = [g for g in grants if not {"vpce", "vpc"} & set(g.restricted_by)]
    if not grants:
        return ["no principal is granted object reads, and no Deny limits reads to a VPC"]
    if not open_grants:
        return ["every grant of object reads carries a VPC or VPC endpoint condition"]
    reasons = []
    for g in open_grants:
        who = "anyone" if g.principal == ANYONE else _principal_words(g.principal)
        via = _VIA_WORDS.get(g.via, g.via.replace("_", " "))
        where = f"{via} {g.policy}" if g.policy and g.policy != via and g.via != "acl" else via
        reasons.append(
            f"{who} can read objects through {', '.join(g.actions)} with no VPC condition ({where})"
        )
    return sorted(set(reasons))


def _principal_words(arn: str) -> str:
    """`role data-scientist-wildcard` for arn:aws:iam::1:role/path/data-scientist-wildcard."""
    account, _, resource = arn.partition(":iam::")[2].partition(":")
    if resource == "root":
        return f"account {account}"
    kind, _, rest = resource.partition("/")
    if not rest:
        return arn
    return f"{kind} {rest.rpartition('/')[2]}"


def _policy_only(c: _Context) -> Tri:
    """`tls_only` from the bucket policy alone; returns whether a Deny limits every read to a
    VPC or VPC endpoint."""
    if isinstance(c.facts.policy, Unknown):
        c.out.tls_only = c.facts.policy
        return c.facts.policy
    whole = f"arn:aws:s3:::{c.facts.name}/"
    c.out.tls_only = any(
        tls_only_deny(st)
        and _names(st, ANYONE, c.owner)
        and allowed_actions(st, {"s3:GetObject"})
        and surely_applies_to(st, whole)
        for st in c.stmts
    )
    return any(
        st.effect == "Deny"
        and _names(st, ANYONE, c.owner)
        and {"vpce", "vpc"} & set(restrictions(st))
        and allowed_actions(st, c.reads) == c.reads
        and all(surely_applies_to(st, p) for p in c.prefixes)
        for st in c.stmts
    )


def _anonymous(c: _Context, restrict: Tri) -> Tri:
    """Bucket-policy grants to `*`; whether one makes the bucket public."""
    public_any: Tri = False
    anyone = [Sourced(st, "bucket_policy") for st in c.stmts if _names(st, ANYONE, c.owner)]
    for g in evaluate_reads(anyone, c.reads, c.prefixes, c.facts.name):
        public = not strongly_restricted(g.statement) and not any(
            cls in g.restricted_by for cls in ("vpce", "vpc", "org", "source_ip")
        )
        if public:
            reason = (
                f"bucket policy statement {g.statement.sid} allows {', '.join(g.actions)} to anyone"
            )
            if restrict is True:
                blocked = c.blocked_by("RestrictPublicBuckets")
                c.out.public_reasons.append(f"{reason} - blocked by {blocked}")
                continue
            c.out.public_reasons.append(reason)
            public_any = t_or(public_any, t_not(restrict))
        c.grants.append(_record(ANYONE, c.facts, g, cross_account=True))
    return public_any


def _acl(c: _Context, ignore_acls: Tri) -> Tri:
    """Bucket ACL grants to AllUsers/AuthenticatedUsers; whether one makes the bucket public."""
    if isinstance(c.facts.acl, Unknown):
        return c.facts.acl
    public_any: Tri = False
    for grant in c.facts.acl:
        uri = grant.get("Grantee", {}).get("URI")
        perm = grant.get("Permission")
        if uri not in (ALL_USERS, AUTHENTICATED_USERS) or perm not in ("READ", "FULL_CONTROL"):
            continue
        who = "AllUsers" if uri == ALL_USERS else "AuthenticatedUsers (any AWS account)"
        reason = f"bucket ACL grants {perm} to {who}"
        if ignore_acls is True:
            c.out.public_reasons.append(f"{reason} - ignored by {c.blocked_by('IgnorePublicAcls')}")
            continue
        c.out.public_reasons.append(reason)
        public_any = t_or(public_any, t_not(ignore_acls))
        c.grants.append(
            GrantRecord(
                principal=ANYONE,
                bucket=c.facts.id,
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
    return public_any


def _foreign_grants(c: _Context, scope: Scope) -> None:
    """Principals of other accounts the bucket policy names: the real principal when that
    account is scanned too, else an external one."""
    for pid in _foreign(c.stmts, c.owner):
        acct = _account(pid) or "unknown"
        other = scope.iam.get(acct)
        real = other.principals.get(pid) if isinstance(other, IamAccount) else None
        named = [
            Sourced(st, "bucket_policy")
            for st in c.stmts
            if (st.effect == "Allow" and _explicit(st, pid))
            or (st.effect == "Deny" and _names(st, pid, c.owner))
        ]
        found = evaluate_reads(named, c.reads, c.prefixes, c.facts.name)
        if found and real is None:
            c.out.external[pid] = acct
        c.grants.extend(_record(pid, c.facts, g, cross_account=True) for g in found)


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
