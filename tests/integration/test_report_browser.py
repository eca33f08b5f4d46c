"""The HTML gap report in a real headless Chromium: offline, inert hostile strings, working
filters, keyboard access, no JavaScript needed, axe-core clean, and counts that match the results.

Two documents: the output of a real scan of a local estate whose directory names and evidence
are hostile, and a richer constructed estate (models, versions, storage, endpoints, waivers,
unknown values, a failed source) built by the real results pipeline.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from scanner import results
from scanner.outputs.html_writer import render_html
from tests.helpers import pickle_model, policy_pack, run_subprocess, safe_model, write
from tests.integration.report_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_serious_violations,
    missing,
    open_report,
    serious_violations,
    visible_rows,
)
from tests.results_builder import IMG, SCRIPT, build_results

pytestmark = pytest.mark.slow

MAPPING = """
framework: test-fw
title: Test framework
version: "1"
url: https://example.org/fw
controls:
  - id: C.1
    title: Artefacts are safe to load
    policies: [T-ART-01]
  - id: C.2
    title: Artefacts are small
    policies: [T-ART-02]
  - id: C.3
    title: Board-level risk register
    policies: []
    attestation: risk_register
  - id: C.4
    title: A threat model is current
    policies: [T-GOV-01]
"""

EVIDENCE = f"""
- kind: threat_model
  id: tm-1
  statement: "{SCRIPT} | pipes | `ticks`"
  evidence_uri: https://wiki.example.com/tm
  owner: sec@example.com
  date: 2026-01-01
  notes: "{IMG}"
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> tuple[Path, dict]:
    """A real scan, in a real process, whose names carry markup: the report it wrote."""
    root = tmp_path_factory.mktemp("estate")
    pack = policy_pack(root / "pack")
    models = root / "models"
    safe_model(models, "clean")
    pickle_model(models, "legacy")
    pickle_model(models, IMG)
    # A model directory whose name, relative to the source root, is a script element.
    pickle_model(models / "<script>window.__pwned=1<", "script>")
    write(root / "fw.yaml", MAPPING)
    write(root / "evidence.yaml", EVIDENCE)
    out = root / "out"
    r = run_subprocess(
        "scan",
        "-q",
        "--source",
        f"path:{models}",
        "--source",
        f"attestations:{root / 'evidence.yaml'}",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--framework-file",
        str(root / "fw.yaml"),
        "--as-of",
        "2026-06-30",
        "-o",
        str(out),
        "--format",
        "json,html",
    )
    assert r.code == 1, r.err
    document = results.load(out / "results.json")
    assert SCRIPT in {res["name"] for res in document["resources"]}
    return out / "report.html", document


@pytest.fixture(scope="module")
def constructed(tmp_path_factory) -> tuple[Path, dict]:
    """The constructed hostile estate, rendered by `modelward report` in a real process."""
    root = tmp_path_factory.mktemp("constructed")
    document = build_results(scale=6, hostile=True)
    (root / "results.json").write_text(results.dumps(document), encoding="utf-8")
    r = run_subprocess("report", str(root / "results.json"), "--format", "html", "-o", str(root))
    assert r.code == 0, r.err
    return root / "report.html", document


@pytest.fixture(scope="module")
def builtin(tmp_path_factory) -> tuple[Path, dict]:
    """A real scan with the built-in pack and mappings: real remediation snippets (long
    command lines, Terraform), every framework, governance failures for want of evidence."""
    root = tmp_path_factory.mktemp("builtin")
    safe_model(root / "models", "fraud-detector")
    pickle_model(root / "models", "legacy")
    pickle_model(root / "models", "churn")
    out = root / "out"
    r = run_subprocess(
        "scan", "-q", "--source", f"path:{root / 'models'}", "-o", str(out), "--format", "json,html"
    )
    assert r.code == 1, r.err
    return out / "report.html", results.load(out / "results.json")


@pytest.fixture(params=["scanned", "constructed", "builtin"])
def report(request) -> tuple[Path, dict]:
    return request.getfixturevalue(request.param)


def test_opens_offline_and_hostile_strings_run_nothing(browser, report, request):
    path, _ = report
    opened = open_report(browser, path)
    page = opened.page
    assert page.locator("#filters").is_visible()  # the script ran under the page's CSP
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("script").count() == 1  # ours
    assert SCRIPT in page.locator("main").text_content()
    # Open every <details> so nothing stays folded away, then look again.
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate("() => window.__pwned") is None
    assert opened.errors == []
    assert opened.outside() == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.callspec.id
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = false)")
    page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=name == "scanned")
    page.emulate_media(media="print")
    assert not page.locator("nav.toc").is_visible()
    assert not page.locator("#filters").is_visible()
    page.context.close()


def _count(document: dict, **want) -> int:
    def ok(f: dict) -> bool:
        for key, value in want.items():
            if key == "framework":
                if value not in {c["framework"] for c in f["controls"]}:
                    return False
            elif key == "status_in":
                if f["status"] not in value:
                    return False
            elif key == "resource":
                if value not in f["resource_name"].lower() and value not in f["resource_id"]:
                    return False
            elif f[key] != value:
                return False
        return True

    return sum(1 for f in document["findings"] if ok(f))


def _settle(page) -> None:
    page.wait_for_timeout(300)  # the text inputs apply after a 120 ms pause in typing


def test_filters_and_sorting_change_the_visible_rows(browser, constructed):
    path, document = constructed
    opened = open_report(browser, path)
    page = opened.page
    total = document["summary"]["total"]
    assert visible_rows(page) == total
    page.select_option("#f-sev", "critical")
    assert visible_rows(page) == _count(document, severity="critical")
    page.select_option("#f-status", "fail error")
    expected = _count(document, severity="critical", status_in=("fail", "error"))
    assert 0 < expected < total
    assert visible_rows(page) == expected
    assert page.locator("#f-count").text_content() == f"Showing {expected} of {total} findings."
    page.click("#f-reset")
    _settle(page)
    assert visible_rows(page) == total
    page.select_option("#f-policy", "DEMO-ART-01")
    assert visible_rows(page) == _count(document, policy_id="DEMO-ART-01")
    page.click("#f-reset")
    page.select_option("#f-fw", "example-ai-management")
    assert visible_rows(page) == _count(document, framework="example-ai-management")
    page.click("#f-reset")
    page.fill("#f-res", "model1")
    _settle(page)
    assert visible_rows(page) == _count(document, resource="model1")
    page.fill("#f-res", "")
    page.fill("#f-q", "signed")
    _settle(page)
    assert visible_rows(page) == _count(document, policy_id="DEMO-ART-02")
    page.fill("#f-q", "")
    _settle(page)

    sev = "#findings-table tbody tr:first-child td:first-child"
    page.click("#findings-table th[data-sort=sev] button")
    assert page.locator("th[data-sort=sev]").get_attribute("aria-sort") == "ascending"
    assert page.locator(sev).text_content() == "critical"
    page.click("#findings-table th[data-sort=sev] button")
    assert page.locator("th[data-sort=sev]").get_attribute("aria-sort") == "descending"
    lowest = max(document["findings"], key=lambda f: SEVERITY_ORDER.index(f["severity"]))
    assert page.locator(sev).text_content() == lowest["severity"]

    first = page.locator("a.show-findings").first
    policy = first.get_attribute("data-policy")
    first.click()
    assert visible_rows(page) == _count(document, policy_id=policy, status_in=("fail", "error"))
    assert opened.errors == []
    page.context.close()


SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]


def test_keyboard_reaches_the_filter(browser, constructed):
    path, document = constructed
    page = open_report(browser, path).page
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    for _ in range(2000):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "f-q":
            break
    else:
        pytest.fail("Tab never reached the findings search box")
    page.keyboard.type("signed")
    page.keyboard.press("Enter")  # must not submit the form or leave the page
    _settle(page)
    assert visible_rows(page) == _count(document, policy_id="DEMO-ART-02")
    page.context.close()


@pytest.mark.parametrize("width", [1280, 400])
def test_axe_finds_no_serious_violations(browser, report, width):
    """On a wide screen and a phone's: nothing axe-core calls serious or critical, such as a
    scrolling code block a keyboard cannot reach."""
    path, _ = report
    opened = open_report(browser, path, bypass_csp=True)  # CSP would refuse the injected axe
    opened.page.set_viewport_size({"width": width, "height": 900})
    assert_no_serious_violations(opened.page)
    opened.page.context.close()


def test_the_axe_check_fails_on_a_serious_violation(browser, tmp_path):
    """The check above can fail: a page with a scrolling region no keyboard reaches (axe-core's
    `scrollable-region-focusable`, serious), and an image without a text alternative."""
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        "<!DOCTYPE html><html lang='en'><head><title>bad</title></head><body><main>"
        "<h1>A bad page</h1><div style='overflow:auto; width:8rem; height:3rem'>"
        f"<p>{'words that do not fit ' * 40}</p></div>"
        "<img src='data:,'></main></body></html>",
        encoding="utf-8",
    )
    page = open_report(browser, page_file, bypass_csp=True).page
    found = {v["id"] for v in serious_violations(page)}
    assert {"scrollable-region-focusable", "image-alt"} <= found
    with pytest.raises(AssertionError, match="scrollable-region-focusable"):
        assert_no_serious_violations(page)
    page.context.close()


def test_without_javascript_everything_is_listed_and_counts_match(browser, report):
    path, document = report
    opened = open_report(browser, path, js=False)
    page = opened.page
    assert visible_rows(page) == document["summary"]["total"]
    assert not page.locator("#filters").is_visible()
    assert page.locator("th button.sort").count() == 0
    assert page.locator("#inventory tbody tr").count() == len(document["resources"])
    assert opened.outside() == []
    statuses = page.eval_on_selector_all(
        "#findings-table tbody tr", "rows => rows.map(r => r.dataset.status)"
    )
    assert Counter(statuses) == Counter(
        {k: v for k, v in document["summary"]["by_status"].items() if v}
    )
    assert page.locator("#card-maturity .big").text_content() == document["maturity"]["level"]
    coverage = page.locator("table.coverage tbody tr")
    assert coverage.count() == len(document["frameworks"])
    for i, fw in enumerate(document["frameworks"]):
        cells = coverage.nth(i).locator("td.num").all_text_contents()
        expected = [
            fw["summary"][s]
            for s in ("met", "partial", "not_met", "error", "manual", "not_applicable")
        ]
        assert [int(c) for c in cells] == expected
        rows = page.locator(f"#f{i} table tbody tr")
        assert rows.count() == len(fw["controls"])
        for j, control in enumerate(fw["controls"]):
            row = rows.nth(j)
            assert row.locator("th code").text_content() == control["id"]
            status = row.locator(".cs").get_attribute("class").split()[-1]
            assert status == f"cs-{control['status']}"
            if control["status"] == "manual":
                assert "Needs evidence" in row.text_content()
    severity_rows = page.locator("table.severity tbody tr")
    for i, sev in enumerate(SEVERITY_ORDER):
        cells = [int(c) for c in severity_rows.nth(i).locator("td.num").all_text_contents()]
        counts = document["summary"]["by_severity"][sev]
        assert cells == [counts[s] for s in ("fail", "error", "waived", "pass", "not_applicable")]
    failing_policies = {
        f["policy_id"] for f in document["findings"] if f["status"] in ("fail", "error")
    }
    assert page.locator("#fix-first article.fix").count() == len(failing_policies)
    for resource in document["resources"]:
        assert page.get_by_text(resource["id"], exact=True).count() >= 1
    page.context.close()


def test_waivers_and_unknowns_are_shown(browser, constructed):
    path, document = constructed
    page = open_report(browser, path, js=False).page
    waived = [f for f in document["findings"] if f["status"] == "waived"]
    expired = [f for f in document["findings"] if f["waiver"] and f["status"] == "fail"]
    assert waived and expired
    assert page.locator("#findings-table .waiver:not(.expired)").count() == len(waived)
    assert page.locator("#findings-table .waiver.expired").count() == len(expired)
    first = page.locator("#findings-table .waiver:not(.expired)").first.text_content()
    assert "approved by ciso@example.com · until 2026-12-31 · ticket SEC-1234" in first
    assert "Waiver expired:" in page.locator("#findings-table .waiver.expired").first.text_content()
    assert page.locator("#findings-table .v-u").count() >= 1  # an $unknown in evidence
    assert "mlflow" in page.locator(".alert").text_content()  # the failed source is called out
    page.context.close()


def test_long_lists_are_paged_with_javascript_and_whole_without(browser, tmp_path):
    document = build_results(scale=30)
    total = document["summary"]["total"]
    assert total > 250
    path = tmp_path / "report.html"
    path.write_text(render_html(document), encoding="utf-8")
    page = open_report(browser, path).page
    assert visible_rows(page) == 250
    assert page.locator("#f-count").text_content() == (
        f"{total} findings (the first 250 are listed)."
    )
    page.click("#f-more")
    assert visible_rows(page) == total
    assert not page.locator("#f-pager").is_visible()
    page.select_option("#f-status", "pass")  # a new filter starts from the first page again
    assert visible_rows(page) == min(250, _count(document, status="pass"))
    page.context.close()
    page = open_report(browser, path, js=False).page
    assert visible_rows(page) == total
    page.context.close()
