"""Property tests: waivers and baseline files with hostile content are exit-2 errors, never
crashes, and SARIF/JUnit render any finding strings into files their parsers accept.

Contract: a waivers or baseline file either loads or raises its `InputFileError` subclass
(exit 2) with a one-line message naming the file; any other exception would escape as an
internal error (exit 3) instead of telling the user what is wrong with their file.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.baseline import BaselineError, load_baseline
from scanner.findings import Finding
from scanner.outputs.junit_writer import JunitWriter
from scanner.outputs.sarif_writer import SarifWriter
from scanner.waivers import WaiverError, apply, load_waivers
from tests.helpers import make_document, make_policy
from tests.unit.test_sarif_writer import sarif_validator

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
AS_OF = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
KEYS = ["policy", "resource", "justification", "approved_by", "expires", "ticket", "owner"]
scalars = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.booleans(),
    st.none(),
    st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1)).map(str),
    st.lists(st.text(max_size=5), max_size=3),
)
entries = st.dictionaries(st.sampled_from(KEYS), scalars, max_size=7)
documents = st.one_of(
    st.fixed_dictionaries({"waivers": st.lists(entries, max_size=4)}),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
    st.lists(entries, max_size=3),
    scalars,
)


@SETTINGS
@given(documents)
def test_waivers_files_load_or_say_why(tmp_path: Path, document) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(json.dumps(document, default=str), encoding="utf-8")  # JSON is YAML
    try:
        waivers = load_waivers(path, AS_OF)
    except WaiverError as exc:
        assert exc.exit_code == 2
        assert "\n" not in exc.message and "w.yaml" in exc.message
        return
    finding = Finding("P-1", "t", "high", "applied", "r", "artefact", "r", "fail", "m")
    out, summary, _ = apply([finding], waivers, AS_OF)
    assert out[0].status in ("fail", "waived")
    assert summary["count"] == len(waivers.waivers)


@SETTINGS
@given(st.text(max_size=200))
def test_waivers_files_of_any_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_waivers(path, AS_OF)
    except WaiverError as exc:
        assert "\n" not in exc.message


baseline_docs = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["modelward_baseline", "created_at", "tool", "findings", "policy_id",
                 "resource_id", "schema_version", "x"]
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)  # fmt: skip


@SETTINGS
@given(baseline_docs)
def test_baseline_files_load_or_say_why(tmp_path: Path, document) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        baseline = load_baseline(path)
    except BaselineError as exc:
        assert exc.exit_code == 2
        assert "\n" not in exc.message and "b.json" in exc.message
        return
    assert all(isinstance(p, str) and isinstance(r, str) for p, r in baseline.keys)


hostile = st.lists(
    st.text(max_size=8)
    | st.sampled_from(["\x00", "\x1b", "\ud800", "\ufffe", "]]>", "<", "&", "[", "](1)", "\\"]),
    max_size=8,
).map("".join)


@SETTINGS
@given(hostile, hostile, hostile, st.sampled_from(["fail", "error", "pass", "not_applicable"]))
def test_writers_accept_any_finding_strings(name, rid, message, status) -> None:
    finding = Finding("T-1", "t", "high", "applied", rid or "r", "artefact", name, status, message)
    document = make_document([finding], [make_policy("T-1", title=(name or "t")[:150])])
    sarif = json.loads(SarifWriter().render(document)["results.sarif"])
    assert not list(sarif_validator().iter_errors(sarif))
    root = ET.fromstring(JunitWriter().render(document)["results.junit.xml"])
    assert root.get("tests") == "1"
