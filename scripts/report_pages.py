"""Print a report as headless Chromium would print it to PDF, and count the pages.

    python scripts/report_pages.py out/demo/report.html [--pdf out/demo/report.pdf]

A board pack is 5 to 15 pages; the browser test holds the demo-sized report to that. Uses the
system Chromium (Debian `chromium`), as the browser tests do.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF that Chromium wrote: its page objects (`/Type /Page`, not `/Pages`)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def print_to_pdf(page: object, html: Path) -> bytes:
    page.goto(html.resolve().as_uri(), wait_until="load")  # type: ignore[attr-defined]
    return page.pdf(format="A4", print_background=True)  # type: ignore[attr-defined,no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("html", type=Path)
    ap.add_argument("--pdf", type=Path, help="also write the PDF here")
    args = ap.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pdf = print_to_pdf(browser.new_page(), args.html)
        browser.close()
    if args.pdf:
        args.pdf.write_bytes(pdf)
    print(f"{args.html}: {pdf_pages(pdf)} pages on A4")


if __name__ == "__main__":
    main()
