"""Markdown, CSV and HTML writers: hostile strings stay text, caps hold, rankings make sense.

Markdown is checked with a real CommonMark + GFM-table parser (markdown-it-py), so "the table
is not broken" means a parser sees the same rows and cells, not that a regex liked it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re

import pytest
from markdown_it import MarkdownIt

from scanner import results
from scanner.outputs import digest
from scanner.outputs import markdown as md
from scanner.outputs.csv_writer import CsvWriter, render_csv
from scanner.outputs.html_writer import HtmlWriter, render_html
from scanner.outputs.md_writer import MarkdownWriter, render_markdown
from scanner.outputs.registry import WRITERS, parse_formats
from tests.results_builder import HOSTILE, IMG, SCRIPT, build_results

HOSTILE_CELLS = [
    SCRIPT,
    IMG,
    "a | b | c",
    "trailing backslash \\",
    "back\\|slash pipe",
    "``double`` and `single` ticks",
    "`",
    "line\nbreak\r\nand\ttab",
    "![img](http://evil.example/t.png) [link](http://evil.example)",
    "<b>bold</b> &amp; &lt;",
    "*em* _em_ ~~strike~~ $x^2$",
    "@security-team please look",
    "\u202eevil\u202c bidi",
    "",
]
# CommonMark with GitHub's table and strikethrough extensions.
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _flat(value: str) -> str:
    s = re.sub(r"[\s]+", " ", value.replace("\u202e", "").replace("\u202c", "")).strip()
    return s


def _cells(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S) for r in rows]


@pytest.mark.parametrize("value", HOSTILE_CELLS)
def test_markdown_cells_stay_one_cell_of_plain_text(value):
    text = md.table(
        ["a", "text", "code", "z"], "llll", [["1", md.text(value), md.code(value), "2"]]
    )
    html = PARSER.render(text)
    cells = _cells(html)
    assert len(cells) == 2 and [len(c) for c in cells] == [4, 4]  # header + one row, 4 cells
    body = cells[1]
    assert body[0] == "1" and body[3] == "2"
    for tag in ("<img", "<script", "<a ", "<b>", "<em>", "<strong>", "<del>"):
        assert tag not in body[1] and tag not in body[2]
    import html as html_lib

    # Text between matching backticks is shown as code; everything else exactly as written.
    shown = re.sub(r"</?code>", "`", body[1])
    shown_text = html_lib.unescape(shown).replace(md.ZWSP, "")
    assert shown_text == _flat(value).replace("``double``", "`double`")
    if value:
        code = re.fullmatch(r"<code>(.*)</code>", body[2], flags=re.S)
        assert code is not None
        assert html_lib.unescape(code.group(1)).strip() == _flat(value).strip()


@pytest.mark.parametrize(
    ("value", "written", "shown"),
    [
        # A regex reads in the raw file as it does rendered: no doubled backslashes.
        ('matches "\\S"', 'matches "\\S"', 'matches "\\S"'),
        ('matches "\\\\S"', 'matches "\\\\\\S"', 'matches "\\\\S"'),
        ("^[0-9a-f]{7,64}$", "^\\[0-9a-f]{7,64}\\$", "^[0-9a-f]{7,64}$"),
        # Inside a word an underscore opens nothing: left as it is.
        ("serialization.pickle_based", "serialization.pickle_based", "serialization.pickle_based"),
        ("_em_", "\\_em\\_", "_em_"),
        ("a & b &amp; c", "a & b \\&amp; c", "a & b &amp; c"),
        ("trailing \\", "trailing \\\\", "trailing \\"),
    ],
)
def test_markdown_text_escapes_only_what_gfm_would_read_as_markup(value, written, shown):
    import html as html_lib

    assert md.text(value) == written
    assert html_lib.unescape(PARSER.render(written)) == f"<p>{shown}</p>\n"


def test_markdown_backticks_are_code_not_literal_ticks():
    written = md.text("gate deployment on `modelward verify`.")
    assert written == "gate deployment on `modelward verify`."
    assert PARSER.render(written) == "<p>gate deployment on <code>modelward verify</code>.</p>\n"
    assert PARSER.render(md.text("a ` lone tick")) == "<p>a ` lone tick</p>\n"


@pytest.mark.parametrize("value", ["# heading", "> quote", "- item", "+ item", "1. first", "2) x"])
def test_markdown_text_opens_no_block_at_the_start_of_a_list_item(value):
    import html as html_lib

    html = PARSER.render(f"- {md.text(value)}\n")
    assert html_lib.unescape(html) == f"<ul>\n<li>{value}</li>\n</ul>\n"


def test_markdown_mentions_do_not_notify():
    assert "@" + md.ZWSP + "security-team" in md.text("@security-team")
    assert md.text("mail a@b.example") == "mail a@" + md.ZWSP + "b.example"


def test_markdown_summary_fits_a_github_comment_and_says_how_many_more():
    document = build_results(scale=150, hostile=True)
    failing = sum(1 for f in document["findings"] if f["status"] in ("fail", "error"))
    text = render_markdown(document)
    assert len(text) <= 60_000
    shown = text.count("\n| critical |") + text.count("\n| high |") + text.count("\n| medium |")
    assert f"… and {failing - shown} more failing findings" in text
    small = render_markdown(document, max_chars=4_000)
    assert len(small) <= 4_000
    assert "more failing findings" in small
    html = PARSER.render(text)
    assert "<img" not in html and "<script" not in html


def test_markdown_of_a_clean_estate_has_no_failing_section():
    document = build_results(scale=2)
    for f in document["findings"]:
        f["status"] = "pass"
    text = render_markdown(document)
    assert "Failing findings" not in text
    assert "Fix first" not in text


def test_markdown_names_maturity_gate_frameworks_and_sources():
    document = build_results(scale=3, hostile=True)
    text = render_markdown(document)
    assert f"maturity {document['maturity']['level']}" in text
    assert digest.maturity_view(document).sentence in text.replace("\\", "")
    for fw in document["frameworks"]:
        assert f"`{fw['id']}`" in text
    assert "incomplete" in text and "`mlflow`" in text


def _csv_rows(document) -> list[dict[str, str]]:
    content = CsvWriter().render(document)["findings.csv"]
    assert content.startswith(b"\xef\xbb\xbf")  # BOM, for Excel
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_csv_has_one_row_per_finding_with_controls_and_remediation():
    document = build_results(scale=4)
    rows = _csv_rows(document)
    assert len(rows) == document["summary"]["total"]
    fixes = {p["id"]: p["remediation"].get("summary", "") for p in document["policies"]}
    for row, finding in zip(rows, document["findings"], strict=True):
        assert row["policy_id"] == finding["policy_id"]
        assert row["resource_id"] == finding["resource_id"]
        assert row["status"] == finding["status"]
        expected = "; ".join(f"{c['framework']}:{c['control']}" for c in finding["controls"])
        assert row["controls"] == expected
        failing = finding["status"] in ("fail", "error")
        assert row["remediation"] == (fixes[finding["policy_id"]] if failing else "")
        if finding["waiver"]:
            assert "ciso@example.com" in row["waiver"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_cannot_become_formulas(start):
    document = build_results(scale=2)
    finding = document["findings"][0]
    finding["resource_name"] = f'{start}HYPERLINK("http://evil.example","x")'
    finding["message"] = f"{start}1+1\nsecond line"
    row = _csv_rows(document)[0]
    assert row["resource_name"] == "'" + finding["resource_name"]
    assert row["message"] == "'" + finding["message"]


def test_csv_keeps_hostile_text_whole():
    document = build_results(scale=3, hostile=True)
    rows = _csv_rows(document)
    names = {r["resource_name"] for r in rows}
    assert any(HOSTILE.split("\n")[0] in n for n in names)
    assert render_csv(document).count("\r\n") >= len(rows) + 1


def _inline(html: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
    assert match is not None
    return match.group(1)


def _sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_html_escapes_every_scanned_string_and_csp_pins_the_inline_code():
    html = render_html(build_results(scale=3, hostile=True))
    assert "<script>window" not in html and "<img" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert html.count("<script>") == 1 and html.count("<style>") == 1
    assert 'href="javascript' not in html.lower() and "href='javascript" not in html.lower()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    import html as html_lib

    policy = html_lib.unescape(csp.group(1))
    assert "default-src 'none'" in policy
    assert f"'sha256-{_sha(_inline(html, 'script'))}'" in policy
    assert f"'sha256-{_sha(_inline(html, 'style'))}'" in policy
    assert " style=" not in html  # inline style attributes would be refused by the CSP


def test_html_renders_results_without_the_optional_parts():
    document = build_results(scale=2)
    document["schema_version"] = "1.0"  # written before results listed the policies
    del document["policies"]
    del document["scan"]["as_of"]
    for source in document["scan"]["sources"]:
        source.pop("problems", None)
    for fw in document["frameworks"]:
        for c in fw["controls"]:
            for key in ("attestation", "attested_by", "notes"):
                c.pop(key, None)
    assert results.problems(document) == []
    html = render_html(document)
    assert "Fix first" in html and "How to fix" not in html.split('id="fix-first"')[1][:20]


def test_writers_are_registered_and_name_their_files():
    assert {"json", "html", "md", "csv"} <= set(WRITERS)
    assert parse_formats("html,md,csv,json") == ["html", "md", "csv", "json"]
    document = build_results(scale=1)
    assert set(HtmlWriter().render(document)) == {"report.html"}
    assert set(MarkdownWriter().render(document)) == {"report.md"}


def test_fix_first_ranks_by_severity_then_what_each_policy_holds_back():
    document = build_results(scale=8)
    ranked = digest.priorities(document)
    assert [p.rank for p in ranked] == list(range(1, len(ranked) + 1))
    keys = [(digest.SEVERITY_RANK[p.policy.severity], -p.weight, -p.resource_count) for p in ranked]
    assert keys == sorted(keys)
    view = digest.maturity_view(document)
    for p in ranked:
        rung = digest.RUNGS.index(p.policy.maturity)
        assert p.blocks_next == (view.next is not None and rung <= digest.RUNGS.index(view.next))
        for fw_id, control_id in p.controls:
            fw = next(f for f in document["frameworks"] if f["id"] == fw_id)
            control = next(c for c in fw["controls"] if c["id"] == control_id)
            assert control["status"] in ("partial", "not_met", "error")
            assert p.policy.id in control["policies"]
    failing = {f["policy_id"] for f in document["findings"] if f["status"] in ("fail", "error")}
    assert {p.policy.id for p in ranked} == failing
    assert "blocks maturity" in digest.why(ranked[0]) or ranked[0].policy.severity != "critical"


def test_an_empty_scan_renders_in_every_format():
    document = build_results(scale=1)
    document.update(findings=[], resources=[], frameworks=[], policies=[])
    document["summary"] = results.summarise([])
    document["maturity"] = {
        "level": "foundational",
        "next": "applied",
        "rungs": [
            {
                "name": r,
                "status": "reached" if r == "foundational" else "not_reached",
                "passed": 0,
                "total": 0,
                "blocking": [],
            }
            for r in digest.RUNGS
        ],
    }
    document["scan"]["sources"] = []
    assert results.problems(document) == []
    html = render_html(document)
    assert "No framework mapping was in use" in html and "Nothing to fix" in html
    text = render_markdown(document)
    assert "no evaluated policy checks the applied rung" in text
    assert "Failing findings" not in text
    assert render_csv(document).count("\r\n") == 1  # the header only


def _with_gaps(document):
    """The first artefact's files could not be read (denied), as an S3 source reports it."""
    artefact = next(r for r in document["resources"] if r["type"] == "artefact")
    denied = {"$unknown": "denied: s3:GetObject"}
    artefact["attributes"]["files"] = [{"path": "model.bin", "format": denied}]
    artefact["attributes"]["serialization"] = {
        "unsafe": {"$unknown": "not scanned: format of model.bin unknown (denied: s3:GetObject)"}
    }
    for source in document["scan"]["sources"]:
        source["status"], source["error"] = "ok", None
    return artefact


def test_sources_with_unknown_values_are_partial_and_say_what_was_denied():
    document = build_results(scale=2)
    artefact = _with_gaps(document)
    views = {v.name: v for v in digest.source_views(document)}
    gapped = views[artefact["source"]]
    assert gapped.status == "partial" and gapped.unread == 1
    assert gapped.denied == ("s3:GetObject",)
    # the reason that explains the others, once
    assert [g.reason for g in gapped.gaps] == ["denied: s3:GetObject"]
    assert all(v.status == "read" for n, v in views.items() if n != artefact["source"])
    text = render_markdown(document)
    assert f"gaps in `{artefact['source']}`: 1 of" in text and "denied `s3:GetObject`" in text
    complete = len(views) - 1
    assert f"- **Sources:** {complete} of {len(views)} complete" in text


def test_framework_scores_leave_out_manual_and_the_ladder():
    document = build_results(scale=3)
    scores = {s.id: s for s in digest.framework_scores(document)}
    assert "maturity" not in scores
    for fw in document["frameworks"]:
        if fw["id"] == "maturity":
            continue
        counts = fw["summary"]
        score = scores[fw["id"]]
        assert score.met == counts["met"] and score.manual == counts["manual"]
        assert score.automated == sum(counts.values()) - counts["manual"] - counts["not_applicable"]
        assert score.percent == (
            round(100 * counts["met"] / score.automated) if score.automated else None
        )


def test_the_maturity_sentence_says_why_and_what_the_rung_means():
    document = build_results(scale=2)
    view = digest.maturity_view(document)
    assert view.meaning == digest.RUNG_MEANING[view.level]
    if view.next and view.next_checked:
        assert view.sentence.startswith(f"{view.level}, because {view.next} does not hold yet")
