"""Opening a rendered report in the system's headless Chromium, the way a reader's browser would.

Playwright drives Debian's `chromium` (never a browser Playwright downloads). Every request the
page makes is recorded, and anything but the report itself and `data:` URLs is aborted, so a
test sees at once whether the report tries to load something from the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import NODE_TOOLS, REPO
from tests.standards import in_ci

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "out" / "test-artifacts"
AXE = NODE_TOOLS / "axe-core" / "axe.min.js"


def missing(what: str, fix: str = "as root: apt-get install -y chromium npm") -> None:
    """CI must run the browser tests (.ci/run installs what they need); a developer's machine
    without Chromium skips them with the command that fixes it."""
    message = f"{what} is not installed ({fix})"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def axe_source() -> str:
    """axe-core at the version requirements/npm/package-lock.json pins (`make install`)."""
    if not AXE.exists():
        missing("axe-core", "make install runs npm ci in requirements/npm; it needs npm")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Opened:
    page: object
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [
            u
            for u in self.requests + self.blocked
            if u != self.url and not u.startswith(("data:", "about:"))
        ]


def open_report(browser, path: Path, *, js: bool = True, bypass_csp: bool = False) -> Opened:
    context = browser.new_context(
        java_script_enabled=js, bypass_csp=bypass_csp, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    opened = Opened(page=page, url=path.resolve().as_uri())

    def on_console(message) -> None:
        if message.type == "error":
            opened.errors.append(message.text)

    def route(r) -> None:
        url = r.request.url
        if url == opened.url or url.startswith(("data:", "about:")):
            r.continue_()
        else:
            opened.blocked.append(url)
            r.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: opened.errors.append(f"page error: {exc}"))
    page.on("request", lambda request: opened.requests.append(request.url))
    context.route("**/*", route)
    page.goto(opened.url, wait_until="load")
    return opened


# Sections below the first screen are laid out only when scrolled to (content-visibility:
# auto); axe measures boxes, so it is shown a page where everything is laid out.
LAY_OUT_ALL = "main > section { content-visibility: visible !important; }"


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations of the page (axe is injected, so the page
    must have been opened with `bypass_csp=True`)."""
    page.add_style_tag(content=LAY_OUT_ALL)
    page.add_script_tag(content=axe_source())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def assert_no_serious_violations(page) -> None:
    serious = serious_violations(page)
    assert serious == [], json.dumps(serious, indent=1)


def pdf_pages(page) -> int:
    """Pages of the report printed to A4 PDF by Chromium (what "Save as PDF" gives)."""
    from scripts.report_pages import pdf_pages as count

    return count(page.pdf(format="A4", print_background=True))


def visible_rows(page) -> int:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('#findings-table tbody tr'))"
        ".filter(r => r.checkVisibility()).length"
    )
