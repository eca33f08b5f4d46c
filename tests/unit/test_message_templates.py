"""Message templates: how a failing finding says its decisive fact in words."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.bundled import bundled_dir
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.policy.evaluate import CHECK_DETAIL, evaluate_policy
from scanner.policy.loader import PolicyError, load_policy_dirs
from scanner.policy.message import TemplateError, parse_template, render

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)

POLICY = """\
id: T-NET-01
title: Model storage is reachable only from private networks
severity: high
maturity: applied
resource: storage
message: "{name} is reachable from outside private networks: {network_restricted_reasons}"
check: {field: network_restricted, equals: true}
"""


def _load(tmp_path: Path, text: str) -> list:
    (tmp_path / "p.yaml").write_text(textwrap.dedent(text))
    return list(load_policy_dirs([tmp_path]).policies)


def _storage(**attrs) -> Resource:
    return Resource("s3://b", "storage", "acme-models-prod", "aws", attrs)


def test_a_failure_is_told_by_the_template_with_the_reasons(tmp_path):
    [policy] = _load(tmp_path, POLICY)
    reasons = [
        "role data-scientist-wildcard can read objects through s3:GetObjectVersion with no VPC "
        "condition (identity policy everything-s3)"
    ]
    storage = _storage(network_restricted=False, network_restricted_reasons=reasons)
    [finding] = evaluate_policy(policy, Inventory([storage]), NOW)
    assert finding.status == "fail"
    assert finding.message == (
        "acme-models-prod is reachable from outside private networks: role "
        "data-scientist-wildcard can read objects through s3:GetObjectVersion with no VPC "
        "condition (identity policy everything-s3)"
    )
    # The evidence shows the reasons the message quotes and keeps the evaluator's account.
    assert finding.evidence["network_restricted_reasons"] == reasons
    assert finding.evidence[CHECK_DETAIL] == "`network_restricted` is not true"


def test_without_a_template_the_failure_names_the_resource_and_quotes_the_reasons(tmp_path):
    no_template = "\n".join(line for line in POLICY.splitlines() if not line.startswith("message"))
    [policy] = _load(tmp_path, no_template)
    assert policy.message is None
    reasons = [
        "role data-scientist-wildcard can read objects through s3:GetObjectVersion with no VPC "
        "condition (identity policy everything-s3)",
        "account 2 can read objects through s3:GetObject with no VPC condition (bucket policy)",
    ]
    storage = _storage(network_restricted=False, network_restricted_reasons=reasons)
    [finding] = evaluate_policy(policy, Inventory([storage]), NOW)
    assert finding.status == "fail"
    assert finding.message == (
        "acme-models-prod: `network_restricted` is not true. Why `network_restricted` is what "
        f"it is: {reasons[0]}; {reasons[1]}"
    )
    assert finding.evidence["network_restricted_reasons"] == reasons
    # Without reasons the decisive fact still reads as a sentence, never "expected true".
    [bare] = evaluate_policy(policy, Inventory([_storage(network_restricted=False)]), NOW)
    assert bare.message == "acme-models-prod: `network_restricted` is not true"
    assert "expected" not in bare.message


def test_reasons_of_fields_the_failure_does_not_name_are_left_out(tmp_path):
    policy_text = """\
    id: T-TWO-01
    title: Model storage is private and encrypted
    severity: high
    maturity: applied
    resource: storage
    check:
      all:
        - {field: public, equals: false}
        - {field: network_restricted, equals: true}
    """
    [policy] = _load(tmp_path, policy_text)
    storage = _storage(
        public=True,
        public_reasons=["the bucket policy grants s3:GetObject to *"],
        network_restricted=True,
        network_restricted_reasons=["the bucket policy denies reads outside a VPC endpoint"],
    )
    [finding] = evaluate_policy(policy, Inventory([storage]), NOW)
    assert finding.message == (
        "acme-models-prod: `public` is true, and must not be. Why `public` is what it is: "
        "the bucket policy grants s3:GetObject to *"
    )


def test_passing_and_unknown_findings_keep_their_own_messages(tmp_path):
    [policy] = _load(tmp_path, POLICY)
    ok = _storage(network_restricted=True)
    unread = Resource("s3://c", "storage", "c", "aws", {"network_restricted": Unknown("denied")})
    findings = {f.resource_id: f for f in evaluate_policy(policy, Inventory([ok, unread]), NOW)}
    assert findings["s3://b"].status == "pass"
    assert findings["s3://c"].status == "error"
    assert "denied" in findings["s3://c"].message


def test_hostile_values_stay_data(tmp_path):
    [policy] = _load(tmp_path, POLICY)
    hostile = ["{name} {{7*7}} {0.__class__}\n[fake] line\x1b[31m", "x" * 5000]
    storage = _storage(network_restricted=False, network_restricted_reasons=hostile)
    [finding] = evaluate_policy(policy, Inventory([storage]), NOW)
    assert "{name} {{7*7}} {0.__class__}" in finding.message  # printed as itself, not expanded
    assert "\n" not in finding.message and "\x1b" not in finding.message
    assert "\\n[fake] line\\u001b[31m" in finding.message
    assert len(finding.message) <= 1001


def test_unknown_says_why_and_missing_reads_not_recorded(tmp_path):
    [policy] = _load(tmp_path, POLICY)
    unknown = _storage(
        network_restricted=False, network_restricted_reasons=Unknown("denied: s3:GetBucketPolicy")
    )
    missing = Resource("s3://m", "storage", "m", "aws", {"network_restricted": False})
    found = {f.resource_id: f for f in evaluate_policy(policy, Inventory([unknown, missing]), NOW)}
    # Could not be read: says so and why. Not recorded: a different fact, in other words.
    assert found["s3://b"].message.endswith(
        "private networks: unknown (denied: s3:GetBucketPolicy)"
    )
    assert found["s3://m"].message.endswith("private networks: not recorded")


FALLBACK = POLICY.replace(
    "{network_restricted_reasons}",
    "{network_restricted_reasons|no grant was named as the reason}",
)


@pytest.mark.parametrize(
    ("reasons", "said"),
    [
        (None, "no grant was named as the reason"),  # not set at all
        ([], "no grant was named as the reason"),  # an empty list
        ("  ", "no grant was named as the reason"),  # blank text
        ([None, ""], "no grant was named as the reason"),  # a list of nothing
        (Unknown("throttled"), "unknown (throttled)"),  # Unknown is never "not recorded"
        (["bucket policy"], "bucket policy"),
    ],
)
def test_a_placeholder_says_in_its_own_words_that_nothing_was_recorded(tmp_path, reasons, said):
    [policy] = _load(tmp_path, FALLBACK)
    attrs = {"network_restricted": False}
    if reasons is not None:
        attrs["network_restricted_reasons"] = reasons
    [finding] = evaluate_policy(policy, Inventory([_storage(**attrs)]), NOW)
    assert finding.message == f"acme-models-prod is reachable from outside private networks: {said}"


def test_a_fallback_is_plain_text_parsed_with_the_template():
    template = parse_template("{owner|no owner recorded} and {name} { tier | none } {{x|y}}")
    assert template.fields == ("owner", "name", "tier")
    assert template.fallbacks == ("no owner recorded", None, "none")
    assert template.parts[-1] == " {x|y}"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{owner|}", "there are none"),
        ("{owner|no {name}} x", "no placeholder inside a placeholder"),
        ("{owner|no {name}", "no placeholder inside a placeholder"),
        ("{|words}", "must be a field path"),
        ("{owner|" + "x" * 300 + "}", "at most 200 characters"),
    ],
)
def test_a_bad_fallback_is_refused(template, problem):
    with pytest.raises(TemplateError) as exc:
        parse_template(template)
    assert problem in str(exc.value)
    assert exc.value.offset == 0


def _said(tmp_path, **attrs) -> str:
    """The message of a policy whose template shows `details` (read by the check)."""
    [policy] = _load(
        tmp_path,
        POLICY.replace("{network_restricted_reasons}", "{details}").replace(
            "check: {field: network_restricted, equals: true}",
            "check:\n  all:\n    - {field: network_restricted, equals: true}\n"
            "    - {field: details, exists: true}",
        ),
    )
    [finding] = evaluate_policy(
        policy, Inventory([_storage(network_restricted=False, **attrs)]), NOW
    )
    return finding.message.removeprefix(
        "acme-models-prod is reachable from outside private networks: "
    )


def test_records_read_by_their_name_never_as_json(tmp_path):
    dataset = {"context": "training", "name": "4001", "source": "projects/1/datasets/4001"}
    assert _said(tmp_path, details=[dataset]) == "4001 (training)"
    assert _said(tmp_path, details={"id": "grant-7", "role": "Reader"}) == "grant-7"
    # A record with no name lists what it recorded, in words.
    code = {"repo": "https://git.example/ml", "commit": "abc1234", "branch": None}
    assert _said(tmp_path, details=code) == "repo https://git.example/ml, commit abc1234"
    nested = {"a": {"b": {"c": {"d": 1}}}}
    assert "{" not in _said(tmp_path, details=nested)
    wide = {f"k{i}": i for i in range(8)} | {"empty": None}
    assert _said(tmp_path, details=wide) == "k0 0, k1 1, k2 2, k3 3, k4 4 and 3 more"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (3, "3"),
        (2.0, "2"),
        (0.125, "0.125"),
        (1 / 3, "0.333"),
        (0.00001234, "1.23e-05"),
        (-2.5, "-2.5"),
        (float("nan"), "nan"),
        (dt.date(2025, 1, 2), "2025-01-02"),
        (True, "yes"),
        ([1, [2, 3], {"name": "x"}], "1; 2, 3; x"),
    ],
)
def test_values_that_are_not_text_read_as_words(tmp_path, value, said):
    assert _said(tmp_path, details=value) == said


def test_a_long_list_names_five_items_and_counts_the_rest(tmp_path):
    names = [f"principal-{i}" for i in range(12)]
    assert _said(tmp_path, details=names) == (
        "principal-0; principal-1; principal-2; principal-3; principal-4; and 7 more"
    )
    # Long items: fewer are named, so that the count is never clipped off the message.
    long = [f"{i} " + "x" * 250 for i in range(6)]
    said = _said(tmp_path, details=long)
    assert said.endswith("; and 4 more") and said.count("x" * 250) == 2
    # Repeats are said once and do not count.
    assert _said(tmp_path, details=["a", "b", "a", "a"]) == "a; b"


def test_the_full_list_stays_in_the_evidence(tmp_path):
    [policy] = _load(tmp_path, POLICY)
    reasons = [f"role r{i} can read objects with no VPC condition" for i in range(12)]
    storage = _storage(network_restricted=False, network_restricted_reasons=reasons)
    [finding] = evaluate_policy(policy, Inventory([storage]), NOW)
    assert finding.message.endswith("; and 7 more")
    assert finding.evidence["network_restricted_reasons"] == reasons


def test_hostile_values_in_records_and_fallbacks_stay_data(tmp_path):
    hostile = {"name": "{name} {{7*7}}\n\x1b[31m" + "y" * 1000, "context": "{$check}"}
    said = _said(tmp_path, details=[hostile, {"k": "{0.__class__}"}])
    assert "{name} {{7*7}}\\n\\u001b[31m" in said
    assert "{0.__class__}" in said  # printed as itself, never read as a placeholder
    assert "\n" not in said and "\x1b" not in said
    assert len(said) < 1000


def test_lists_references_and_booleans_read_as_words(tmp_path):
    [policy] = _load(
        tmp_path,
        POLICY.replace("{network_restricted_reasons}", "{readers} ({network_restricted})").replace(
            "check: {field: network_restricted, equals: true}",
            "check:\n  all:\n    - {field: network_restricted, equals: true}\n"
            "    - {field: readers, count_at_most: 0}",
        ),
    )
    alice = Resource("arn:aws:iam::1:user/alice", "principal", "alice", "aws", {})
    storage = _storage(network_restricted=False, readers=[Ref(alice.id), Ref("arn:gone")])
    [finding] = evaluate_policy(policy, Inventory([storage, alice]), NOW)
    assert finding.message.endswith("private networks: alice; arn:gone (no)")


@pytest.mark.parametrize(
    ("template", "problem", "column"),
    [
        ("{name} {network_restricted_reason}", "names a value the policy does not read", 8),
        ("{name is open", "never closed", 1),
        ("{name} } open", "without a '{'", 8),
        ("{0.__class__}", "must be a field path", 1),
        ("{na me}", "must be a field path", 1),
    ],
)
def test_a_bad_template_is_a_load_error_naming_file_and_position(
    tmp_path, template, problem, column
):
    text = POLICY.replace(
        'message: "{name} is reachable from outside private networks: '
        '{network_restricted_reasons}"',
        f"message: {template!r}",
    )
    with pytest.raises(PolicyError) as exc:
        _load(tmp_path, text)
    assert f"p.yaml:6:1: message template, character {column}:" in exc.value.message
    assert problem in exc.value.message


def test_literal_braces():
    template = parse_template("{{literal}} {name}")
    assert template.parts == ("{literal} ", "name", "")
    with pytest.raises(TemplateError):
        parse_template("x" * 3000)


def test_every_builtin_policy_has_a_template():
    policies = load_policy_dirs([bundled_dir("policies")]).policies
    assert policies
    assert [p.id for p in policies if p.message is None] == []


def test_without_a_template_a_long_list_is_capped_the_same_way(tmp_path):
    no_template = "\n".join(line for line in POLICY.splitlines() if not line.startswith("message"))
    [policy] = _load(tmp_path, no_template)
    reasons = [f"role r{i} can read objects with no VPC condition\n" for i in range(9)]
    storage = _storage(network_restricted=False, network_restricted_reasons=reasons)
    [finding] = evaluate_policy(policy, Inventory([storage]), NOW)
    assert finding.message.endswith("role r4 can read objects with no VPC condition\\n; and 4 more")
    assert "\n" not in finding.message
    assert finding.evidence["network_restricted_reasons"] == reasons


_ANY_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=400)
    | st.builds(Unknown, st.text(max_size=400)),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(value=_ANY_VALUE)
def test_any_value_renders_as_one_bounded_line_of_words(value):
    """Whatever a source reports (nested records, Unknowns, control characters, huge text),
    the message is one line, bounded, and never a crash."""
    template = parse_template("{name}: {details|nothing recorded}")
    storage = _storage(details=value)
    said = render(template, storage, Inventory([storage]))
    assert said.startswith("acme-models-prod: ")
    assert "\n" not in said and "\x1b" not in said and "\u2028" not in said
    assert len(said) < 4000


ITEMS_POLICY = """\
id: T-IAM-02
title: No standing human readers
severity: high
maturity: applied
resource: storage
message: "{name} has standing human readers: {$items|none named}"
check:
  field: readers
  every_item:
    any:
      - {field: kind, not_equals: human}
      - {field: just_in_time, equals: true}
"""


def test_items_names_the_list_items_that_decided_not_the_whole_list(tmp_path):
    [policy] = _load(tmp_path, ITEMS_POLICY)
    people = [
        Resource("arn:aws:iam::1:role/serve", "principal", "serve", "aws", {"kind": "service"}),
        Resource("arn:aws:iam::1:user/alice", "principal", "alice", "aws", {"kind": "human"}),
        Resource("arn:aws:iam::1:user/bob", "principal", "bob", "aws", {"kind": "human"}),
        Resource(
            "arn:aws:iam::1:role/jit",
            "principal",
            "jit",
            "aws",
            {"kind": "human", "just_in_time": True},
        ),
    ]
    storage = _storage(readers=[Ref(p.id) for p in people])
    [finding] = evaluate_policy(policy, Inventory([storage, *people]), NOW)
    assert finding.message == "acme-models-prod has standing human readers: alice; bob"
    # The evaluator's account stays in the evidence, per item.
    assert "`readers[arn:aws:iam::1:user/bob].kind`" in finding.evidence[CHECK_DETAIL]


def test_items_of_grant_records_name_the_principal_and_the_policy(tmp_path):
    [policy] = _load(
        tmp_path,
        """\
id: T-IAM-04
title: No unrestricted cross-account read
severity: high
maturity: applied
resource: storage
message: "{name} lets another account read it with no restriction: {$items}"
check:
  field: access_grants
  every_item:
    any:
      - {field: cross_account, equals: false}
      - {field: restricted_by, count_at_least: 1}
""",
    )
    partner = Resource("arn:aws:iam::2:root", "principal", "account 2", "aws", {})
    grants = [
        {"principal": Ref("arn:aws:iam::1:role/serve"), "cross_account": False, "policy": "p1"},
        {"principal": Ref(partner.id), "cross_account": True, "restricted_by": [], "policy": "bp"},
        {"principal": "*", "cross_account": True, "restricted_by": []},
    ]
    [finding] = evaluate_policy(policy, Inventory([_storage(access_grants=grants), partner]), NOW)
    assert finding.message.endswith("with no restriction: account 2 through bp; *")
