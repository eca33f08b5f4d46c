"""Waivers: loading (every malformed file is exit 2 with a position), expiry on a fixed clock,
matching, stale and expired reporting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.findings import Finding
from scanner.waivers import WaiverError, apply, load_waivers
from scanner.yamlpos import display_path
from tests.helpers import write

AS_OF = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)

GOOD = """
version: 1
waivers:
  - policy: MW-STO-01
    resource: s3://ml-models-legacy
    justification: Bucket is being migrated; public read is blocked at the CDN.
    approved_by: ciso@example.com
    expires: 2025-09-30
    ticket: SEC-42
  - policy: MW-ART-*
    resource: "fraud/*"
    justification: Pickle weights until the v4 export lands.
    approved_by: head-of-ml@example.com
    expires: 2025-07-01
  - policy: MW-GOV-01
    resource: nothing-like-this
    justification: Old exception.
    approved_by: someone
    expires: 2025-06-30
"""


def finding(policy: str, resource: str, status: str = "fail", name: str = "") -> Finding:
    return Finding(
        policy, "t", "critical", "applied", resource, "storage", name or resource, status, "bad"
    )


@pytest.fixture
def waivers(tmp_path: Path):
    return load_waivers(write(tmp_path / "waivers.yaml", GOOD), AS_OF)


def test_a_valid_file_loads_with_positions(waivers):
    assert [w.policy for w in waivers.waivers] == ["MW-STO-01", "MW-ART-*", "MW-GOV-01"]
    assert [w.line for w in waivers.waivers] == [3, 9, 14]
    assert waivers.waivers[0].ticket == "SEC-42"
    assert waivers.waivers[1].ticket is None
    assert waivers.waivers[0].expires == dt.date(2025, 9, 30)
    assert waivers.max_days == 365


def test_active_waiver_waives_and_is_attached(waivers):
    out, summary, _notes = apply([finding("MW-STO-01", "s3://ml-models-legacy")], waivers, AS_OF)
    (f,) = out
    assert f.status == "waived"
    assert f.message == "bad"
    assert f.waiver == {
        "policy": "MW-STO-01",
        "resource": "s3://ml-models-legacy",
        "justification": "Bucket is being migrated; public read is blocked at the CDN.",
        "approved_by": "ciso@example.com",
        "expires": "2025-09-30",
        "ticket": "SEC-42",
        "file": waivers.file,
        "line": 3,
        "state": "applied",
        "original_status": "fail",
    }
    assert summary["applied"] == 1
    assert summary["waived_findings"] == 1


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        (dt.datetime(2025, 6, 30, 23, 59, 59, tzinfo=dt.UTC), "waived"),  # the day before
        (dt.datetime(2025, 7, 1, tzinfo=dt.UTC), "fail"),  # from 00:00 UTC on `expires`
        (dt.datetime(2025, 8, 1, tzinfo=dt.UTC), "fail"),
    ],
)
def test_expiry_on_a_fixed_clock(waivers, as_of, status):
    out, summary, notes = apply([finding("MW-ART-01", "x", name="fraud/3")], waivers, as_of)
    assert out[0].status == status
    if status == "fail":
        assert out[0].message == f"bad (waiver {waivers.file}:9 expired on 2025-07-01)"
        assert out[0].waiver["state"] == "expired"
        assert summary["expired"] == 1
        assert (
            f"waiver {waivers.file}:9 (MW-ART-* on fraud/*) expired on 2025-07-01: 1 finding(s) "
            "no longer waived"
        ) in notes
    else:
        assert summary["expired"] == 0


def test_stale_waivers_are_reported(waivers):
    _out, summary, notes = apply([finding("MW-STO-01", "s3://ml-models-legacy")], waivers, AS_OF)
    states = [(e["line"], e["state"]) for e in summary["entries"]]
    assert states == [(3, "active"), (9, "stale"), (14, "stale")]
    assert summary["stale"] == 2
    assert notes == [
        f"waiver {waivers.file}:9 (MW-ART-* on fraud/*) matches no failing finding (stale): "
        "remove it",
        f"waiver {waivers.file}:14 (MW-GOV-01 on nothing-like-this) matches no failing finding "
        "(stale): remove it",
    ]


def test_a_waiver_covering_only_passing_findings_is_stale(waivers):
    out, summary, _ = apply(
        [finding("MW-STO-01", "s3://ml-models-legacy", status="pass")], waivers, AS_OF
    )
    assert out[0].status == "pass"
    assert out[0].waiver is None
    assert summary["entries"][0]["state"] == "stale"


@pytest.mark.parametrize(
    ("policy", "resource_id", "name", "waived"),
    [
        ("MW-STO-01", "s3://ml-models-legacy", "", True),  # exact id
        ("MW-ART-02", "mlflow+http://h/models/fraud/versions/3", "fraud/3", True),  # name glob
        ("MW-ART-02", "fraud/9", "other", True),  # id glob
        ("MW-ART-02", "mlflow+http://h/models/churn/versions/1", "churn/1", False),
        ("MW-STO-02", "s3://ml-models-legacy", "", False),  # policy does not match
        ("MW-STO-01", "s3://ml-models-legacy-2", "", False),  # no implicit prefix match
    ],
)
def test_matching(waivers, policy, resource_id, name, waived):
    out, _, _ = apply([finding(policy, resource_id, name=name)], waivers, AS_OF)
    assert (out[0].status == "waived") is waived


def test_errors_can_be_waived_and_keep_their_original_status(waivers):
    out, _, _ = apply(
        [finding("MW-STO-01", "s3://ml-models-legacy", status="error")], waivers, AS_OF
    )
    assert out[0].status == "waived"
    assert out[0].waiver["original_status"] == "error"


def test_first_active_waiver_wins_and_expired_ones_explain(tmp_path):
    text = """
    waivers:
      - {policy: P-1, resource: r, justification: old, approved_by: a, expires: 2025-01-01}
      - {policy: P-*, resource: r, justification: newer, approved_by: b, expires: 2025-03-01}
      - {policy: P-1, resource: "*", justification: live, approved_by: c, expires: 2025-12-01}
    """
    ws = load_waivers(write(tmp_path / "w.yaml", text), AS_OF)
    out, summary, _ = apply([finding("P-1", "r")], ws, AS_OF)
    assert out[0].waiver["justification"] == "live"
    later = dt.datetime(2025, 12, 2, tzinfo=dt.UTC)
    out, summary, _ = apply([finding("P-1", "r")], load_waivers(tmp_path / "w.yaml", AS_OF), later)
    assert out[0].status == "fail"
    assert out[0].waiver["justification"] == "live"  # the most recently expired one
    assert [e["lapsed"] for e in summary["entries"]] == [0, 0, 1]


def test_empty_file_waives_nothing(tmp_path):
    ws = load_waivers(write(tmp_path / "w.yaml", "# nothing yet\n"), AS_OF)
    assert ws.waivers == ()


def test_maximum_duration_is_inclusive_and_configurable(tmp_path):
    entry = "waivers: [{policy: P, resource: r, justification: j, approved_by: a, expires: %s}]"
    path = write(tmp_path / "w.yaml", entry % "2026-06-30")  # exactly 365 days after as-of
    assert len(load_waivers(path, AS_OF).waivers) == 1
    write(path, entry % "2026-07-01")
    with pytest.raises(WaiverError) as err:
        load_waivers(path, AS_OF)
    assert err.value.exit_code == 2
    assert err.value.message.endswith(
        "w.yaml:1:70: expires 2026-07-01 is 366 days after 2025-06-30; a waiver may last at "
        "most 365 days (gate.waiver_max_days)"
    )
    write(path, entry % "2025-08-01")
    with pytest.raises(
        WaiverError, match="is 32 days after 2025-06-30; a waiver may last at most 30"
    ):
        load_waivers(path, AS_OF, max_days=30)


BASE = """waivers:
  - policy: MW-STO-01
    resource: s3://b
    justification: because
    approved_by: ciso
    expires: 2025-09-30
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE.replace("    justification: because\n", ""), ":2:5: 'justification' is a required"),
        (BASE.replace("    approved_by: ciso\n", ""), ":2:5: 'approved_by' is a required"),
        (BASE.replace("    expires: 2025-09-30\n", ""), ":2:5: 'expires' is a required"),
        (BASE.replace("because", "'   '"), ":4:5: waivers/0/justification: must not be blank"),
        (
            BASE.replace("2025-09-30", "2025-02-30"),
            ":6:5: expires: '2025-02-30' is not a valid date",
        ),
        (
            BASE.replace("2025-09-30", "'2025-02-30'"),
            ":6:5: waivers/0/expires: '2025-02-30' is not a 'date'",
        ),
        (
            BASE.replace("2025-09-30", "next year"),
            ":6:5: waivers/0/expires: 'next year' is not a 'date'",
        ),
        (
            BASE.replace("2025-09-30", "2025-09-30T10:00:00Z"),
            ":6:5: waivers/0/expires: '2025-09-30T10:00:00+00:00' is not a 'date'",
        ),
        (BASE.replace("ticket", "x") + "    owner: me\n", ":7:5: unknown key 'owner'"),
        (BASE.replace("waivers:", "waiver:"), ":1:1: unknown key 'waiver'"),
        ("- policy: MW-STO-01\n", ":1:1: [{'policy': 'MW-STO-01'}] is not of type 'object'"),
        (
            BASE + "  - [not, a, mapping]\n",
            ":7:5: waivers/1: ['not', 'a', 'mapping'] is not of type",
        ),
        (BASE.replace("resource: s3://b", "resource: [s3://b"), "YAML syntax error"),
        (
            BASE.replace("policy: MW-STO-01", "policy: MW STO"),
            ":2:5: waivers/0/policy: 'MW STO' does not match",
        ),
        ("version: 2\nwaivers: []\n", ":1:1: version: 1 was expected"),
    ],
)
def test_malformed_files_are_exit_2_with_a_position(tmp_path, text, message):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(WaiverError) as err:
        load_waivers(path, AS_OF)
    assert err.value.exit_code == 2
    assert message in err.value.message
    assert err.value.message.startswith(f"{display_path(path)}:")


def test_missing_file_is_exit_2(tmp_path):
    with pytest.raises(WaiverError, match="waivers file not found"):
        load_waivers(tmp_path / "nope.yaml", AS_OF)
