"""Render a results.json to HTML and photograph it in headless Chromium (for docs/img).

    python scripts/report_screenshot.py out/results.json docs/img/report-summary.png

Uses the system Chromium (Debian `chromium`), as the browser tests do; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from scanner import results
from scanner.outputs.html_writer import render_html

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1500)
    ap.add_argument("--full-page", action="store_true")
    ap.add_argument("--anchor", default="", help="scroll to this #id first")
    args = ap.parse_args()
    html = render_html(results.load(args.results))
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(page_file.as_uri() + (f"#{args.anchor}" if args.anchor else ""))
            page.screenshot(path=args.png, full_page=args.full_page)
            browser.close()
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
