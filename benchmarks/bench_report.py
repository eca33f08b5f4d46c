"""Report rendering speed and size against plain `json.dumps` of the same document, same run.

Serialising the results is the least any output must do; the ratio shows what the HTML
report's layout (Jinja2, escaping, links, evidence) costs on top, and the sizes show what a
reader downloads. The document is a constructed estate with ~10 findings per storage bucket
(`--scale 2000` ≈ 20,000 findings). Run: `python -m benchmarks.bench_report [--scale N]`.
"""

from __future__ import annotations

import argparse
import json

from benchmarks.timing import best
from scanner.outputs.csv_writer import render_csv
from scanner.outputs.html_writer import render_html
from scanner.outputs.md_writer import render_markdown
from tests.results_builder import build_results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hostile", action="store_true", help="markup in names, tags and evidence")
    args = ap.parse_args()
    document = build_results(scale=args.scale, hostile=args.hostile)
    findings = document["summary"]["total"]
    t_json, text = best(lambda: json.dumps(document), args.repeat)
    t_html, html = best(lambda: render_html(document), args.repeat)
    t_md, md = best(lambda: render_markdown(document), args.repeat)
    t_csv, csv = best(lambda: render_csv(document), args.repeat)
    mib = 1024 * 1024
    print(f"findings={findings} resources={len(document['resources'])}")
    print(f"json.dumps (baseline): {t_json * 1000:8.1f} ms  {len(text) / mib:6.2f} MiB")
    print(f"html report:           {t_html * 1000:8.1f} ms  {len(html.encode()) / mib:6.2f} MiB")
    print(f"markdown summary:      {t_md * 1000:8.1f} ms  {len(md) / 1024:6.1f} KiB")
    print(f"csv:                   {t_csv * 1000:8.1f} ms  {len(csv.encode()) / mib:6.2f} MiB")
    print(
        f"ratio html/json: {t_html / t_json:.1f}x  md/json: {t_md / t_json:.1f}x  "
        f"csv/json: {t_csv / t_json:.1f}x  html size/json size: "
        f"{len(html.encode()) / len(text.encode()):.2f}"
    )


if __name__ == "__main__":
    main()
