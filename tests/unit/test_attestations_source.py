"""The attestations source against real YAML files: what it accepts, and how it refuses the rest.

Error messages are asserted exactly, `FILE:LINE:COL` included, because users fix the file by
those coordinates. Tests run inside tmp_path so the displayed path is just the file name.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scanner.errors import EXIT_SOURCE, EXIT_USAGE, InputFileError
from scanner.inventory import Resource
from scanner.sources.attestations import AttestationsSource
from scanner.sources.interface import SourceError, SourceSpec

FILE = "evidence.yaml"
ALLOWED = (
    "approved_by, controls, covers, date, evidence_uri, expires, id, kind, notes, owner, statement"
)

MINIMAL = """\
- kind: threat_model
  statement: Threat model names model theft and extraction
  evidence_uri: https://wiki.example.com/security/threat-model
  owner: security-team@example.com
  date: 2025-03-01
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(text: str, name: str = FILE) -> str:
    Path(name).write_text(textwrap.dedent(text), encoding="utf-8")
    return name


def collect(target: str = FILE) -> tuple[Resource, ...]:
    spec = SourceSpec(kind="attestations", target=target, name="evidence")
    return AttestationsSource(spec).collect(lambda _message: None).resources


def refused(text: str) -> InputFileError:
    write(text)
    with pytest.raises(InputFileError) as info:
        collect()
    assert info.value.exit_code == EXIT_USAGE
    return info.value


# --- accepted files -----------------------------------------------------------------------------


def test_list_form_minimal_entry() -> None:
    write(MINIMAL)
    (res,) = collect()
    assert res.id == "attestation:threat_model:2025-03-01"
    assert res.type == "attestation"
    assert res.name == "threat_model 2025-03-01"
    assert res.source == "evidence"
    assert res.attributes == {
        "kind": "threat_model",
        "statement": "Threat model names model theft and extraction",
        "evidence_uri": "https://wiki.example.com/security/threat-model",
        "owner": "security-team@example.com",
        "date": "2025-03-01",
        "covers": [],
        "controls": [],
        "file": str(Path(FILE).resolve()),
        "line": 1,
    }
    assert res.raw == {
        "kind": "threat_model",
        "statement": "Threat model names model theft and extraction",
        "evidence_uri": "https://wiki.example.com/security/threat-model",
        "owner": "security-team@example.com",
        "date": "2025-03-01",
    }


def test_mapping_form_every_field_round_trips() -> None:
    write(
        """\
        # Reviewed quarterly by the AI governance board.
        version: 1
        attestations:
          - kind: red_team
            id: rt-2025-q1
            statement: Red-team exercise including extraction through the scoring API
            evidence_uri: https://jira.example.com/browse/SEC-123
            owner: appsec@example.com
            date: 2025-02-10
            expires: 2026-02-10
            covers: [fraud-detector, "s3://ml-models-prod/fraud"]
            controls: ["iso-iec-42001-2023:A.6.2.2", "owasp-llm-top10-2025:LLM10:2025"]
            approved_by: CISO
            notes: Two findings, both remediated (SEC-124, SEC-125).
        """
    )
    (res,) = collect()
    assert res.id == "attestation:red_team:rt-2025-q1"
    assert res.name == "rt-2025-q1"
    assert res.attributes == {
        "kind": "red_team",
        "statement": "Red-team exercise including extraction through the scoring API",
        "evidence_uri": "https://jira.example.com/browse/SEC-123",
        "owner": "appsec@example.com",
        "date": "2025-02-10",
        "expires": "2026-02-10",
        "covers": ["fraud-detector", "s3://ml-models-prod/fraud"],
        "controls": ["iso-iec-42001-2023:A.6.2.2", "owasp-llm-top10-2025:LLM10:2025"],
        "approved_by": "CISO",
        "notes": "Two findings, both remediated (SEC-124, SEC-125).",
        "file": str(Path(FILE).resolve()),
        "line": 4,
    }
    assert res.raw == {
        "kind": "red_team",
        "id": "rt-2025-q1",
        "statement": "Red-team exercise including extraction through the scoring API",
        "evidence_uri": "https://jira.example.com/browse/SEC-123",
        "owner": "appsec@example.com",
        "date": "2025-02-10",
        "expires": "2026-02-10",
        "covers": ["fraud-detector", "s3://ml-models-prod/fraud"],
        "controls": ["iso-iec-42001-2023:A.6.2.2", "owasp-llm-top10-2025:LLM10:2025"],
        "approved_by": "CISO",
        "notes": "Two findings, both remediated (SEC-124, SEC-125).",
    }


def test_mapping_form_without_version() -> None:
    write("attestations:\n" + textwrap.indent(MINIMAL, "  "))
    (res,) = collect()
    assert res.attributes["line"] == 2


def test_quoted_and_unquoted_dates_are_the_same() -> None:
    write(MINIMAL)
    unquoted = collect()
    write(MINIMAL.replace("date: 2025-03-01", 'date: "2025-03-01"'))
    quoted = collect()
    assert unquoted[0].attributes == quoted[0].attributes
    assert unquoted[0].id == quoted[0].id


def test_date_times_are_normalised_to_utc() -> None:
    write(
        MINIMAL.replace("date: 2025-03-01", "date: 2025-03-01T00:30:00+02:00")
        + "  expires: '2026-03-01 12:00'\n"
    )
    (res,) = collect()
    # The id takes the calendar date of the UTC instant, the same day the attribute shows.
    assert res.id == "attestation:threat_model:2025-02-28"
    assert res.attributes["date"] == "2025-02-28T22:30:00Z"
    assert res.attributes["expires"] == "2026-03-01T12:00:00Z"  # no offset: taken as UTC
    assert res.raw["date"] == "2025-03-01T00:30:00+02:00"
    assert res.raw["expires"] == "2026-03-01 12:00"


def test_custom_kind_several_entries_in_deterministic_order() -> None:
    write(
        MINIMAL.replace("threat_model", "vendor_review_2")
        + MINIMAL.replace("2025-03-01", "2024-03-01")
        + MINIMAL.replace("date: 2025-03-01", "date: 2025-03-01\n  id: tm-main")
    )
    first = collect()
    assert [r.id for r in first] == [
        "attestation:threat_model:2024-03-01",
        "attestation:threat_model:tm-main",
        "attestation:vendor_review_2:2025-03-01",
    ]
    assert [r.attributes["line"] for r in first] == [6, 11, 1]
    assert collect() == first


def test_same_id_under_different_kinds_is_not_a_duplicate() -> None:
    write(MINIMAL + MINIMAL.replace("threat_model", "red_team"))
    assert len(collect()) == 2


@pytest.mark.parametrize("text", ["", "# nothing attested yet\n", "[]\n", "attestations: []\n"])
def test_empty_file_means_no_attestations(text: str) -> None:
    # Decision: not an error. Every MW-GOV policy then fails for missing evidence, so an empty
    # file can never make a control pass; it is also the natural starting template.
    write(text)
    assert collect() == ()


def test_hostile_strings_are_kept_verbatim_as_data() -> None:
    write(
        r"""
        - kind: threat_model
          statement: "<script>alert(1)</script>\x00\u202e{{ 7*7 }} ${jndi:ldap://x}"
          evidence_uri: "javascript:alert(document.cookie)"
          owner: "'; DROP TABLE owners; --"
          date: 2025-03-01
          notes: "line one\nline two | **bold** [link](http://evil)"
        """
    )
    (res,) = collect()
    assert res.attributes["statement"] == (
        "<script>alert(1)</script>\x00\u202e{{ 7*7 }} ${jndi:ldap://x}"
    )
    assert res.attributes["evidence_uri"] == "javascript:alert(document.cookie)"
    assert res.attributes["owner"] == "'; DROP TABLE owners; --"
    assert res.attributes["notes"] == "line one\nline two | **bold** [link](http://evil)"
    assert res.raw["statement"] == res.attributes["statement"]


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            "https://bob:hunter2@wiki.example.com/tm",
            "https://***@wiki.example.com/tm",
        ),
        (
            "https://acct.blob.core.windows.net/ev/tm.pdf?sv=2022-11-02&sig=abc%2Bdef&se=2026",
            "https://acct.blob.core.windows.net/ev/tm.pdf?sv=2022-11-02&sig=***&se=2026",
        ),
        (
            "https://b.s3.amazonaws.com/tm.pdf?X-Amz-Credential=AKIA1&X-Amz-Signature=ff",
            "https://b.s3.amazonaws.com/tm.pdf?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        (
            "https://wiki.example.com/page?id=42#section",
            "https://wiki.example.com/page?id=42#section",
        ),
        ("jira:SEC-123", "jira:SEC-123"),
    ],
)
def test_credentials_in_evidence_links_are_redacted(uri: str, shown: str) -> None:
    write(MINIMAL.replace("https://wiki.example.com/security/threat-model", f'"{uri}"'))
    (res,) = collect()
    assert res.attributes["evidence_uri"] == shown
    assert res.raw["evidence_uri"] == shown


# --- refused files: the whole file, with FILE:LINE:COL ------------------------------------------


def test_yaml_syntax_error() -> None:
    err = refused(MINIMAL + "- kind: [unclosed\n")
    assert err.message == (
        f"{FILE}:7:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"
    )


def test_raw_control_character_in_file_is_a_syntax_error() -> None:
    err = refused(MINIMAL.replace("Threat model", "Threat\x07model"))
    # PyYAML's reader reports an offset, not a line, so yamlpos can only say 1:1 here.
    assert err.message.startswith(f"{FILE}:2:20: YAML syntax error: unacceptable character #x0007")


def test_missing_required_field() -> None:
    err = refused(MINIMAL + MINIMAL.replace("  owner: security-team@example.com\n", ""))
    assert err.message == f"{FILE}:6:3: 'owner' is a required property (in 1)"


def test_unknown_key_typo() -> None:
    err = refused(MINIMAL.replace("evidence_uri:", "evidence_url:"))
    # The entry now lacks evidence_uri too; both are reported, the typo first.
    assert err.message == f"{FILE}:3:3: unknown key 'evidence_url' (allowed: {ALLOWED}) (+1 more)"
    assert err.details == [
        f"{FILE}:3:3: unknown key 'evidence_url' (allowed: {ALLOWED})",
        f"{FILE}:1:3: 'evidence_uri' is a required property (in 0)",
    ]


def test_unknown_top_level_key() -> None:
    err = refused("version: 1\nattestation: []\n")
    assert err.details == [
        f"{FILE}:2:1: unknown key 'attestation' (allowed: attestations, version)",
        f"{FILE}:1:1: 'attestations' is a required property",
    ]


def test_unsupported_version() -> None:
    err = refused("version: 2\nattestations: []\n")
    assert err.message == f"{FILE}:1:1: version: 1 was expected"


DATE = "  date: 2025-03-01"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("statement: Threat", "statement: 42 #", "2:3: 0/statement: 42 is not of type 'string'"),
        ("owner: security-team@example.com", "owner: ''", "4:3: 0/owner: '' should be non-empty"),
        ("statement: Threat", 'statement: " " #', "2:3: 0/statement: must not be blank"),
        (DATE, f"  covers: fraud\n{DATE}", "5:3: 0/covers: 'fraud' is not of type 'array'"),
        (DATE, f"  covers: [a, a]\n{DATE}", "5:3: 0/covers: ['a', 'a'] has non-unique elements"),
        ("kind: threat_model", "kind: Threat-Model", "1:3: 0/kind: 'Threat-Model' does not match"),
        (DATE, f"  id: -bad\n{DATE}", "5:3: 0/id: '-bad' does not match"),
        (DATE, f"  controls: [A.6.2.2]\n{DATE}", "5:14: 0/controls/0: 'A.6.2.2' does not match"),
        (DATE, "  date: 01/03/2025", "5:3: 0/date: '01/03/2025' does not match"),
        (DATE, "  date: 20250301", "5:3: 0/date: 20250301 is not of type 'string'"),
    ],
)
def test_wrong_type_or_shape(replace: str, by: str, expected: str) -> None:
    assert replace in MINIMAL
    err = refused(MINIMAL.replace(replace, by))
    assert err.message.startswith(f"{FILE}:{expected}")


def test_top_level_scalar() -> None:
    err = refused("just some text\n")
    assert err.message == f"{FILE}:1:1: 'just some text' is not of type 'array', 'object'"


def test_entry_that_is_not_a_mapping() -> None:
    err = refused(MINIMAL + "- threat_model\n")
    assert err.message == f"{FILE}:6:3: 1: 'threat_model' is not of type 'object'"


MONTH = "(month must be in 1..12)"
DAY = "(day is out of range for month)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Unquoted, YAML itself tries to build the date and fails.
        ("2025-13-01", f"5:3: date: '2025-13-01' is not a valid date {MONTH}"),
        ('"2025-13-01"', f"5:3: date: '2025-13-01' is not a valid date {MONTH}"),
        ('"2025-02-30"', f"5:3: date: '2025-02-30' is not a valid date {DAY}"),
        ("2025-02-30", f"5:3: date: '2025-02-30' is not a valid date {DAY}"),
        (
            '"2025-03-01T25:00:00Z"',
            "5:3: date: '2025-03-01T25:00:00Z' is not a valid date (hour must be in 0..23)",
        ),
    ],
)
def test_bad_date(value: str, expected: str) -> None:
    err = refused(MINIMAL.replace("2025-03-01", value))
    assert err.message == f"{FILE}:{expected}"


def test_bad_expires_date_points_at_expires() -> None:
    err = refused(MINIMAL + "  expires: 2026-00-10\n")
    assert err.message == (
        f"{FILE}:6:3: expires: '2026-00-10' is not a valid date (month must be in 1..12)"
    )


def test_expires_before_date() -> None:
    err = refused(MINIMAL + MINIMAL + "  id: second\n  expires: 2025-02-28\n")
    assert err.message == f"{FILE}:12:3: expires 2025-02-28 is before date 2025-03-01"


def test_expires_on_the_same_day_is_allowed() -> None:
    text = MINIMAL.replace("date: 2025-03-01", "date: 2025-03-01T15:00:00Z")
    write(text + "  expires: 2025-03-01\n")
    (res,) = collect()
    assert res.attributes["expires"] == "2025-03-01"


def test_duplicate_explicit_id() -> None:
    entry = MINIMAL.replace("date: 2025-03-01", "date: 2025-03-01\n  id: tm-main")
    err = refused(entry + entry.replace("2025-03-01", "2025-04-01"))
    assert err.message == (
        f"{FILE}:12:3: duplicate attestation 'attestation:threat_model:tm-main' "
        "(first at line 1); give each entry a distinct 'id'"
    )


def test_duplicate_date_without_ids() -> None:
    err = refused(MINIMAL + MINIMAL.replace("Threat model names", "Another review names"))
    assert err.message == (
        f"{FILE}:6:3: duplicate attestation 'attestation:threat_model:2025-03-01' "
        "(first at line 1); give each entry a distinct 'id'"
    )


def test_one_bad_entry_rejects_the_whole_file() -> None:
    err = refused(MINIMAL + MINIMAL.replace("2025-03-01", "2025-04-01") + "  colour: blue\n")
    assert err.message.startswith(f"{FILE}:11:3: unknown key 'colour'")


@pytest.mark.timeout(20)
def test_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    err = refused("\n".join(lines) + "\n")
    assert err.message.endswith("document expands to more than 200000 values (alias bomb?)")
    assert err.message.startswith(f"{FILE}:")


# --- the file cannot be reached: a source failure (exit 3) --------------------------------------


def test_missing_file_is_a_source_error() -> None:
    with pytest.raises(SourceError) as info:
        collect("no/such/evidence.yaml")
    assert info.value.exit_code == EXIT_SOURCE
    assert info.value.message == "no/such/evidence.yaml: attestations file not found"


def test_directory_is_a_source_error() -> None:
    Path("evidence").mkdir()
    with pytest.raises(SourceError) as info:
        collect("evidence")
    assert info.value.exit_code == EXIT_SOURCE
    assert info.value.message == "evidence: attestations file is a directory, expected a YAML file"


def test_not_utf8_is_an_input_error() -> None:
    Path(FILE).write_bytes(b"- kind: \xff\n")
    with pytest.raises(InputFileError) as info:
        collect()
    assert info.value.message == f"{FILE}: attestations file is not UTF-8 text (byte 8)"
