"""Property tests: hostile policy files and hostile inventories never crash modelward.

1. Plausible-but-wrong policy documents (the real vocabulary mixed with junk keys, values of
   every type, random nesting) either load into a PolicySet or are refused with PolicyError
   (exit 2) whose every detail is one `FILE:LINE:COL: message` line - never another exception.
2. Every policy that loads evaluates against random inventories (scalars, lists, dicts, Unknown,
   references to present and missing resources, HTML/ANSI/1 MB strings) without raising; every
   finding has a known status, a bounded message and JSON-serialisable, bounded evidence, and
   the results document built from them validates and leaks no credentials.

Known bugs are pinned by strict-xfail tests at the bottom; `_known_bug` recognises exactly those
so the properties keep guarding against new ones. Fixing a bug turns its xfail into XPASS
(strict: a failure): remove that xfail and the matching `_known_bug` rule together.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import traceback
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scanner import results
from scanner.errors import EXIT_USAGE
from scanner.findings import Finding
from scanner.frameworks import maturity
from scanner.gate import GateSettings, decide
from scanner.inventory import RESOURCE_TYPES, Inventory, Ref, Resource, Unknown, to_jsonable
from scanner.policy.evaluate import MAX_MESSAGE, evaluate_policy
from scanner.policy.loader import PolicyError, PolicySet, load_policy_dirs
from scanner.policy.model import COMBINATORS, OPERATORS, QUANTIFIERS, Condition, Policy
from scanner.policy.outcome import MAX_EVIDENCE_CHARS

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
STATUSES = {"pass", "fail", "error", "not_applicable"}
LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

# --- values ---------------------------------------------------------------------------------

SECRET = "s3cr3tPW"
SIGNATURE = "deadbeefcafe"
MEGABYTE = "A" * (1024 * 1024)
HOSTILE_STRINGS = [
    "<script>alert(1)</script>",
    "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "line1\nline2\r\nf.yaml:1:1: forged",
    "\x00\x85\u2028\u202e",
    "{{ 7*7 }} ${jndi:ldap://x} | `rm -rf` ](javascript:alert(1))",
    f"https://alice:{SECRET}@models.example.com/m.bin?X-Amz-Signature={SIGNATURE}",
    "2025-05-30",
    "2025-05-30T10:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    MEGABYTE,
    "",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["a", "b", "x", "true", "public", "2025-01-01", "^a", ".*"]),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.binary(max_size=4),
)
any_value = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)

# --- policy documents -------------------------------------------------------------------------

VOCABULARY = [*COMBINATORS, *QUANTIFIERS, *OPERATORS, "field"]
JUNK_KEYS = [
    "equal",
    "Field",
    "fields",
    "ALL",
    "any_items",
    "exist",
    "",
    " ",
    "id",
    "param",
    "params",
    "$ref",
    "x-y",
    "not ",
    "ñ",
    "<<",
    "1",
    "true",
    "null",
]
FIELDS = ["a", "b", "a.b", "tags", "L", "L.x", "created", "public", "id", "name", "L.0"]
JUNK_FIELDS = ["", ".", "a..b", "1a", "a b", "a.b.", "-", "$", "x" * 300, 1, None, ["a"], {"a": 1}]
# Declared params, by the kind of operand they can feed.
PARAMS = {"n": 3, "pattern": "^a", "allowed": ["a", 1, True]}
PARAM_FOR_KIND = {"number": "n", "count": "n", "regex": "pattern", "list": "allowed"}
PARAM_NAMES = sorted(PARAMS)
JUNK_PARAM_NAMES = ["missing", "P", "1x", "", 5, None, [1], {"x": 1}, True]
SAFE_REGEXES = ["^a", "b$", "x+", "^[a-z]*$", "\\d", "(?i)secret", "", "."]
BAD_REGEXES = ["(", "[", "*", "(?P<x>", "\\"]


def operands(op: str, junk: bool) -> st.SearchStrategy[Any]:
    kind = OPERATORS[op]
    valid = {
        "bool": st.booleans(),
        "any": any_value,
        "list": st.lists(scalars, max_size=3),
        "regex": st.sampled_from(SAFE_REGEXES),
        "number": st.one_of(st.integers(0, 400), st.floats(0, 400)),
        "count": st.integers(0, 4),
    }[kind]
    names = [PARAM_FOR_KIND[kind]] if kind in PARAM_FOR_KIND else PARAM_NAMES
    param = st.builds(lambda n: {"param": n}, st.sampled_from(names))
    if not junk:
        return st.one_of(valid, param) if kind != "bool" else valid
    bad_param = st.builds(lambda n: {"param": n}, st.sampled_from(JUNK_PARAM_NAMES))
    return st.one_of(valid, param, bad_param, any_value, st.sampled_from(BAD_REGEXES))


def field_tests(in_item: bool, junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    fields = st.sampled_from(FIELDS)
    if junk:
        fields = st.one_of(fields, st.sampled_from(JUNK_FIELDS))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        op = draw(st.sampled_from(sorted(OPERATORS)))
        node: dict[str, Any] = {}
        if not in_item or draw(st.booleans()):
            node["field"] = draw(fields)
        node[op] = draw(operands(op, junk))
        if junk and draw(st.integers(0, 4)) == 0:  # a second operator or a junk key
            node[draw(st.sampled_from([*VOCABULARY, *JUNK_KEYS]))] = draw(any_value)
        return node

    return build()


@cache
def conditions(depth: int, in_item: bool, junk: bool) -> st.SearchStrategy[Any]:
    leaf = field_tests(in_item, junk)
    if depth == 0:
        return leaf
    inner = conditions(depth - 1, in_item, junk)
    item = conditions(depth - 1, True, junk)
    fields = st.sampled_from(["L", "tags", "a", "refs"] if not junk else [*FIELDS, *JUNK_FIELDS])
    options = [
        leaf,
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
        st.builds(lambda f, q, x: {"field": f, q: x}, fields, st.sampled_from(QUANTIFIERS), item),
    ]
    if junk:
        keys = st.sampled_from([*VOCABULARY, *JUNK_KEYS])
        options += [
            st.dictionaries(
                keys, st.one_of(inner, any_value, st.lists(inner, max_size=2)), max_size=3
            ),
            any_value,
            st.builds(lambda xs: {"all": xs}, st.just([])),
            st.builds(lambda x: {"not": x}, any_value),
        ]
    return st.one_of(*options)


def mixed_conditions(depth: int) -> st.SearchStrategy[Any]:
    """Half well-formed conditions, half with junk anywhere in them."""
    return st.one_of(conditions(depth, False, False), conditions(depth, False, True))


POLICY_IDS = ["T-1", "T-2", "MW-ART-01"]


@st.composite
def policy_docs(draw: st.DrawFn, junk: bool) -> dict[str, Any]:
    def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        # (Hypothesis favours small integers, so the rare branch is the largest value.)
        return st.one_of(valid, any_value) if junk and draw(st.integers(0, 9)) == 9 else valid

    doc: dict[str, Any] = {}
    required = {
        "id": st.sampled_from(POLICY_IDS),
        "title": st.sampled_from(["A title", "<b>x</b>", "\x1b[1mT"]),
        "severity": st.sampled_from(["critical", "high", "medium", "low", "info"]),
        "maturity": st.sampled_from(["applied", "advanced", "strategic"]),
        "resource": st.sampled_from(RESOURCE_TYPES)
        if not junk
        else st.sampled_from([*RESOURCE_TYPES, "modle", "bucket", "", "mod\nel"]),
        "check": mixed_conditions(3)
        if junk
        else st.one_of(*(conditions(depth, False, False) for depth in (0, 1, 3))),
    }
    for key, strategy in required.items():
        if not junk or draw(st.integers(0, 15)) < 15:
            doc[key] = draw(maybe(strategy))
    if draw(st.integers(0, 2)) == 0:
        doc["scope"] = draw(maybe(mixed_conditions(1) if junk else conditions(1, False, False)))
    if not junk or draw(st.integers(0, 4)) < 4:
        doc["params"] = dict(PARAMS)
    else:
        names = st.sampled_from([*PARAM_NAMES, "P", "1x", "ok_name"])
        values = st.one_of(
            st.sampled_from(list(PARAMS.values())),
            st.integers(-1, 10),
            st.floats(0, 10),
            st.booleans(),
            st.sampled_from(SAFE_REGEXES + BAD_REGEXES),
            st.lists(scalars, max_size=3),
        )
        doc["params"] = draw(maybe(st.dictionaries(names, values, max_size=3)))
    if draw(st.integers(0, 3)) == 0:
        doc["require_in_scope"] = draw(
            maybe(
                st.fixed_dictionaries(
                    {"message": st.just("evidence missing")},
                    optional={"at_least": st.integers(1, 3)},
                )
            )
        )
    optional = {
        "description": st.text(max_size=10),
        "rationale": st.text(max_size=10),
        "remediation": st.one_of(
            st.just("Fix it."), st.just({"summary": "Fix", "cli": "aws s3 ..."})
        ),
        "references": st.lists(st.just("https://example.com/x"), max_size=2),
        "tags": st.lists(st.text(max_size=5), max_size=2),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0:
            doc[key] = draw(maybe(strategy))
    if junk and draw(st.integers(0, 5)) == 5:
        doc[draw(st.sampled_from(["checks", "Id", "version", "scope_", "<<"]))] = draw(any_value)
    return doc


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# --- the loading property ---------------------------------------------------------------------


def _frames(exc: BaseException) -> list[tuple[str, str]]:
    return [
        (f.filename.replace("\\", "/"), f.name) for f in traceback.extract_tb(exc.__traceback__)
    ]


def load_texts(texts: list[str]) -> tuple[PolicySet | None, list[str]]:
    """Write the files, load the directory, assert the loader's contract; (set, file prefixes)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = []
        for index, text in enumerate(texts):
            path = root / ("sub" if index % 2 else "") / f"p{index}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        try:
            loaded = load_policy_dirs([root])
        except PolicyError as exc:
            assert exc.exit_code == EXIT_USAGE
            assert exc.details, exc.message
            assert exc.message.startswith(exc.details[0])
            prefix = re.compile(
                "(" + "|".join(re.escape(f) for f in files) + r"):[1-9][0-9]*:[1-9][0-9]*: \S"
            )
            for detail in exc.details:
                assert prefix.match(detail), f"detail without FILE:LINE:COL: {detail!r}"
                assert not LINE_BREAKS.search(detail), f"multi-line detail: {detail!r}"
            return None, files
        except Exception as exc:
            raise AssertionError(f"{type(exc).__name__} escaped load_policy_dirs") from exc
    assert isinstance(loaded, PolicySet)
    ids = [p.id for p in loaded.policies]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for policy in loaded.policies:
        assert isinstance(policy.check, Condition)
        assert policy.resource in RESOURCE_TYPES
    return loaded, files


@settings(SETTINGS, max_examples=100)
@given(st.lists(policy_docs(junk=True), min_size=1, max_size=2))
def test_hostile_policy_documents_load_or_fail_with_positioned_lines(docs: list[Any]) -> None:
    load_texts([dump(doc) for doc in docs])


@settings(SETTINGS, max_examples=80)
@given(mixed_conditions(3), st.sampled_from(["check", "scope"]))
def test_hostile_conditions_load_or_fail_with_positioned_lines(cond: Any, where: str) -> None:
    doc = {
        "id": "T-1",
        "title": "t",
        "severity": "low",
        "maturity": "applied",
        "resource": "model",
        "params": PARAMS,
        "check": {"field": "a", "exists": True},
        where: cond,
    }
    load_texts([dump(doc)])


# --- the evaluation property ------------------------------------------------------------------

ATTR_KEYS = ["a", "b", "x", "tags", "L", "refs", "created", "public", "id", "name", "0"]
OWN_IDS = ["r1", "r2", "<img src=x onerror=alert(1)>", f"s3://u:{SECRET}@b/k"]
TARGET_IDS = ["t1", "t2"]
MISSING_IDS = ["gone", f"https://bob:{SECRET}@h/x"]


# Indexed, not sampled_from()/just(): Hypothesis would otherwise repr the 1 MB string.
def _hostile(index: int) -> str:
    return HOSTILE_STRINGS[index]


hostile_strings = st.integers(0, len(HOSTILE_STRINGS) - 1).map(_hostile)
refs = st.builds(Ref, st.sampled_from([*OWN_IDS, *TARGET_IDS, *MISSING_IDS]))
unknowns = st.builds(
    Unknown, st.one_of(st.sampled_from(["AccessDenied", "throttled"]), hostile_strings)
)
leaves = st.one_of(
    scalars,
    hostile_strings,
    unknowns,
    refs,
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2030, 1, 1),
        timezones=st.sampled_from([dt.UTC, None]),
    ),
)
records = st.dictionaries(st.sampled_from(ATTR_KEYS), leaves, max_size=3)
deep_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(st.sampled_from(ATTR_KEYS), hostile_strings), inner, max_size=4)
        | st.lists(refs, max_size=3)
    ),
    max_leaves=10,
)
attribute_values = st.one_of(
    leaves, st.lists(leaves, max_size=4), records, st.lists(records, max_size=3), deep_values
)
attribute_maps = st.dictionaries(st.sampled_from(ATTR_KEYS), attribute_values, max_size=6)


@st.composite
def inventories(draw: st.DrawFn, resource_type: str) -> Inventory:
    own_ids = draw(st.lists(st.sampled_from(OWN_IDS), min_size=1, max_size=3, unique=True))
    resources = [
        Resource(
            rid,
            resource_type,
            draw(st.sampled_from([rid, "\x1b[2Jname"])),
            "prop",
            draw(attribute_maps),
        )
        for rid in own_ids
    ]
    for tid in TARGET_IDS:  # reference targets: of another type, or the same one
        if draw(st.booleans()):
            other = draw(st.sampled_from(["storage", resource_type]))
            resources.append(Resource(tid, other, tid, "prop", draw(attribute_maps)))
    return Inventory(resources)


KEY = object()  # marks "the key itself" in a location path


def locations(value: Any, hit: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every string (dict keys included, as `(..., KEY, key)`) for which `hit` holds."""
    if isinstance(value, str):
        return [path] if hit(value) else []
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and hit(key):
                out.append((*path, KEY, key))
            out.extend(locations(item, hit, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(locations(item, hit, (*path, index)))
    return out


def results_document(policy: Policy, inventory: Inventory, findings: list[Finding]) -> dict:
    scan = {
        "id": "prop",
        "started_at": "2025-06-01T12:00:00Z",
        "finished_at": "2025-06-01T12:00:00Z",
        "as_of": "2025-06-01T12:00:00Z",
        "sources": [],
        "policy_pack": {"count": 1, "sha256": "0" * 64},
        "params": {},
    }
    return results.build(
        scan=scan,
        policies=[policy],
        resources=list(inventory),
        findings=findings,
        frameworks=[],
        maturity=maturity([policy], findings),
        gate=decide(findings, [], GateSettings()),
    )


@settings(SETTINGS, max_examples=80)
@given(policy_docs(junk=False), st.data())
def test_loaded_policies_evaluate_any_inventory(doc: dict[str, Any], data: st.DataObject) -> None:
    loaded, _ = load_texts([dump(doc)])
    assume(loaded is not None)
    assert loaded is not None
    (policy,) = loaded.policies
    inventory = data.draw(inventories(policy.resource), label="inventory")
    findings = evaluate_policy(policy, inventory, NOW)
    own = {r.id for r in inventory.of_type(policy.resource)}
    assert {f.resource_id for f in findings} >= own
    for finding in findings:
        assert finding.status in STATUSES, finding
        assert isinstance(finding.message, str)
        if finding.status != "pass":  # pass messages describe the (trusted) policy
            assert len(finding.message) <= MAX_MESSAGE + 200, len(finding.message)
        evidence = to_jsonable(finding.evidence)
        json.dumps(evidence)
        json.dumps(finding.to_dict())
        oversized = locations(evidence, lambda t: len(t) > MAX_EVIDENCE_CHARS + 40)
        assert not oversized, f"unclipped evidence at {oversized}"
    document = results_document(policy, inventory, findings)
    assert results.problems(document) == []
    out = results.dumps(document)
    assert json.loads(out)["summary"]["total"] == len(findings)
    leaks = locations(document, lambda t: SECRET in t or SIGNATURE in t)
    assert not leaks, f"credential in results.json at {leaks}"


# --- pinned bugs ------------------------------------------------------------------------------

HEAD = "id: T-1\ntitle: t\nseverity: high\nmaturity: applied\nresource: model\n"


def _load_one(tmp_path: Path, text: str) -> PolicySet:
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    return load_policy_dirs([tmp_path])


@pytest.mark.parametrize("operand", ["{param: [1]}", "{param: {x: 1}}"])
def test_non_string_param_name_is_a_policy_error(tmp_path: Path, operand: str) -> None:
    text = HEAD + f"params: {{n: 1}}\ncheck: {{field: a, equals: {operand}}}\n"
    with pytest.raises(PolicyError) as err:
        _load_one(tmp_path, text)
    assert re.match(r".*p\.yaml:7:\d+: param name must be text", err.value.details[0])


@pytest.mark.parametrize(
    "text",
    [
        'id: T-1\ntitle: t\nseverity: low\nmaturity: applied\nresource: "x\\nevil.yaml:1:1: ok"\n'
        "check: {field: a, exists: true}\n",
        HEAD + 'check: {field: a, "equals\\nevil.yaml:1:1: ok": 1}\n',
        HEAD + 'check: {field: a, equals: {param: "p\\nevil.yaml:1:1: ok"}}\n',
        HEAD + 'params: {"a\\nevil.yaml:1:1: ok": null}\ncheck: {field: a, exists: true}\n',
    ],
)
def test_policy_error_details_are_single_lines(tmp_path: Path, text: str) -> None:
    with pytest.raises(PolicyError) as err:
        _load_one(tmp_path, text)
    for detail in err.value.details:
        assert not LINE_BREAKS.search(detail), detail


def test_evidence_keys_are_clipped_and_redacted(tmp_path: Path) -> None:
    policy = _load_one(
        tmp_path, HEAD + "check: {field: refs, every_item: {field: a, equals: 1}}\n"
    ).policies[0]
    secret_id = f"s3://u:{SECRET}@bucket/k"
    inventory = Inventory(
        [
            Resource("m1", "model", "m1", "t", {"refs": [Ref(secret_id), Ref(MEGABYTE)]}),
            Resource(secret_id, "storage", "s", "t", {"a": 2}),
            Resource(MEGABYTE, "storage", "s", "t", {"a": 2}),
        ]
    )
    findings = evaluate_policy(policy, inventory, NOW)
    document = results_document(policy, inventory, findings)
    out = results.dumps(document)
    long_keys = [len(k) for f in document["findings"] for k in f["evidence"] if len(k) > 4096]
    assert (SECRET in out, long_keys) == (False, [])


def test_secret_in_attribute_map_key_is_redacted(tmp_path: Path) -> None:
    policy = _load_one(tmp_path, HEAD + "check: {field: tags, exists: true}\n").policies[0]
    tags = {f"https://u:{SECRET}@host/x": "v"}
    inventory = Inventory([Resource("m1", "model", "m", "t", {"tags": tags})])
    findings = evaluate_policy(policy, inventory, NOW)
    document = results_document(policy, inventory, findings)
    assert locations(document, lambda t: SECRET in t) == []


def test_maturity_and_gate_are_redacted(tmp_path: Path) -> None:
    """Regression: gate reasons and maturity blocking lists name resources, and resource ids
    can carry credentials (they leaked into results.json before ef44b44)."""
    policy = _load_one(tmp_path, HEAD + "check: {field: a, equals: 1}\n").policies[0]
    inventory = Inventory([Resource(f"s3://u:{SECRET}@bucket/k", "model", "m", "t", {"a": 2})])
    findings = evaluate_policy(policy, inventory, NOW)
    assert [f.status for f in findings] == ["fail"]
    out = results.dumps(results_document(policy, inventory, findings))
    assert SECRET not in out
