"""The part of AWS's policy evaluation the scanner models: who may read which objects.

Written by hand because no maintained Python library evaluates identity *and* resource
policies together against a set of object prefixes (policyuniverse and parliament lint single
policies; IAM's own `simulate_*` is an API call per principal and action, and the emulator does
not implement it). What is modelled, and what is not, is listed in docs/sources/aws.md.

Semantics kept from AWS:
- an explicit Deny beats any Allow; a Deny counts only where it certainly applies: no
  conditions, and its actions and resources *cover* what the Allow grants (a partial or
  conditional Deny never hides a reader - fail closed - but a conditional Deny that covers a
  grant is recorded as restricting it, e.g. "denied unless through VPC endpoint vpce-1");
- `Action`/`NotAction`, `Resource`/`NotResource`, `*` and `?` wildcards (actions case-
  insensitive, ARNs case-sensitive), policy variables `${...}` (a variable could take any value:
  treated as `*` when asking "could this allow?", as never matching when asking "does this
  certainly deny?");
- conditions are never evaluated (the scanner does not know the request context); they are
  kept on the grant and classified into what they restrict it to.

Object space: grants are checked against *prefixes* of object ARNs (`arn:aws:s3:::b/models/x/`
stands for every object under it), with the pattern questions of `globs.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.sources.aws.globs import glob_covers, glob_intersects, glob_matches

# --------------------------------------------------------------------------------------------
# Policy documents


class PolicyDocumentError(ValueError):
    """A policy document that is not valid JSON or not shaped like an IAM policy."""


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    policy: str  # where it comes from: a policy name or ARN, "bucket policy", ...
    sid: str  # the Sid, or "#N" (position) when it has none
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    principals: tuple[tuple[str, str], ...] = ()  # (type, value): ("AWS", "arn:..."), ("*", "*")
    not_principals: tuple[tuple[str, str], ...] | None = None
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)

    @property
    def label(self) -> str:
        return f"{self.policy} {self.sid}"


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyDocumentError(f"{what} must be a string or a list of strings")


def _cond_values(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


def _principals(value: Any) -> tuple[tuple[str, str], ...]:
    if value == "*":
        return (("*", "*"),)
    if not isinstance(value, Mapping):
        raise PolicyDocumentError('Principal must be "*" or a mapping')
    out: list[tuple[str, str]] = []
    for kind, entries in value.items():
        for entry in _strings(entries, f"Principal {kind}"):
            out.append(("*", "*") if kind == "AWS" and entry == "*" else (str(kind), entry))
    return tuple(out)


def parse_policy(document: Any, policy: str) -> tuple[Statement, ...]:
    """Statements of one policy document (a JSON string, URL-decoded, or parsed JSON)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyDocumentError(f"{policy}: not valid JSON ({exc})") from None
    if not isinstance(document, Mapping):
        raise PolicyDocumentError(f"{policy}: a policy document must be a JSON object")
    raw = document.get("Statement", [])
    raw = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw, list):
        raise PolicyDocumentError(f"{policy}: Statement must be an object or a list")
    out: list[Statement] = []
    for index, st in enumerate(raw):
        if not isinstance(st, Mapping):
            raise PolicyDocumentError(f"{policy}: statement {index} is not an object")
        try:
            effect = st.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise PolicyDocumentError("Effect must be Allow or Deny")
            conditions: dict[str, dict[str, tuple[str, ...]]] = {}
            cond = st.get("Condition", {})
            cond = {} if cond is None else cond
            if not isinstance(cond, Mapping):
                raise PolicyDocumentError("Condition must be an object")
            for op, keys in cond.items():
                if not isinstance(keys, Mapping):
                    raise PolicyDocumentError(f"Condition {op} must map keys to values")
                conditions[str(op)] = {str(k): _cond_values(v) for k, v in keys.items()}
            sid = st.get("Sid")
            out.append(
                Statement(
                    effect=effect,
                    policy=policy,
                    sid=str(sid) if sid else f"#{index}",
                    actions=_strings(st["Action"], "Action") if "Action" in st else (),
                    not_actions=_strings(st["NotAction"], "NotAction")
                    if "NotAction" in st
                    else None,
                    resources=_strings(st["Resource"], "Resource") if "Resource" in st else (),
                    not_resources=_strings(st["NotResource"], "NotResource")
                    if "NotResource" in st
                    else None,
                    principals=_principals(st["Principal"]) if "Principal" in st else (),
                    not_principals=_principals(st["NotPrincipal"])
                    if "NotPrincipal" in st
                    else None,
                    conditions=conditions,
                )
            )
        except PolicyDocumentError as exc:
            raise PolicyDocumentError(f"{policy}: statement {index}: {exc}") from None
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Actions and resources of one statement


def allowed_actions(st: Statement, candidates: Iterable[str]) -> frozenset[str]:
    """Which of `candidates` (exact action names, "s3:GetObject") the statement names."""
    if st.not_actions is not None:
        return frozenset(
            a for a in candidates if not any(glob_matches(p, a, fold=True) for p in st.not_actions)
        )
    return frozenset(
        a for a in candidates if any(glob_matches(p, a, fold=True) for p in st.actions)
    )


def wildcard_action(st: Statement) -> bool:
    return st.not_actions is not None or any("*" in a or "?" in a for a in st.actions)


def may_apply_to(st: Statement, prefix: str) -> bool:
    """Could the statement apply to some object under `prefix`?"""
    if st.not_resources is not None:
        return not any(glob_covers(p, prefix) for p in st.not_resources)
    return any(glob_intersects(p, prefix) for p in st.resources)


def surely_applies_to(st: Statement, prefix: str) -> bool:
    """Does the statement apply to every object under `prefix`?"""
    if st.not_resources is not None:
        return not any(glob_intersects(p, prefix) for p in st.not_resources)
    return any(glob_covers(p, prefix) for p in st.resources)


def wildcard_resource(st: Statement, bucket: str) -> bool:
    """The grant is not specific to this bucket: it names every bucket, or a bucket pattern."""
    if st.not_resources is not None:
        return True
    base = f"arn:aws:s3:::{bucket}"
    for p in st.resources:
        if not glob_intersects(p, base + "/"):
            continue
        head = p.split("/", 1)[0]
        if any(ch in head for ch in "*?") or "${" in head:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Conditions

RESTRICTION_CLASSES = ("vpce", "vpc", "org", "source_ip", "other")
_KEY_CLASS = {
    "aws:sourcevpce": "vpce",
    "aws:sourcevpc": "vpc",
    "aws:principalorgid": "org",
    "aws:principalorgpaths": "org",
    "aws:resourceorgid": "org",
    "aws:sourceip": "source_ip",
    "aws:vpcsourceip": "source_ip",
}
# Keys AWS itself treats as making a statement non-public when bound to fixed values
# (S3 "The meaning of public"); anything else (Referer, UserAgent, ...) does not.
STRONG_KEYS = frozenset(
    {
        "aws:sourcevpce",
        "aws:sourcevpc",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceip",
        "aws:vpcsourceip",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalserviceName".lower(),
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:userid",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
    }
)
NOT_A_RESTRICTION = frozenset({"aws:securetransport", "s3:tlsversion"})
_NEGATIVE = ("StringNotEquals", "StringNotLike", "NotIpAddress", "ArnNotEquals", "ArnNotLike")
_BROAD_IPS = frozenset({"0.0.0.0/0", "::/0"})


def _op_parts(op: str) -> tuple[str, bool]:
    """('StringNotEquals', if_exists) with any ForAnyValue:/ForAllValues: qualifier removed."""
    base = op.split(":", 1)[1] if ":" in op else op
    if_exists = base.endswith("IfExists")
    return (base[: -len("IfExists")] if if_exists else base), if_exists


def _limiting(st: Statement) -> list[tuple[str, bool]]:
    """(condition key, whether it limits the statement) for every key tested.

    For an Allow, a positive test (`StringEquals aws:SourceVpce`) without `IfExists` limits who
    gets in; for a Deny, a negative one (`StringNotEquals aws:SourceVpce`, `Null ... true`)
    does ("denied unless through the endpoint"). TLS keys limit nothing about who or from
    where and are left out.
    """
    out: list[tuple[str, bool]] = []
    for op, keys in st.conditions.items():
        base, if_exists = _op_parts(op)
        for key, values in keys.items():
            lk = key.lower()
            if lk in NOT_A_RESTRICTION:
                continue
            if st.effect == "Allow":
                limits = not if_exists and not base.startswith(_NEGATIVE) and base != "Null"
                if base == "IpAddress" and any(v in _BROAD_IPS for v in values):
                    limits = False
            else:
                limits = base.startswith(_NEGATIVE) or (base == "Null" and "true" in values)
            out.append((lk, limits))
    return out


def restrictions(st: Statement) -> dict[str, set[str]]:
    """What the statement's conditions limit it to: class -> condition keys (any condition
    that is not a recognised limit is "other")."""
    out: dict[str, set[str]] = {}
    for key, limits in _limiting(st):
        cls = _KEY_CLASS.get(key, "other") if limits else "other"
        out.setdefault(cls, set()).add(key)
    return out


def strongly_restricted(st: Statement) -> bool:
    """Limited by a condition AWS counts as making a grant non-public."""
    return any(limits and key in STRONG_KEYS for key, limits in _limiting(st))


def tls_only_deny(st: Statement) -> bool:
    """A Deny whose condition is "request not over TLS" (aws:SecureTransport false)."""
    if st.effect != "Deny":
        return False
    for op, keys in st.conditions.items():
        base, _ = _op_parts(op)
        for key, values in keys.items():
            if key.lower() == "aws:securetransport" and base == "Bool" and "false" in values:
                return True
    return False


# --------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Grant:
    """One Allow statement that lets a principal read objects under some prefixes."""

    statement: Statement
    via: str  # identity_policy | bucket_policy | acl
    actions: tuple[str, ...]
    restricted_by: tuple[str, ...]
    limited_by_denies: tuple[str, ...]  # labels of conditional Denies that cover the grant
    wildcard_action: bool
    wildcard_resource: bool


@dataclass(frozen=True)
class Sourced:
    """A statement with where it came from (identity or bucket policy), and the read actions it
    names when the caller computed them once (a principal's statements are evaluated against
    every bucket: matching their actions again each time dominated the evaluation's cost)."""

    statement: Statement
    via: str
    actions: frozenset[str] | None = None

    def reads(self, read_actions: frozenset[str]) -> frozenset[str]:
        if self.actions is not None:
            return self.actions & read_actions
        return allowed_actions(self.statement, read_actions)


def evaluate_reads(
    statements: Sequence[Sourced],
    read_actions: frozenset[str],
    prefixes: Sequence[str],
    bucket: str,
) -> list[Grant]:
    """Grants that survive every Deny, for one principal and one bucket's object prefixes.

    `statements` are those that apply to the principal (the caller matched principals).
    """
    allows = [s for s in statements if s.statement.effect == "Allow"]
    denies = [
        (s.statement, s.reads(read_actions)) for s in statements if s.statement.effect == "Deny"
    ]
    hard = [(d, a) for d, a in denies if not d.conditional]
    soft = [d for d, _ in denies if d.conditional and not tls_only_deny(d)]
    grants: list[Grant] = []
    for src in allows:
        st = src.statement
        acts = src.reads(read_actions)
        if not acts:
            continue
        effective: set[str] = set()
        reached: list[str] = []
        for prefix in prefixes:
            if not may_apply_to(st, prefix):
                continue
            denied: set[str] = set()
            for d, d_acts in hard:
                if d_acts & acts and surely_applies_to(d, prefix):
                    denied |= d_acts & acts
            left = acts - denied
            if left:
                effective |= left
                reached.append(prefix)
        if not effective:
            continue
        classes = set(restrictions(st))
        limited: list[str] = []
        for d in soft:
            covers_actions = allowed_actions(d, effective) == effective
            if covers_actions and all(surely_applies_to(d, p) for p in reached):
                limited.append(d.label)
                classes |= set(restrictions(d))
        grants.append(
            Grant(
                statement=st,
                via=src.via,
                actions=tuple(sorted(effective)),
                restricted_by=tuple(c for c in RESTRICTION_CLASSES if c in classes),
                limited_by_denies=tuple(sorted(limited)),
                wildcard_action=wildcard_action(st),
                wildcard_resource=wildcard_resource(st, bucket),
            )
        )
    return grants
