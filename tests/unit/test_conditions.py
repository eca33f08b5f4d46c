"""The condition language, driven through real policies: YAML text → Policy → findings.

Every operator gets a pass, a fail (whose message must name the field path and the value) and
an Unknown case (which must be `error`, never `pass`). Three-valued logic, list quantifiers,
params, dates, scope and `require_in_scope` are pinned with exact statuses and messages.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

import pytest

from scanner.findings import Finding
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.policy.evaluate import evaluate_policy
from scanner.policy.loader import parse_policy
from scanner.policy.model import OPERATORS, Policy
from scanner.yamlpos import load_yaml_text

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
SUBJECT = "arn:aws:s3:::models"


def make_policy(
    check: str,
    *,
    resource: str = "storage",
    scope: str | None = None,
    params: str | None = None,
    require: str | None = None,
) -> Policy:
    """A Policy from YAML snippets, through the same loader the CLI uses."""

    def block(key: str, body: str) -> str:
        return f"{key}:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"

    text = (
        "id: T-COND-01\n"
        "title: Condition under test\n"
        "severity: high\n"
        "maturity: applied\n"
        f"resource: {resource}\n"
    )
    if params:
        text += block("params", params)
    if require:
        text += block("require_in_scope", require)
    if scope:
        text += block("scope", scope)
    text += block("check", check)
    policy, errors = parse_policy(load_yaml_text(text, "t.yaml"))
    assert policy is not None, errors
    return policy


def findings(policy: Policy, *resources: Resource, now: dt.datetime = NOW) -> list[Finding]:
    return evaluate_policy(policy, Inventory(resources), now)


def storage(rid: str = SUBJECT, **attrs: Any) -> Resource:
    return Resource(
        id=rid, type="storage", name=rid.rsplit(":", 1)[-1], source="t", attributes=attrs
    )


def principal(rid: str, **attrs: Any) -> Resource:
    return Resource(id=rid, type="principal", name=rid, source="t", attributes=attrs)


NAME = "models"  # the name `storage()` gives SUBJECT; a failure without a template starts with it


def told(text: str) -> str:
    """A failure message for SUBJECT as a policy without a template tells it."""
    return f"{NAME}: {text}"


def check(cond: str, attrs: dict[str, Any], *others: Resource, **kw: Any) -> Finding:
    """Evaluate `cond` on one storage resource with `attrs`; return its finding."""
    policy = make_policy(cond, params=kw.pop("params", None))
    out = [f for f in findings(policy, storage(**attrs), *others, **kw) if f.resource_id == SUBJECT]
    assert len(out) == 1
    return out[0]


# --- every operator: pass / fail ------------------------------------------------------------

# (condition, attributes, expected status, expected message)
CASES = [
    # exists
    (
        "{field: versioning, exists: true}",
        {"versioning": False},
        "pass",
        "ok: versioning exists true",
    ),
    ("{field: versioning, exists: true}", {}, "fail", "`versioning` is not set"),
    ("{field: versioning, exists: true}", {"versioning": None}, "fail", "`versioning` is not set"),
    ("{field: tls, exists: false}", {}, "pass", "ok: tls exists false"),
    (
        "{field: tls, exists: false}",
        {"tls": "on"},
        "fail",
        '`tls` is set to "on", and must be absent',
    ),
    # equals
    ("{field: public, equals: false}", {"public": False}, "pass", "ok: public equals false"),
    (
        "{field: public, equals: false}",
        {"public": True},
        "fail",
        "`public` is true, and must not be",
    ),
    (
        "{field: region, equals: eu-west-1}",
        {"region": "us-east-1"},
        "fail",
        '`region` is "us-east-1", and must be "eu-west-1"',
    ),
    ("{field: n, equals: 1}", {"n": 1.0}, "pass", "ok: n equals 1"),
    # not_equals
    (
        "{field: stage, not_equals: none}",
        {"stage": "production"},
        "pass",
        'ok: stage not equals "none"',
    ),
    (
        "{field: stage, not_equals: production}",
        {"stage": "production"},
        "fail",
        '`stage` is "production", and must not be',
    ),
    # in / not_in
    (
        "{field: region, in: [eu-west-1, eu-central-1]}",
        {"region": "eu-central-1"},
        "pass",
        'ok: region in ["eu-west-1", "eu-central-1"]',
    ),
    (
        "{field: region, in: [eu-west-1, eu-central-1]}",
        {"region": "us-east-1"},
        "fail",
        '`region` is "us-east-1", and must be one of ["eu-west-1", "eu-central-1"]',
    ),
    (
        "{field: region, in: [eu-west-1]}",
        {"region": ["eu-west-1"]},
        "fail",
        '`region` is a list ["eu-west-1"]; use a list quantifier to test its items',
    ),
    (
        "{field: kind, not_in: [anonymous]}",
        {"kind": "human"},
        "pass",
        'ok: kind not in ["anonymous"]',
    ),
    (
        "{field: kind, not_in: [anonymous, external]}",
        {"kind": "external"},
        "fail",
        '`kind` is "external", one of the values it must not be: ["anonymous", "external"]',
    ),
    # contains: list and string
    (
        "{field: formats, contains: safetensors}",
        {"formats": ["pickle", "safetensors"]},
        "pass",
        'ok: formats contains "safetensors"',
    ),
    (
        "{field: formats, contains: safetensors}",
        {"formats": ["pickle"]},
        "fail",
        '`formats` is ["pickle"], which does not contain "safetensors"',
    ),
    (
        "{field: statement, contains: extraction}",
        {"statement": "covers model extraction"},
        "pass",
        'ok: statement contains "extraction"',
    ),
    (
        "{field: statement, contains: extraction}",
        {"statement": "covers theft"},
        "fail",
        '`statement` is "covers theft", which does not contain "extraction"',
    ),
    (
        "{field: n, contains: 3}",
        {"n": 3},
        "fail",
        "`n` is 3, which is neither a list nor text",
    ),
    # matches
    (
        "{field: owner, matches: '@example\\.com$'}",
        {"owner": "sec@example.com"},
        "pass",
        'ok: owner matches "@example\\\\.com$"',
    ),
    (
        "{field: owner, matches: '^team-'}",
        {"owner": "alice"},
        "fail",
        '`owner` is "alice", which does not match /^team-/',
    ),
    (
        "{field: owner, matches: '^team-'}",
        {"owner": 42},
        "fail",
        "`owner` is 42, not text to match /^team-/",
    ),
    # at_least / at_most
    ("{field: retention, at_least: 90}", {"retention": 90}, "pass", "ok: retention at least 90"),
    (
        "{field: retention, at_least: 90}",
        {"retention": 30},
        "fail",
        "`retention` is 30, less than the 90 required",
    ),
    (
        "{field: retention, at_least: 1}",
        {"retention": True},
        "fail",
        "`retention` is true, not a number",
    ),
    (
        "{field: reader_count, at_most: 5}",
        {"reader_count": 5},
        "pass",
        "ok: reader_count at most 5",
    ),
    (
        "{field: reader_count, at_most: 5}",
        {"reader_count": 6.5},
        "fail",
        "`reader_count` is 6.5, more than the 5 allowed",
    ),
    (
        "{field: reader_count, at_most: 5}",
        {"reader_count": "3"},
        "fail",
        '`reader_count` is "3", not a number',
    ),
    # count_at_least / count_at_most
    (
        "{field: readers, count_at_least: 2}",
        {"readers": ["a", "b"]},
        "pass",
        "ok: readers count at least 2",
    ),
    (
        "{field: readers, count_at_least: 2}",
        {"readers": ["a"]},
        "fail",
        '`readers` has 1 item, fewer than the 2 required: ["a"]',
    ),
    ("{field: readers, count_at_most: 1}", {"readers": []}, "pass", "ok: readers count at most 1"),
    (
        "{field: readers, count_at_most: 1}",
        {"readers": ["a", "b", "c"]},
        "fail",
        '`readers` has 3 items, more than the 1 allowed: ["a", "b", "c"]',
    ),
    (
        "{field: readers, count_at_most: 1}",
        {"readers": "a"},
        "fail",
        '`readers` is "a", not a list to count',
    ),
    # within_days / older_than_days / in_future (NOW = 2025-06-01T12:00Z)
    ("{field: date, within_days: 90}", {"date": "2025-05-01"}, "pass", "ok: date within days 90"),
    (
        "{field: date, within_days: 90}",
        {"date": "2025-01-01"},
        "fail",
        '`date` is "2025-01-01", 151 days ago; it must be within the last 90 days',
    ),
    (
        "{field: date, within_days: 90}",
        {"date": "2025-06-10"},
        "fail",
        '`date` is "2025-06-10", which is in the future',
    ),
    (
        "{field: date, within_days: 90}",
        {"date": "last week"},
        "fail",
        '`date` is "last week", not a date',
    ),
    (
        "{field: created_at, older_than_days: 30}",
        {"created_at": "2025-01-01"},
        "pass",
        "ok: created_at older than days 30",
    ),
    (
        "{field: created_at, older_than_days: 30}",
        {"created_at": "2025-05-20T12:00:00Z"},
        "fail",
        '`created_at` is "2025-05-20T12:00:00Z", only 12 days ago; it must be more than 30 '
        "days old",
    ),
    (
        "{field: created_at, older_than_days: 30}",
        {"created_at": "2025-07-01"},
        "fail",
        '`created_at` is "2025-07-01", only 0 days ago; it must be more than 30 days old',
    ),
    (
        "{field: expires, in_future: true}",
        {"expires": "2026-01-01"},
        "pass",
        "ok: expires in future true",
    ),
    (
        "{field: expires, in_future: true}",
        {"expires": "2025-05-01"},
        "fail",
        '`expires` is "2025-05-01": expired 31 day(s) ago',
    ),
    (
        "{field: expires, in_future: false}",
        {"expires": "2025-05-01"},
        "pass",
        "ok: expires in future false",
    ),
    (
        "{field: expires, in_future: false}",
        {"expires": "2026-01-01"},
        "fail",
        '`expires` is "2026-01-01", which is in the future',
    ),
    ("{field: expires, in_future: true}", {"expires": 7}, "fail", "`expires` is 7, not a date"),
]


@pytest.mark.parametrize(("cond", "attrs", "status", "message"), CASES)
def test_operator(cond: str, attrs: dict[str, Any], status: str, message: str) -> None:
    f = check(cond, attrs)
    assert (f.status, f.message) == (status, told(message) if status == "fail" else message)


def test_every_operator_has_a_pass_and_a_fail_case() -> None:
    def op_of(cond: str) -> str:
        return cond.strip("{}").split(",")[1].split(":")[0].strip()

    passing = {op_of(c) for c, _, s, _ in CASES if s == "pass"}
    failing = {op_of(c) for c, _, s, _ in CASES if s == "fail"}
    assert passing == failing == set(OPERATORS)


# --- Unknown: every operator errors -----------------------------------------------------------

OPERANDS = {
    "exists": "true",
    "equals": "x",
    "not_equals": "x",
    "in": "[x]",
    "not_in": "[x]",
    "contains": "x",
    "matches": "x",
    "at_least": "1",
    "at_most": "1",
    "count_at_least": "1",
    "count_at_most": "1",
    "within_days": "30",
    "older_than_days": "30",
    "in_future": "true",
}


def test_operand_table_covers_every_operator() -> None:
    assert set(OPERANDS) == set(OPERATORS)


@pytest.mark.parametrize("op", sorted(OPERANDS))
@pytest.mark.parametrize("negate", [False, True])
def test_unknown_value_is_an_error_for_every_operator(op: str, negate: bool) -> None:
    cond = f"{{field: policy_doc, {op}: {OPERANDS[op]}}}"
    if negate:  # not(Unknown) must stay unknown, never flip to pass
        cond = f"{{not: {cond}}}"
    f = check(cond, {"policy_doc": Unknown("s3:GetBucketPolicy denied")})
    assert f.status == "error"
    assert f.message == "cannot evaluate: `policy_doc` is unknown: s3:GetBucketPolicy denied"
    assert f.evidence == {"policy_doc": {"$unknown": "s3:GetBucketPolicy denied"}}


@pytest.mark.parametrize("op", sorted(set(OPERANDS) - {"exists"}))
def test_missing_attribute_fails_as_not_set_for_every_operator(op: str) -> None:
    f = check(f"{{field: absent, {op}: {OPERANDS[op]}}}", {})
    assert f.status == "fail"
    assert f.message.startswith(told("`absent` is not set (it must "))


def test_missing_attribute_message_shows_the_expected_operand() -> None:
    f = check("{field: encryption.at_rest, equals: true}", {"encryption": {}})
    assert (f.status, f.message) == (
        "fail",
        told("`encryption.at_rest` is not set (it must be true)"),
    )
    assert f.evidence == {"encryption.at_rest": None}


def test_unknown_through_a_dangling_ref_names_the_id() -> None:
    policy = make_policy(
        "{field: artefact.storage.public, equals: false}", resource="model_version"
    )
    mv = Resource("mv1", "model_version", "fraud/3", "t", {"artefact": Ref("s3://gone")})
    [f] = findings(policy, mv)
    assert f.status == "error"
    assert f.message == (
        "cannot evaluate: `artefact.storage.public` is unknown: "
        "s3://gone is referenced but no configured source reports it"
    )


def test_contains_with_unknown_items() -> None:
    cond = "{field: formats, contains: safetensors}"
    f = check(cond, {"formats": ["pickle", Unknown("object 2 unreadable")]})
    assert (f.status, f.message) == (
        "error",
        "cannot evaluate: an item of `formats` is unknown: object 2 unreadable",
    )
    f = check(cond, {"formats": ["safetensors", Unknown("object 2 unreadable")]})
    assert f.status == "pass"


# --- follows references, evidence ---------------------------------------------------------------


def test_field_path_through_two_refs_with_evidence() -> None:
    policy = make_policy(
        "{field: artefact.storage.public, equals: false}", resource="model_version"
    )
    mv = Resource("mv1", "model_version", "fraud/3", "t", {"artefact": Ref("s3://a")})
    art = Resource("s3://a", "artefact", "a", "t", {"storage": Ref(SUBJECT)})
    [f] = findings(policy, mv, art, storage(public=True))
    assert f.status == "fail"
    assert f.message == "fraud/3: `artefact.storage.public` is true, and must not be"
    assert f.evidence == {"artefact.storage.public": True}
    [ok] = findings(policy, mv, art, storage(public=False))
    assert (ok.status, ok.message) == ("pass", "ok: artefact.storage.public equals false")


def test_ref_value_compares_by_id() -> None:
    f = check("{field: storage, equals: 's3://b'}", {"storage": Ref("s3://b")})
    assert f.status == "pass"
    assert f.evidence == {"storage": {"$ref": "s3://b"}}
    f = check("{field: storage, in: ['s3://c']}", {"storage": Ref("s3://b")})
    assert (f.status, f.message) == (
        "fail",
        told('`storage` is "s3://b", and must be one of ["s3://c"]'),
    )
    f = check("{field: readers, contains: 'p2'}", {"readers": [Ref("p1"), Ref("p2")]})
    assert f.status == "pass"


def test_evidence_records_every_value_that_decided() -> None:
    cond = """
    all:
      - {field: public, equals: false}
      - {field: encryption.at_rest, equals: true}
    """
    f = check(cond, {"public": False, "encryption": {"at_rest": False}})
    assert f.status == "fail"
    assert f.message == told("`encryption.at_rest` is not true")
    assert f.evidence == {"encryption.at_rest": False, "public": False}
    assert list(f.evidence) == sorted(f.evidence)


def test_long_values_are_clipped_in_messages_and_evidence() -> None:
    f = check("{field: owner, equals: me}", {"owner": "x" * 5000})
    assert f.status == "fail"
    assert "…(+" in f.message and len(f.message) < 300
    assert len(f.evidence["owner"]) < 2100 and f.evidence["owner"].endswith("…(+2952 chars)")


# --- params -----------------------------------------------------------------------------------


def test_param_operands() -> None:
    params = "max_readers: 5\nregions: [eu-west-1]\nowner_re: '^team-'\nmax_age: 90"
    cond = """
    all:
      - {field: reader_count, at_most: {param: max_readers}}
      - {field: region, in: {param: regions}}
      - {field: owner, matches: {param: owner_re}}
      - {field: reviewed, within_days: {param: max_age}}
    """
    good = {"reader_count": 5, "region": "eu-west-1", "owner": "team-ml", "reviewed": "2025-05-01"}
    f = check(cond, good, params=params)
    assert f.status == "pass"
    assert f.message == (
        'ok: all of (reader_count at most max_readers (5); region in regions (["eu-west-1"]); '
        'owner matches owner_re ("^team-"); reviewed within days max_age (90))'
    )
    bad = {"reader_count": 7, "region": "us-east-1", "owner": "bob", "reviewed": "2024-01-01"}
    f = check(cond, bad, params=params)
    assert f.status == "fail"
    assert f.message == told(
        "`reader_count` is 7, more than the 5 allowed; "
        '`region` is "us-east-1", and must be one of ["eu-west-1"]; '
        '`owner` is "bob", which does not match /^team-/; '
        '`reviewed` is "2024-01-01", 517 days ago; it must be within the last 90 days'
    )


def test_param_operand_uses_the_effective_value() -> None:
    from dataclasses import replace

    policy = make_policy(
        "{field: reader_count, at_most: {param: max_readers}}", params="max_readers: 5"
    )
    [f] = findings(replace(policy, params={"max_readers": 10}), storage(reader_count=7))
    assert f.status == "pass"


# --- booleans are not numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "value", "message"),
    [
        ("{field: x, equals: 1}", True, "`x` is true, and must be 1"),
        ("{field: x, equals: true}", 1, "`x` is 1, and must be true"),
        ("{field: x, equals: 0}", False, "`x` is false, and must be 0"),
        ("{field: x, in: [1, 2]}", True, "`x` is true, and must be one of [1, 2]"),
        ("{field: x, at_least: 0}", False, "`x` is false, not a number"),
        ("{field: x, contains: 1}", [True], "`x` is [true], which does not contain 1"),
    ],
)
def test_booleans_are_not_numbers(cond: str, value: Any, message: str) -> None:
    f = check(cond, {"x": value})
    assert (f.status, f.message) == ("fail", told(message))


def test_yaml_date_operand_compares_with_iso_text() -> None:
    cond = "{field: d, equals: 2025-01-01}"
    assert check(cond, {"d": "2025-01-01"}).status == "pass"
    assert check(cond, {"d": dt.date(2025, 1, 1)}).status == "pass"
    f = check(cond, {"d": "2025-01-01T00:00:00Z"})
    assert (f.status, f.message) == (
        "fail",
        told('`d` is "2025-01-01T00:00:00Z", and must be "2025-01-01"'),
    )


def test_contains_with_a_non_text_operand_never_matches_text() -> None:
    f = check("{field: s, contains: 5}", {"s": "v5"})
    assert (f.status, f.message) == ("fail", told('`s` is "v5", which does not contain 5'))


def test_matches_searches_and_is_case_sensitive_unless_told() -> None:
    assert check("{field: s, matches: prod}", {"s": "non-prod"}).status == "pass"
    assert check("{field: s, matches: '^prod$'}", {"s": "PROD"}).status == "fail"
    assert check("{field: s, matches: '(?i)^prod$'}", {"s": "PROD"}).status == "pass"


def test_not_equals_does_not_confuse_true_and_one() -> None:
    assert check("{field: x, not_equals: 1}", {"x": True}).status == "pass"
    assert check("{field: x, not_in: [0]}", {"x": False}).status == "pass"


# --- list quantifiers -------------------------------------------------------------------------

P1, P2 = "arn:aws:iam::1:role/ml", "arn:aws:iam::1:user/anon"
PRINCIPALS = (principal(P1, kind="service"), principal(P2, kind="anonymous"))


def test_quantifiers_over_refs() -> None:
    attrs = {"readers": [Ref(P1), Ref(P2)]}
    f = check("{field: readers, any_item: {field: kind, equals: service}}", attrs, *PRINCIPALS)
    assert (f.status, f.message) == ("pass", 'ok: any item of readers: kind equals "service"')

    f = check("{field: readers, any_item: {field: kind, equals: group}}", attrs, *PRINCIPALS)
    assert (f.status, f.message) == ("fail", told('no item of `readers` has kind is "group"'))

    f = check("{field: readers, no_item: {field: kind, equals: anonymous}}", attrs, *PRINCIPALS)
    assert (f.status, f.message) == (
        "fail",
        told(f'`readers[{P2}]` must not be there: kind is "anonymous"'),
    )
    assert f.evidence == {
        "readers": [{"$ref": P1}, {"$ref": P2}],
        f"readers[{P1}].kind": "service",
        f"readers[{P2}].kind": "anonymous",
    }

    f = check("{field: readers, every_item: {field: kind, equals: service}}", attrs, *PRINCIPALS)
    assert (f.status, f.message) == (
        "fail",
        told(f'`readers[{P2}].kind` is "anonymous", and must be "service"'),
    )


def test_quantifier_inner_condition_can_follow_refs_and_combine() -> None:
    cond = """
    field: readers
    every_item:
      any:
        - {field: kind, in: [service, group]}
        - {field: mfa, equals: true}
    """
    people = (principal(P1, kind="service"), principal(P2, kind="human", mfa=False))
    f = check(cond, {"readers": [Ref(P1), Ref(P2)]}, *people)
    assert f.status == "fail"
    assert f.message == told(
        f'every alternative fails: `readers[{P2}].kind` is "human", and must be one of '
        f'["service", "group"]; `readers[{P2}].mfa` is not true'
    )


def test_quantifiers_over_plain_dicts() -> None:
    files = [
        {"path": "model.safetensors", "format": "safetensors"},
        {"path": "model.pkl", "format": "pickle"},
    ]
    cond = "{field: files, every_item: {field: format, in: [safetensors, gguf]}}"
    f = check(cond, {"files": files})
    assert f.status == "fail"
    assert f.message == told(
        '`files[1].format` is "pickle", and must be one of ["safetensors", "gguf"]'
    )
    assert f.evidence["files[1].format"] == "pickle"
    assert f.evidence["files[0].format"] == "safetensors"

    f = check("{field: files, any_item: {field: path, matches: '\\.pkl$'}}", {"files": files})
    assert f.status == "pass"


def test_quantifier_labels_dict_items_by_their_id() -> None:
    deployments = [{"id": "ep-1", "auth": True}, {"id": "ep-2", "auth": False}]
    f = check(
        "{field: deployments, every_item: {field: auth, equals: true}}",
        {"deployments": deployments},
    )
    assert (f.status, f.message) == ("fail", told("`deployments[ep-2].auth` is not true"))


def test_quantifiers_over_scalars_without_field() -> None:
    attrs = {"formats": ["safetensors", "pickle"]}
    f = check("{field: formats, no_item: {equals: pickle}}", attrs)
    assert (f.status, f.message) == ("fail", told('`formats[1]` is "pickle", and must not'))
    assert f.evidence == {
        "formats": ["safetensors", "pickle"],
        "formats[0]": "safetensors",
        "formats[1]": "pickle",
    }
    f = check("{field: formats, every_item: {in: [safetensors, gguf]}}", attrs)
    assert (f.status, f.message) == (
        "fail",
        told('`formats[1]` is "pickle", and must be one of ["safetensors", "gguf"]'),
    )
    f = check("{field: formats, any_item: {equals: safetensors}}", attrs)
    assert f.status == "pass"


def test_quantifier_over_a_mapped_path() -> None:
    attrs = {"readers": [Ref(P1), Ref(P2)]}
    f = check("{field: readers.kind, no_item: {equals: anonymous}}", attrs, *PRINCIPALS)
    assert (f.status, f.message) == (
        "fail",
        told('`readers.kind[1]` is "anonymous", and must not'),
    )


@pytest.mark.parametrize(
    ("quantifier", "status", "message"),
    [
        ("any_item", "fail", "`readers` is empty"),
        ("every_item", "pass", 'ok: every item of readers: kind equals "human"'),
        ("no_item", "pass", 'ok: no item of readers: kind equals "human"'),
    ],
)
def test_quantifiers_over_an_empty_list(quantifier: str, status: str, message: str) -> None:
    f = check(f"{{field: readers, {quantifier}: {{field: kind, equals: human}}}}", {"readers": []})
    assert (f.status, f.message) == (status, told(message) if status == "fail" else message)


@pytest.mark.parametrize("quantifier", ["any_item", "every_item", "no_item"])
def test_quantifier_over_an_unknown_list_is_an_error(quantifier: str) -> None:
    f = check(
        f"{{field: readers, {quantifier}: {{field: kind, equals: human}}}}",
        {"readers": Unknown("s3:GetBucketPolicy denied")},
    )
    assert (f.status, f.message) == (
        "error",
        "cannot evaluate: `readers` is unknown: s3:GetBucketPolicy denied",
    )


def test_quantifier_over_a_non_list_fails() -> None:
    f = check("{field: readers, any_item: {equals: x}}", {"readers": "everyone"})
    assert (f.status, f.message) == ("fail", told('`readers` is "everyone", not a list'))


GONE = "arn:aws:iam::1:role/gone"
GONE_REASON = (
    f"`readers[{GONE}]` is unknown: {GONE} is referenced but no configured source reports it"
)


@pytest.mark.parametrize(
    ("quantifier", "kinds", "status", "message"),
    [
        # any_item: a match decides; otherwise the unknown item could be the match
        ("any_item", "service", "pass", 'ok: any item of readers: kind equals "service"'),
        ("any_item", "human", "error", f"cannot evaluate: {GONE_REASON}"),
        # every_item: a failing item decides; otherwise the unknown item could fail
        ("every_item", "human", "fail", f'`readers[{P1}].kind` is "service", and must be "human"'),
        ("every_item", "service", "error", f"cannot evaluate: {GONE_REASON}"),
        # no_item: a match decides; otherwise the unknown item could match
        ("no_item", "service", "fail", f'`readers[{P1}]` must not be there: kind is "service"'),
        ("no_item", "human", "error", f"cannot evaluate: {GONE_REASON}"),
    ],
)
def test_quantifiers_with_an_unknown_item(
    quantifier: str, kinds: str, status: str, message: str
) -> None:
    cond = f"{{field: readers, {quantifier}: {{field: kind, equals: {kinds}}}}}"
    f = check(cond, {"readers": [Ref(P1), Ref(GONE)]}, principal(P1, kind="service"))
    assert (f.status, f.message) == (status, told(message) if status == "fail" else message)


def test_quantifier_with_an_unknown_scalar_item() -> None:
    f = check(
        "{field: formats, no_item: {equals: pickle}}", {"formats": ["gguf", Unknown("HEAD denied")]}
    )
    assert (f.status, f.message) == (
        "error",
        "cannot evaluate: `formats[1]` is unknown: HEAD denied",
    )


def test_quantifier_items_that_are_refs_are_followed_to_their_fields() -> None:
    # the referenced resource's own fields are readable, its id included
    attrs = {"readers": [Ref(P1), Ref(P2)]}
    f = check(f"{{field: readers, no_item: {{field: id, equals: '{P2}'}}}}", attrs, *PRINCIPALS)
    assert (f.status, f.message) == (
        "fail",
        told(f'`readers[{P2}]` must not be there: id is "{P2}"'),
    )
    f = check("{field: readers, every_item: {field: type, equals: principal}}", attrs, *PRINCIPALS)
    assert f.status == "pass"


@pytest.mark.parametrize("quantifier", ["any_item", "every_item", "no_item"])
@pytest.mark.parametrize("attrs", [{}, {"readers": None}], ids=["missing", "null"])
def test_quantifiers_over_a_missing_list_fail_as_not_set(quantifier: str, attrs: dict) -> None:
    """A list nobody reported is not an empty list: every/no_item must not pass vacuously."""
    f = check(f"{{field: readers, {quantifier}: {{field: kind, equals: human}}}}", attrs)
    assert (f.status, f.message) == ("fail", told("`readers` is not set"))
    assert f.evidence == {"readers": None}


@pytest.mark.parametrize(
    ("condition", "attrs", "status", "message"),
    [
        # Negating "not set" must not pass: the value that would decide is not there.
        ("{not: {field: public, equals: true}}", {}, "fail", "`public` is not set"),
        ("{not: {field: public, equals: true}}", {"public": False}, "pass", None),
        ("{not: {not: {field: public, equals: true}}}", {}, "fail", "`public` is not set"),
        # ... unless another branch decides regardless.
        (
            "{not: {all: [{field: a, equals: 1}, {field: public, equals: true}]}}",
            {"a": 2},
            "pass",
            None,
        ),
        (
            "{not: {any: [{field: a, equals: 1}, {field: public, equals: true}]}}",
            {"a": 2},
            "fail",
            "`public` is not set",
        ),
        # A reader whose kind nobody reported might be anonymous.
        (
            "{field: readers, no_item: {field: kind, equals: anonymous}}",
            {"readers": [{"id": "x"}]},
            "fail",
            "`readers[x].kind` is not set",
        ),
        # exists asks about presence itself, so its negation is a plain negation.
        ("{not: {field: owner, exists: true}}", {}, "pass", None),
    ],
)
def test_negation_of_a_missing_attribute_does_not_pass(condition, attrs, status, message) -> None:
    f = check(condition, attrs)
    assert f.status == status
    if message:
        assert message in f.message


# --- Kleene logic -----------------------------------------------------------------------------

T = "{field: t, equals: true}"
F = "{field: f, equals: true}"
U = "{field: u, equals: true}"
G = "{field: g, equals: 2}"
KLEENE_ATTRS = {"t": True, "f": False, "g": 3, "u": Unknown("u denied")}
U_MSG = "cannot evaluate: `u` is unknown: u denied"


@pytest.mark.parametrize(
    ("cond", "status", "message"),
    [
        (f"{{all: [{F}, {U}]}}", "fail", "`f` is not true"),
        (f"{{all: [{U}, {F}]}}", "fail", "`f` is not true"),
        (f"{{all: [{T}, {U}]}}", "error", U_MSG),
        (f"{{all: [{T}, {T}]}}", "pass", "ok: all of (t equals true; t equals true)"),
        (f"{{all: [{U}, {U}]}}", "error", U_MSG),
        (f"{{any: [{T}, {U}]}}", "pass", "ok: any of (t equals true; u equals true)"),
        (f"{{any: [{U}, {T}]}}", "pass", "ok: any of (u equals true; t equals true)"),
        (f"{{any: [{F}, {U}]}}", "error", U_MSG),
        (
            f"{{any: [{F}, {G}]}}",
            "fail",
            "every alternative fails: `f` is not true; `g` is 3, and must be 2",
        ),
        (f"{{not: {U}}}", "error", U_MSG),
        (f"{{not: {T}}}", "fail", "`t` is true, and must not"),
        (f"{{not: {F}}}", "pass", "ok: not (f equals true)"),
        (
            f"{{not: {{all: [{F}, {U}]}}}}",
            "pass",
            "ok: not (all of (f equals true; u equals true))",
        ),
        (
            f"{{not: {{any: [{T}, {U}]}}}}",
            "fail",
            "either `t` is true or `u` is true, and must not",
        ),
        (f"{{not: {{not: {U}}}}}", "error", U_MSG),
        (
            f"{{any: [{{all: [{T}, {U}]}}, {T}]}}",
            "pass",
            "ok: any of (all of (t equals true; u equals true); t equals true)",
        ),
        (f"{{all: [{{any: [{F}, {U}]}}, {F}]}}", "fail", "`f` is not true"),
    ],
)
def test_kleene_truth_table(cond: str, status: str, message: str) -> None:
    f = check(cond, KLEENE_ATTRS)
    assert (f.status, f.message) == (status, told(message) if status == "fail" else message)


def test_all_with_several_failures_reports_each() -> None:
    f = check(f"{{all: [{F}, {{field: g, equals: 2}}]}}", {"f": False, "g": 3})
    assert f.message == told("`f` is not true; `g` is 3, and must be 2")


# --- count operators with Unknown items --------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "items", "status", "message"),
    [
        (
            "{field: xs, count_at_least: 2}",
            ["a", "b", Unknown("r")],
            "pass",
            "ok: xs count at least 2",
        ),
        (
            "{field: xs, count_at_least: 2}",
            ["a", Unknown("r")],
            "error",
            "cannot evaluate: `xs` has 1 known and 1 unknown items",
        ),
        (
            "{field: xs, count_at_least: 3}",
            ["a", Unknown("r")],
            "fail",
            '`xs` has 1 item, fewer than the 3 required: ["a"]',
        ),
        (
            "{field: xs, count_at_most: 1}",
            ["a", "b", Unknown("r")],
            "fail",
            '`xs` has 2 items, more than the 1 allowed: ["a", "b"]',
        ),
        (
            "{field: xs, count_at_most: 1}",
            ["a", Unknown("r")],
            "error",
            "cannot evaluate: `xs` has 1 known and 1 unknown items",
        ),
        ("{field: xs, count_at_most: 2}", ["a", Unknown("r")], "pass", "ok: xs count at most 2"),
    ],
)
def test_count_with_unknown_items(cond: str, items: list, status: str, message: str) -> None:
    f = check(cond, {"xs": items})
    assert (f.status, f.message) == (status, told(message) if status == "fail" else message)


def test_count_over_refs_counts_dangling_refs_as_known_items() -> None:
    # counting needs no dereference: a reader nobody reports is still a reader
    f = check("{field: readers, count_at_most: 1}", {"readers": [Ref(P1), Ref(GONE)]})
    assert (f.status, f.message) == (
        "fail",
        told(f'`readers` has 2 items, more than the 1 allowed: ["{P1}", "{GONE}"]'),
    )


def test_count_over_a_mapped_path_with_a_dangling_ref() -> None:
    f = check(
        "{field: readers.kind, count_at_least: 2}",
        {"readers": [Ref(P1), Ref(GONE)]},
        principal(P1, kind="service"),
    )
    assert (f.status, f.message) == (
        "error",
        "cannot evaluate: `readers.kind` has 1 known and 1 unknown items",
    )


# --- dates ------------------------------------------------------------------------------------


def yaml_value(text: str) -> Any:
    return load_yaml_text(f"v: {text}\n", "v.yaml").data["v"]


@pytest.mark.parametrize(
    "value",
    [
        yaml_value("2025-03-03"),  # YAML date → datetime.date
        yaml_value("2025-03-03 12:00:00"),  # YAML timestamp without zone → naive datetime
        yaml_value("2025-03-03T12:00:00Z"),
        "2025-03-03T12:00:00Z",
        "2025-03-03T14:00:00+02:00",
        "2025-03-03T12:00:00",  # naive ISO text: read as UTC
        dt.datetime(2025, 3, 3, 12, 0),  # naive datetime: read as UTC
        dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC),
    ],
)
def test_date_forms_at_the_90_day_boundary(value: Any) -> None:
    # NOW - 90 days = 2025-03-03T12:00Z; a date-only value is midnight, i.e. 90.5 days old
    within = check("{field: d, within_days: 90}", {"d": value})
    older = check("{field: d, older_than_days: 90}", {"d": value})
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        assert (within.status, older.status) == ("fail", "pass")
        assert within.message == told(
            '`d` is "2025-03-03", 90 days ago; it must be within the last 90 days'
        )
    else:
        assert (within.status, older.status) == ("pass", "fail")
        assert older.message.endswith(", only 90 days ago; it must be more than 90 days old")


def test_yaml_dates_in_messages_and_evidence_are_iso_text() -> None:
    assert isinstance(yaml_value("2025-01-01"), dt.date)
    f = check("{field: d, within_days: 30}", {"d": yaml_value("2025-01-01")})
    assert f.message == told(
        '`d` is "2025-01-01", 151 days ago; it must be within the last 30 days'
    )
    assert f.evidence == {"d": "2025-01-01"}
    f = check("{field: d, within_days: 30}", {"d": dt.datetime(2025, 1, 1, 6, 30)})
    assert f.message == told(
        '`d` is "2025-01-01T06:30:00Z", 151 days ago; it must be within the last 30 days'
    )


def test_within_days_tolerates_one_day_of_clock_skew() -> None:
    assert check("{field: d, within_days: 1}", {"d": "2025-06-02T11:00:00Z"}).status == "pass"
    f = check("{field: d, within_days: 1}", {"d": "2025-06-02T13:00:00Z"})
    assert (f.status, f.message) == (
        "fail",
        told('`d` is "2025-06-02T13:00:00Z", which is in the future'),
    )


def test_in_future_relative_to_the_given_now() -> None:
    cond = "{field: expires, in_future: true}"
    attrs = {"expires": "2025-06-01T12:00:01Z"}
    assert check(cond, attrs).status == "pass"
    later = NOW + dt.timedelta(days=3)
    f = check(cond, attrs, now=later)
    assert (f.status, f.message) == (
        "fail",
        told('`expires` is "2025-06-01T12:00:01Z": expired 2 day(s) ago'),
    )
    f = check(cond, {"expires": "2025-06-01T12:00:00Z"})  # exactly now: already expired
    assert (f.status, f.message) == (
        "fail",
        told('`expires` is "2025-06-01T12:00:00Z": expired 0 day(s) ago'),
    )


# --- scope ------------------------------------------------------------------------------------


def test_scope() -> None:
    policy = make_policy(
        "{field: public, equals: false}", scope="{field: holds_models, equals: true}"
    )
    out = findings(
        policy,
        storage("s3://a", holds_models=False, public=True),
        storage("s3://b", holds_models=True, public=True),
        storage("s3://c", holds_models=Unknown("s3:ListBucket denied"), public=False),
        storage("s3://d", holds_models=True, public=False),
        storage("s3://e", public=False),
    )
    got = {f.resource_id: (f.status, f.message) for f in out}
    assert got == {
        "s3://a": ("not_applicable", "out of scope: `holds_models` is not true"),
        "s3://b": ("fail", "//b: `public` is true, and must not be"),
        "s3://c": (
            "error",
            "cannot tell whether the policy applies: `holds_models` is unknown: "
            "s3:ListBucket denied",
        ),
        "s3://d": ("pass", "ok: public equals false"),
        # Whether it applies hangs on a value nobody reported: error, not a silent skip.
        "s3://e": (
            "error",
            "cannot tell whether the policy applies: `holds_models` is not set (it must be true)",
        ),
    }
    # A policy for which "not reported" means "out of scope" says so with `exists`.
    guarded = make_policy(
        "{field: public, equals: false}",
        scope="{all: [{field: holds_models, exists: true}, {field: holds_models, equals: true}]}",
    )
    assert findings(guarded, storage("s3://e", public=False))[0].status == "not_applicable"
    by_id = {f.resource_id: f for f in out}
    # the scope value is evidence too; an out-of-scope resource is not checked at all
    assert by_id["s3://a"].evidence == {"holds_models": False}
    assert by_id["s3://b"].evidence == {"holds_models": True, "public": True}
    assert [f.resource_id for f in out] == sorted(got)


def test_findings_carry_policy_and_resource_identity() -> None:
    policy = make_policy("{field: public, equals: false}")
    [f] = findings(policy, storage(public=True))
    assert (f.policy_id, f.title, f.severity, f.maturity) == (
        "T-COND-01",
        "Condition under test",
        "high",
        "applied",
    )
    assert (f.resource_id, f.resource_type, f.resource_name) == (SUBJECT, "storage", "models")


def test_only_resources_of_the_policy_type_are_evaluated() -> None:
    policy = make_policy("{field: public, equals: false}")
    assert findings(policy, principal(P1, kind="human")) == []


# --- require_in_scope -------------------------------------------------------------------------

REQUIRE = "message: No current threat model attestation"
ATTESTATION_SCOPE = "{field: kind, equals: threat_model}"
ATTESTATION_CHECK = "{field: expires, in_future: true}"


def attestation(rid: str, **attrs: Any) -> Resource:
    return Resource(rid, "attestation", rid, "attestations", attrs)


def attestation_policy(require: str = REQUIRE) -> Policy:
    return make_policy(
        ATTESTATION_CHECK, resource="attestation", scope=ATTESTATION_SCOPE, require=require
    )


def test_require_in_scope_with_no_resource_at_all() -> None:
    [f] = findings(attestation_policy())
    assert (f.resource_id, f.resource_type, f.resource_name) == (
        "modelward:missing/attestation",
        "attestation",
        "(no passing attestation)",
    )
    assert f.status == "fail"
    assert f.message == (
        "No current threat model attestation (0 of 0 attestation(s) in scope pass, 1 required)"
    )
    assert f.evidence == {}


def test_require_in_scope_with_only_out_of_scope_resources() -> None:
    out = findings(attestation_policy(), attestation("att-1", kind="pentest", expires="2026-01-01"))
    assert [(f.resource_id, f.status) for f in out] == [
        ("att-1", "not_applicable"),
        ("modelward:missing/attestation", "fail"),
    ]
    assert out[1].message.endswith("(0 of 0 attestation(s) in scope pass, 1 required)")


def test_expired_attestation_next_to_a_current_one_is_superseded() -> None:
    out = findings(
        attestation_policy(),
        attestation("att-old", kind="threat_model", expires="2024-06-01"),
        attestation("att-new", kind="threat_model", expires="2026-06-01"),
    )
    got = {f.resource_id: (f.status, f.message) for f in out}
    assert got == {
        "att-new": ("pass", "ok: expires in future true"),
        "att-old": (
            "not_applicable",
            "superseded: 1 other attestation(s) satisfy this policy "
            '(att-old: `expires` is "2024-06-01": expired 365 day(s) ago)',
        ),
    }
    old = next(f for f in out if f.resource_id == "att-old")
    assert old.evidence == {"expires": "2024-06-01", "kind": "threat_model"}


def test_superseding_keeps_errors() -> None:
    out = findings(
        attestation_policy(),
        attestation("att-a", kind="threat_model", expires="2026-06-01"),
        attestation("att-b", kind="threat_model", expires=Unknown("evidence file unreadable")),
    )
    assert {f.resource_id: f.status for f in out} == {"att-a": "pass", "att-b": "error"}


def test_require_in_scope_only_failing() -> None:
    out = findings(
        attestation_policy(), attestation("att-old", kind="threat_model", expires="2024-06-01")
    )
    assert [(f.resource_id, f.status) for f in out] == [
        ("att-old", "fail"),
        ("modelward:missing/attestation", "fail"),
    ]
    assert out[1].message == (
        "No current threat model attestation (0 of 1 attestation(s) in scope pass, 1 required)"
    )


def test_require_in_scope_error_when_an_erroring_one_could_satisfy_it() -> None:
    out = findings(
        attestation_policy(),
        attestation("att-old", kind="threat_model", expires="2024-06-01"),
        attestation("att-x", kind="threat_model", expires=Unknown("evidence file unreadable")),
    )
    assert [(f.resource_id, f.status) for f in out] == [
        ("att-old", "fail"),
        ("att-x", "error"),
        ("modelward:missing/attestation", "error"),
    ]
    assert out[2].message == (
        "No current threat model attestation (0 of 2 attestation(s) in scope pass, 1 required)"
    )


def test_require_in_scope_unknown_scope_counts_as_error() -> None:
    out = findings(attestation_policy(), attestation("att-x", kind=Unknown("denied")))
    assert [(f.resource_id, f.status) for f in out] == [
        ("att-x", "error"),
        ("modelward:missing/attestation", "error"),
    ]


def test_require_in_scope_at_least_two() -> None:
    policy = attestation_policy(require=f"{REQUIRE}\nat_least: 2")
    out = findings(
        policy,
        attestation("att-a", kind="threat_model", expires="2026-06-01"),
        attestation("att-b", kind="threat_model", expires="2024-06-01"),
    )
    got = {f.resource_id: f.status for f in out}
    # one pass is not enough: the expired one is not superseded and the gap is reported
    assert got == {"att-a": "pass", "att-b": "fail", "modelward:missing/attestation": "fail"}
    missing = next(f for f in out if f.resource_id == "modelward:missing/attestation")
    assert missing.message.endswith("(1 of 2 attestation(s) in scope pass, 2 required)")
    out = findings(
        policy,
        attestation("att-a", kind="threat_model", expires="2026-06-01"),
        attestation("att-c", kind="threat_model", expires="2027-06-01"),
    )
    assert {f.resource_id: f.status for f in out} == {"att-a": "pass", "att-c": "pass"}


def test_fieldless_test_on_reference_items_compares_ids() -> None:
    """`no_item: {equals: <id>}` over a list of references must see the ids, not fail open."""
    import datetime as _dt

    from scanner.inventory import Inventory, Ref, Resource
    from scanner.policy.evaluate import evaluate_policy
    from scanner.policy.loader import parse_policy
    from scanner.yamlpos import load_yaml_text

    text = (
        "id: T-REF\ntitle: t\nseverity: high\nmaturity: applied\nresource: storage\n"
        "check:\n  field: readers\n  no_item: {equals: 'arn:aws:iam::1:root'}\n"
    )
    policy, errors = parse_policy(load_yaml_text(text, "p.yaml"))
    assert policy is not None, errors
    inv = Inventory(
        [
            Resource("arn:aws:iam::1:root", "principal", "root", "t", {"kind": "human"}),
            Resource("arn:aws:iam::1:role/r", "principal", "r", "t", {"kind": "service"}),
            Resource(
                "s3://bad",
                "storage",
                "bad",
                "t",
                {"readers": [Ref("arn:aws:iam::1:role/r"), Ref("arn:aws:iam::1:root")]},
            ),
            Resource("s3://ok", "storage", "ok", "t", {"readers": [Ref("arn:aws:iam::1:role/r")]}),
        ]
    )
    found = {f.resource_id: f for f in evaluate_policy(policy, inv, _dt.datetime.now(_dt.UTC))}
    assert found["s3://ok"].status == "pass"
    assert found["s3://bad"].status == "fail"
    assert (
        '`readers[arn:aws:iam::1:root]` is "arn:aws:iam::1:root", and must not'
        in found["s3://bad"].message
    )
