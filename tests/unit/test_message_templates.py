"""Message templates: how a failing finding says its decisive fact in words."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from scanner.bundled import bundled_dir
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.policy.evaluate import CHECK_DETAIL, evaluate_policy
from scanner.policy.loader import PolicyError, load_policy_dirs
from scanner.policy.message import TemplateError, parse_template

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


def test_unknown_renders_as_unknown_and_missing_as_not_reported(tmp_path):
    [policy] = _load(tmp_path, POLICY)
    unknown = _storage(network_restricted=False, network_restricted_reasons=Unknown("denied"))
    missing = Resource("s3://m", "storage", "m", "aws", {"network_restricted": False})
    found = {f.resource_id: f for f in evaluate_policy(policy, Inventory([unknown, missing]), NOW)}
    assert found["s3://b"].message.endswith("private networks: unknown")
    assert found["s3://m"].message.endswith("private networks: not reported")


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
