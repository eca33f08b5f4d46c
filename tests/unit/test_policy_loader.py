"""Policy files on disk → PolicySet, or every problem in every file as `FILE:LINE:COL: message`.

The tests run inside tmp_path, so the displayed path of `pack/x.yaml` is exactly that.
Each bad file holds one mistake; the error line is asserted whole because authors fix the
file by those coordinates.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from scanner.errors import EXIT_USAGE
from scanner.policy.loader import (
    MAX_POLICY_BYTES,
    PolicyError,
    is_policy_file,
    load_policy_dirs,
    param_uses,
)
from scanner.policy.model import FieldTest, ParamRef, RequireInScope

KNOWN_TYPES = (
    "model, model_version, artefact, storage, principal, audit_trail, endpoint, network, "
    "threat_detection, attestation, traffic, access_log"
)
ALLOWED_KEYS = (
    "check, description, id, maturity, message, params, rationale, references, remediation, "
    "require_in_scope, resource, scope, severity, tags, title"
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(rel: str, text: str) -> Path:
    path = Path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def policy_text(
    pid: str = "MW-T-01", *, resource: str = "storage", check: str | None = None, extra: str = ""
) -> str:
    """A valid policy; the check starts on line 6 (`check:`), its body on line 7."""
    body = check if check is not None else "field: public\nequals: false"
    return (
        f"id: {pid}\n"
        "title: Test policy\n"
        "severity: high\n"
        "maturity: applied\n"
        f"resource: {resource}\n"
        "check:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n" + extra
    )


def load_error(*dirs: str) -> PolicyError:
    with pytest.raises(PolicyError) as err:
        load_policy_dirs(dirs or ["pack"])
    assert err.value.exit_code == EXIT_USAGE == 2
    return err.value


# --- a good pack ------------------------------------------------------------------------------


def test_loads_a_valid_pack_sorted_by_id() -> None:
    write("pack/storage/b.yaml", policy_text("MW-B-01"))
    write(
        "pack/a.yml",
        "# leading comment\n"
        + policy_text(
            "MW-A-01",
            check="field: reader_count\nat_most: {param: max_readers}",
            extra=(
                "params:\n  max_readers: 5\n"
                "remediation: Remove public grants\n"
                "references: [https://example.com/a]\n"
                "require_in_scope: {message: need one}\n"
            ),
        ),
    )
    pack = load_policy_dirs(["pack"])
    assert [p.id for p in pack.policies] == ["MW-A-01", "MW-B-01"]
    a = pack.by_id()["MW-A-01"]
    assert (a.file, a.line) == ("pack/a.yml", 2)
    assert a.params == {"max_readers": 5}
    assert a.remediation == {"summary": "Remove public grants"}
    assert a.references == ("https://example.com/a",)
    assert a.require_in_scope == RequireInScope(at_least=1, message="need one")
    assert isinstance(a.check, FieldTest)
    assert a.check.operand == ParamRef("max_readers")
    assert a.check.where == "pack/a.yml:9:3"
    assert param_uses(a) == {"max_readers": {"at_most"}}
    assert pack.by_id()["MW-B-01"].file == "pack/storage/b.yaml"


def test_a_single_file_can_be_given() -> None:
    write("one.yaml", policy_text("MW-ONE-01"))
    assert [p.id for p in load_policy_dirs(["one.yaml"]).policies] == ["MW-ONE-01"]


def test_test_files_hidden_files_and_other_extensions_are_not_policies() -> None:
    write("pack/p.yaml", policy_text("MW-P-01"))
    # every one of these would be an error if it were loaded as a policy
    write("pack/p_test.yaml", "cases: []\n")
    write("pack/p_test.yml", "cases: []\n")
    write("pack/.hidden.yaml", "not: [a policy\n")
    write("pack/.git/config.yaml", "not: [a policy\n")
    write("pack/notes.txt", "not: [a policy\n")
    write("pack/data.json", "{}")
    assert [p.id for p in load_policy_dirs(["pack"]).policies] == ["MW-P-01"]
    assert is_policy_file(Path("x.yml")) and is_policy_file(Path("x.yaml"))
    assert not is_policy_file(Path("x_test.yaml")) and not is_policy_file(Path("x.json"))


# --- one mistake per file ---------------------------------------------------------------------

BAD = {
    "syntax.yaml": (
        "id: MW-S-01\ntitle: [unclosed\nseverity: high\n",
        "syntax.yaml:3:9: YAML syntax error: expected ',' or ']', but got ':'",
    ),
    "dupkey.yaml": (
        policy_text("MW-D-01", extra="title: Again\n"),
        "dupkey.yaml:9:1: duplicate key 'title'",
    ),
    "empty.yaml": ("", "empty.yaml:1:1: a policy file must hold one mapping, this one is empty"),
    "list.yaml": (
        "- id: MW-L-01\n- title: x\n",
        "list.yaml:1:1: a policy file must hold one mapping, this one is a list",
    ),
    "required.yaml": (
        policy_text("MW-R-01").replace("maturity: applied\n", ""),
        "required.yaml:1:1: 'maturity' is a required property",
    ),
    "severity.yaml": (
        policy_text("MW-SEV-01").replace("severity: high", "severity: urgent"),
        "severity.yaml:3:1: severity: 'urgent' is not one of 'critical', 'high', 'medium', "
        "'low', 'info'",
    ),
    "topkey.yaml": (
        policy_text("MW-K-01", extra="owner: me\n"),
        f"topkey.yaml:9:1: unknown key 'owner' (allowed: {ALLOWED_KEYS})",
    ),
    "operator.yaml": (
        policy_text("MW-O-01", check="field: public\nequal: false"),
        "operator.yaml:8:3: unknown operator 'equal' (did you mean 'equals'?)",
    ),
    "twoops.yaml": (
        policy_text("MW-O-02", check="field: public\nequals: false\nexists: true"),
        "twoops.yaml:9:3: one operator per condition, found equals, exists; "
        "use 'all' to combine them",
    ),
    "mixed.yaml": (
        policy_text("MW-M-01", check="all:\n  - {field: a, exists: true}\nfield: b"),
        "mixed.yaml:6:1: 'all' cannot be combined with other keys in the same condition (field); "
        "nest them in a list",
    ),
    "emptyall.yaml": (
        policy_text("MW-E-01", check="all: []"),
        "emptyall.yaml:7:3: 'all' takes a non-empty list of conditions",
    ),
    "restype.yaml": (
        policy_text("MW-RT-01", resource="storag"),
        f"restype.yaml:5:1: unknown resource type 'storag' (did you mean 'storage'? "
        f"known: {KNOWN_TYPES})",
    ),
    "regex.yaml": (
        policy_text("MW-RE-01", check="field: owner\nmatches: '(team'"),
        "regex.yaml:8:3: invalid regular expression '(team': missing ), unterminated "
        "subpattern at position 0",
    ),
    "param.yaml": (
        policy_text("MW-PA-01", check="field: n\nat_most: {param: max_n}"),
        "param.yaml:8:3: param 'max_n' is not declared under params (declared: none)",
    ),
    "paramtype.yaml": (
        policy_text(
            "MW-PA-02",
            check="field: n\nat_most: {param: max_n}",
            extra="params:\n  max_n: abc\n  other: 1\n",
        ),
        "paramtype.yaml:8:3: param 'max_n' default 'abc': 'at_most' takes a number, got 'abc'",
    ),
    "fieldpath.yaml": (
        policy_text("MW-F-01", check="field: artefact..public\nequals: false"),
        "fieldpath.yaml:7:3: field must be a dotted path like 'artefact.storage.public', "
        "got 'artefact..public'",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_policy_file(name: str) -> None:
    text, expected = BAD[name]
    write(f"pack/{name}", text)
    err = load_error()
    assert err.details == [f"pack/{expected}"]
    assert err.message == f"pack/{expected}"


def test_all_problems_across_files_are_listed() -> None:
    for name, (text, _) in BAD.items():
        write(f"pack/{name}", text)
    write("pack/good.yaml", policy_text("MW-GOOD-01"))
    write("other/unknown-op.yaml", policy_text("MW-X-01", check="field: a\nequls: 1"))
    err = load_error("pack", "nowhere", "other")
    expected = [f"pack/{BAD[name][1]}" for name in sorted(BAD)]
    expected.append("nowhere: policy directory not found")
    expected.append("other/unknown-op.yaml:8:3: unknown operator 'equls' (did you mean 'equals'?)")
    assert err.details == expected
    assert err.message == f"{expected[0]} (+{len(expected) - 1} more)"


def test_several_problems_in_one_file_are_all_reported_in_line_order() -> None:
    write(
        "pack/p.yaml",
        policy_text(
            "MW-P-01",
            resource="storag",
            check="all:\n  - {field: a, equal: 1}\n  - {field: b, matches: '['}",
            extra="owner: me\n",
        ),
    )
    err = load_error()
    assert [line.split(": ", 1)[0] for line in err.details] == [
        "pack/p.yaml:5:1",
        "pack/p.yaml:8:18",
        "pack/p.yaml:9:18",
        "pack/p.yaml:10:1",
    ]
    assert "unknown resource type 'storag'" in err.details[0]
    assert "unknown operator 'equal' (did you mean 'equals'?)" in err.details[1]
    assert "invalid regular expression '['" in err.details[2]
    assert "unknown key 'owner'" in err.details[3]


def test_condition_errors_inside_scope() -> None:
    write(
        "pack/p.yaml",
        policy_text("MW-P-01", extra="scope:\n  any_item: {equals: 1}\n"),
    )
    assert load_error().details == ["pack/p.yaml:10:3: 'any_item' needs a 'field' naming the list"]


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("field: a\nexists: 'yes'", "'exists' takes true or false, got 'yes'"),
        ("field: a\nin: eu-west-1", "'in' takes a list of values, got 'eu-west-1'"),
        ("field: a\ncount_at_least: 1.5", "'count_at_least' takes a whole number ≥ 0, got 1.5"),
        ("field: a\nwithin_days: -1", "'within_days' takes a number of days ≥ 0, got -1"),
        ("field: a\nat_least: true", "'at_least' takes a number, got True"),
        ("field: a\nmatches: 5", "'matches' takes a regular expression string, got 5"),
    ],
)
def test_operand_kinds(check: str, message: str) -> None:
    write("pack/p.yaml", policy_text("MW-P-01", check=check))
    assert load_error().details == [f"pack/p.yaml:8:3: {message}"]


def test_not_takes_a_condition() -> None:
    write("pack/p.yaml", policy_text("MW-P-01", check="not: []"))
    assert load_error().details == [
        "pack/p.yaml:7:3: a condition must be a non-empty mapping (all/any/not, a field test, "
        "or a list quantifier)"
    ]


def test_field_without_operator() -> None:
    write("pack/p.yaml", policy_text("MW-P-01", check="field: a"))
    assert load_error().details == [
        "pack/p.yaml:6:1: a field test needs an operator (e.g. equals, exists, any_item)"
    ]


def test_fieldless_test_outside_a_quantifier_is_refused() -> None:
    write("pack/p.yaml", policy_text("MW-P-01", check="exists: true"))
    err = load_error()
    assert len(err.details) == 1
    assert err.details[0].startswith("pack/p.yaml:7:3: ")
    assert "field" in err.details[0]


@pytest.mark.parametrize("op", ["exists", "in_future"])
def test_param_operand_is_refused_for_boolean_operators(op: str) -> None:
    # documented: `{param: NAME}` stands in for every operand except exists and in_future
    write(
        "pack/p.yaml",
        policy_text(
            "MW-P-01",
            check=f"field: expires\n{op}: {{param: flag}}",
            extra="params:\n  flag: true\n",
        ),
    )
    assert load_error().details == [
        f"pack/p.yaml:8:3: '{op}' takes true or false, got {{'param': 'flag'}}"
    ]


# --- pack-level problems ----------------------------------------------------------------------


def test_duplicate_policy_ids_across_two_directories() -> None:
    write("a/first.yaml", "# a comment\n\n" + policy_text("MW-DUP-01"))
    write("b/sub/second.yaml", policy_text("MW-DUP-01"))
    err = load_error("a", "b")
    assert err.details == [
        "b/sub/second.yaml:1:1: duplicate policy id 'MW-DUP-01' (first defined in a/first.yaml:3)"
    ]


def test_nonexistent_policy_directory() -> None:
    err = load_error("does/not/exist")
    assert err.details == ["does/not/exist: policy directory not found"]
    assert err.message == "does/not/exist: policy directory not found"


def test_alias_bomb_is_refused() -> None:
    """10**9 values if expanded: refusing it at all proves the expansion is bounded (the
    bound's cost is measured in benchmarks, never timed here)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    write("pack/bomb.yaml", "\n".join(lines) + "\n")
    err = load_error()
    assert len(err.details) == 1
    assert err.details[0].startswith("pack/bomb.yaml:")
    assert err.details[0].endswith("document expands to more than 200000 values (alias bomb?)")


def test_file_over_one_mib_is_refused() -> None:
    path = write("pack/big.yaml", policy_text("MW-BIG-01"))
    with path.open("a", encoding="utf-8") as fh:
        fh.write("description: " + "x" * MAX_POLICY_BYTES + "\n")
    assert load_error().details == [
        "pack/big.yaml: policy file is larger than 1048576 bytes; refusing to parse it"
    ]


def test_file_just_under_the_limit_is_read() -> None:
    text = policy_text("MW-BIG-01") + "description: "
    text += "x" * (MAX_POLICY_BYTES - len(text) - 1) + "\n"
    write("pack/big.yaml", text)
    assert Path("pack/big.yaml").stat().st_size == MAX_POLICY_BYTES
    assert [p.id for p in load_policy_dirs(["pack"]).policies] == ["MW-BIG-01"]


def test_non_utf8_policy_file() -> None:
    Path("pack").mkdir()
    head = policy_text("MW-L-01").encode() + b"description: caf"
    Path("pack/latin1.yaml").write_bytes(head + b"\xe9\n")
    assert load_error().details == [
        f"pack/latin1.yaml: policy file is not UTF-8 text (byte {len(head)})"
    ]


# --- pack digest ------------------------------------------------------------------------------


def test_pack_sha256_is_stable_across_order_and_paths_and_tracks_content() -> None:
    write("one/a.yaml", policy_text("MW-A-01"))
    write("two/b.yaml", policy_text("MW-B-01", check="field: versioning\nequals: true"))
    digest = load_policy_dirs(["one", "two"]).sha256
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert load_policy_dirs(["two", "one"]).sha256 == digest
    # same documents elsewhere, under other names and layout
    Path("elsewhere/deep").mkdir(parents=True)
    shutil.copy("one/a.yaml", "elsewhere/deep/zz.yaml")
    shutil.copy("two/b.yaml", "elsewhere/aa.yml")
    assert load_policy_dirs(["elsewhere"]).sha256 == digest
    # a comment or a key order change is not a change of the policy
    text = policy_text("MW-A-01")
    reordered = "# reviewed\n" + "\n".join([*text.splitlines()[1:5], text.splitlines()[0]])
    write("one/a.yaml", reordered + "\n" + "\n".join(text.splitlines()[5:]) + "\n")
    assert load_policy_dirs(["one", "two"]).sha256 == digest
    # a real change is
    write("one/a.yaml", policy_text("MW-A-01", check="field: public\nequals: true"))
    changed = load_policy_dirs(["one", "two"]).sha256
    assert changed != digest
    write("one/a.yaml", policy_text("MW-A-01").replace("severity: high", "severity: low"))
    assert load_policy_dirs(["one", "two"]).sha256 not in (digest, changed)
