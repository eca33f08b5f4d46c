"""Evidence pack cost against writing results.json itself, same document, same run.

Every scan serialises its results; `--evidence-pack` adds: serialising the settings and raw
answers, hashing every member, deflating them into the zip, rendering the HTML report into the
pack and one signature. Checking a pack (`evidence verify` before re-evaluation) opens the zip,
checks the directory, and hashes every member again. Both are shown as a ratio to
`results.dumps` of the document (re-evaluation costs what evaluation costs: see
bench_evaluate). The document is a constructed estate (`--scale 2000` ≈ 20,000 findings),
with every resource's raw answer in the inventory. Run: `python -m benchmarks.bench_evidence`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from benchmarks.timing import best
from scanner import results
from scanner.evidence import pack
from scanner.evidence.archive import PackReader
from scanner.evidence.settings import ScanSettings
from scanner.evidence.signers import KeySigner
from scanner.gate import GateSettings
from scanner.inventory import Inventory, Resource, from_jsonable
from scanner.outputs.html_writer import render_html
from tests.results_builder import build_results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    document = build_results(scale=args.scale)
    inventory = Inventory(
        Resource(
            r["id"],
            r["type"],
            r["name"],
            r["source"],
            from_jsonable(r["attributes"]),
            raw={"answer": r["attributes"]},  # a provider answer about as big as the resource
        )
        for r in document["resources"]
    )
    signer = KeySigner(ed25519.Ed25519PrivateKey.generate())
    settings = ScanSettings((), (), (), {}, (), (), GateSettings(), "", None, 90, None)
    files = pack.ScanFiles((), (), None, None, None)
    html = render_html(document).encode()

    def make() -> bytes:
        evidence = pack.collect(document, inventory, files, settings, signer, "pack.zip")
        return pack.seal(evidence, document, {"report.html": html}, signer)

    t_json, text = best(lambda: results.dumps(document), args.repeat)
    t_pack, data = best(make, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pack.zip"
        path.write_bytes(data)

        def check() -> int:
            with PackReader(path) as reader:
                return sum(reader.sha256(name)[1] for name in reader.names)

        t_check, size = best(check, args.repeat)
    mib = 1024 * 1024
    print(f"findings={document['summary']['total']} resources={len(document['resources'])}")
    print(f"results.dumps (baseline): {t_json * 1000:8.1f} ms  {len(text) / mib:6.2f} MiB")
    print(f"pack (collect + seal):    {t_pack * 1000:8.1f} ms  {len(data) / mib:6.2f} MiB zip")
    print(f"pack check (hash all):    {t_check * 1000:8.1f} ms  {size / mib:6.2f} MiB members")
    print(f"ratio pack/json: {t_pack / t_json:.1f}x  check/json: {t_check / t_json:.1f}x")


if __name__ == "__main__":
    main()
