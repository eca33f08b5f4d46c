"""The policy-evaluation core of the aws: source: globs, statements, Deny/Allow, conditions."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.sources.aws.actions import object_read_actions
from scanner.sources.aws.globs import glob_covers, glob_intersects, glob_matches
from scanner.sources.aws.iam_eval import (
    PolicyDocumentError,
    Sourced,
    evaluate_reads,
    parse_policy,
    restrictions,
    strongly_restricted,
    tls_only_deny,
)

patterns = st.text(alphabet="ab/*?", max_size=6)
texts = st.text(alphabet="ab/", max_size=5)


def _suffixes(alphabet: str, n: int):
    for k in range(n + 1):
        for t in itertools.product(alphabet, repeat=k):
            yield "".join(t)


def _reference(pattern: str, text: str) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.DOTALL) is not None


@given(patterns, texts)
def test_glob_matches_like_a_regex(pattern, text):
    assert glob_matches(pattern, text) == _reference(pattern, text)


@settings(max_examples=150, deadline=None)  # enumerates continuations: slow on a busy machine
@given(patterns, texts)
def test_intersects_iff_some_longer_string_matches(pattern, prefix):
    exists = any(_reference(pattern, prefix + x) for x in _suffixes("ab/", len(pattern)))
    assert glob_intersects(pattern, prefix) == exists


@settings(max_examples=150, deadline=None)
@given(patterns, texts)
def test_covers_iff_every_longer_string_matches(pattern, prefix):
    every = all(_reference(pattern, prefix + x) for x in _suffixes("ab/z", len(pattern) + 1))
    assert glob_covers(pattern, prefix) == every


def test_policy_variables_may_allow_but_never_surely_deny():
    pattern = "arn:aws:s3:::b/home/${aws:username}/*"
    assert glob_intersects(pattern, "arn:aws:s3:::b/home/alice/")
    assert not glob_covers(pattern, "arn:aws:s3:::b/home/alice/")
    assert glob_matches("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*")  # an escaped literal star


def test_actions_fold_case_arns_do_not():
    assert glob_matches("S3:getobject", "s3:GetObject", fold=True)
    assert not glob_matches("arn:aws:s3:::B/*", "arn:aws:s3:::b/x")


# --------------------------------------------------------------------------------------------

READS = object_read_actions()
PREFIX = "arn:aws:s3:::models/fraud/"


def stmt(effect="Allow", action=("s3:GetObject",), resource=("arn:aws:s3:::models/*",), **extra):
    doc: dict = {"Effect": effect, **extra}
    if action is not None:
        doc["Action"] = list(action)
    if resource is not None:
        doc["Resource"] = list(resource)
    return parse_policy({"Statement": [doc]}, "p")[0]


def grants(*statements, prefixes=(PREFIX,)):
    return evaluate_reads(
        [Sourced(s, "identity_policy") for s in statements], READS, list(prefixes), "models"
    )


def test_allow_grants_and_deny_beats_allow():
    assert [g.actions for g in grants(stmt())] == [("s3:GetObject",)]
    assert grants(stmt(), stmt("Deny")) == []
    assert grants(stmt(), stmt("Deny", action=("*",), resource=("*",))) == []


def test_a_partial_deny_does_not_hide_a_reader():
    narrow = stmt("Deny", resource=("arn:aws:s3:::models/fraud/secret/*",))
    assert grants(stmt(), narrow) != []
    other_action = stmt("Deny", action=("s3:GetObjectVersion",))
    assert [g.actions for g in grants(stmt(action=("s3:GetObject*",)), other_action)] == [
        tuple(sorted(READS - {"s3:GetObjectVersion"}))
    ]


def test_a_conditional_deny_restricts_instead_of_removing():
    vpce_only = stmt(
        "Deny",
        action=("s3:*",),
        Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}},
    )
    (g,) = grants(stmt(), vpce_only)
    assert g.restricted_by == ("vpce",)
    assert g.limited_by_denies == ("p #0",)


def test_not_action_and_not_resource():
    assert grants(stmt(action=None, NotAction=["s3:Put*"])) != []
    assert grants(stmt(action=None, NotAction=["s3:Get*"])) == []
    assert grants(stmt(resource=None, NotResource=["arn:aws:s3:::models/*"])) == []
    assert grants(stmt(resource=None, NotResource=["arn:aws:s3:::other/*"])) != []
    # A Deny on everything except this bucket does not deny this bucket.
    deny_others = stmt("Deny", resource=None, NotResource=["arn:aws:s3:::models/*"])
    assert grants(stmt(), deny_others) != []


def test_wildcards_are_recorded():
    (g,) = grants(stmt(action=("s3:*",), resource=("*",)))
    assert g.wildcard_action and g.wildcard_resource
    (g,) = grants(stmt(action=("s3:GetObject",), resource=("arn:aws:s3:::models/fraud/*",)))
    assert not g.wildcard_action and not g.wildcard_resource
    (g,) = grants(stmt(resource=("arn:aws:s3:::model*/*",)))
    assert g.wildcard_resource


def test_grant_on_another_prefix_does_not_reach_the_models():
    assert grants(stmt(resource=("arn:aws:s3:::models/logs/*",))) == []
    assert grants(stmt(resource=("arn:aws:s3:::models/fraud/model.bin",))) != []


def test_non_read_actions_grant_nothing():
    assert grants(stmt(action=("s3:PutObject", "s3:GetObjectAcl", "s3:ListBucket"))) == []


actions_strategy = st.lists(
    st.sampled_from(
        ["s3:GetObject", "s3:Get*", "s3:*", "*", "s3:PutObject", "s3:GetObjectVersion"]
    ),
    min_size=1,
    max_size=3,
)
resources_strategy = st.lists(
    st.sampled_from(
        [
            "*",
            "arn:aws:s3:::models/*",
            "arn:aws:s3:::models/fraud/*",
            "arn:aws:s3:::other/*",
            "arn:aws:s3:::models/fraud/x",
            "arn:aws:s3:::mod*",
        ]
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Allow", "Deny"]), actions_strategy, resources_strategy),
        max_size=4,
    ),
    actions_strategy,
    resources_strategy,
)
def test_properties_deny_everything_wins_and_allows_are_monotonic(base, actions, resources):
    statements = [stmt(e, action=a, resource=r) for e, a, r in base]
    before = {a for g in grants(*statements) for a in g.actions}
    after = {
        a
        for g in grants(*statements, stmt("Allow", action=actions, resource=resources))
        for a in g.actions
    }
    assert before <= after  # adding an Allow never removes access
    denied = grants(
        *statements, stmt("Deny", action=("s3:*",), resource=("arn:aws:s3:::models/*",))
    )
    assert denied == []  # an unconditional Deny covering the objects beats every Allow
    if not any(e == "Allow" for e, _, _ in base):
        assert before == set()  # nothing is allowed without an Allow


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "condition", "expected"),
    [
        ("Allow", {"StringEquals": {"aws:SourceVpce": "vpce-1"}}, {"vpce"}),
        ("Allow", {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, {"other"}),
        ("Allow", {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, {"org"}),
        ("Allow", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"source_ip"}),
        ("Allow", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {"other"}),
        ("Allow", {"StringEquals": {"aws:SourceVpc": "vpc-1"}}, {"vpc"}),
        ("Allow", {"StringLike": {"aws:Referer": "x"}}, {"other"}),
        ("Allow", {"Bool": {"aws:SecureTransport": "true"}}, set()),
        ("Deny", {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, {"vpce"}),
        ("Deny", {"StringEquals": {"aws:SourceVpce": "vpce-1"}}, {"other"}),
        ("Deny", {"Null": {"aws:SourceVpc": "true"}}, {"vpc"}),
    ],
)
def test_condition_classes(effect, condition, expected):
    assert set(restrictions(stmt(effect, Condition=condition))) == expected


def test_strong_restrictions_and_tls_deny():
    assert strongly_restricted(stmt(Condition={"StringEquals": {"aws:PrincipalAccount": "1"}}))
    assert not strongly_restricted(stmt(Condition={"StringLike": {"aws:Referer": "x"}}))
    assert tls_only_deny(stmt("Deny", Condition={"Bool": {"aws:SecureTransport": False}}))
    assert not tls_only_deny(stmt("Allow", Condition={"Bool": {"aws:SecureTransport": "false"}}))


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        "[]",
        json.dumps({"Statement": [{"Effect": "Maybe"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": 3}]}),
        json.dumps({"Statement": "x"}),
        json.dumps({"Statement": [{"Effect": "Allow", "Condition": []}]}),
    ],
)
def test_malformed_documents_are_one_error(document):
    with pytest.raises(PolicyDocumentError, match=r"^bucket policy"):
        parse_policy(document, "bucket policy")


def test_single_statement_and_principal_forms():
    (s,) = parse_policy(
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": ["*", "111122223333"]},
                "Action": "s3:GetObject",
                "Resource": "*",
            }
        },
        "bp",
    )
    assert s.principals == (("*", "*"), ("AWS", "111122223333"))
    assert s.sid == "#0"
