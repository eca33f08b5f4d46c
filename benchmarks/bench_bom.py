"""AI-BOM rendering speed against writing results.json for the same estate, in the same run.

The estate: N model versions over N/10 models, each with an artefact of three hashed files and
a signature, two datasets (one shared by every version of a model) and code provenance. The
baseline is `results.dumps` of the same document (what the json writer does); the ratio is
what a BOM costs on top. Both BOM renders include their validation (the CycloneDX document
against the library's bundled strict schema). Times are CPU seconds of this process.
Run: `python -m benchmarks.bench_bom [--versions N]`.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.timing import best
from scanner import results
from scanner.bom import cyclonedx, spdx
from scanner.bom.estate import read_estate
from scanner.inventory import Ref, Resource
from tests.bom_estate import REGISTRY, artefact, estate_document, model


def estate(versions: int) -> dict:
    resources: list[Resource] = []
    per_model = 10
    for m in range(max(1, versions // per_model)):
        name = f"model-{m}"
        resources.append(model(name, owner=f"team-{m % 7}@example.com", classification="internal"))
        for v in range(1, per_model + 1):
            if len(resources) >= versions * 3:
                break
            uri = f"s3://models/{name}/{v}"
            files = [
                {
                    "path": p,
                    "size": 1000 + i,
                    "sha256": f"{m:04x}{v:04x}{i:02x}".ljust(64, "0"),
                    "etag": "e",
                    "format": "safetensors",
                }
                for i, p in enumerate(("MLmodel", "model.safetensors", "model.sig"))
            ]
            resources.append(
                artefact(
                    uri,
                    files,
                    signature={
                        "present": True,
                        "kind": "sigstore",
                        "verified": True,
                        "identity": "ci",
                        "error": None,
                    },
                )
            )
            resources.append(
                Resource(
                    id=f"{REGISTRY}/models/{name}/versions/{v}",
                    type="model_version",
                    name=f"{name}/{v}",
                    source="mlflow",
                    attributes={
                        "model": Ref(f"{REGISTRY}/models/{name}"),
                        "version": str(v),
                        "stage": "production" if v == per_model else "archived",
                        "owner": f"team-{m % 7}@example.com",
                        "artefact": Ref(uri),
                        "source_uri": uri,
                        "provenance": {
                            "run": f"run-{m}-{v}",
                            "datasets": [
                                {
                                    "name": f"base-{m}",
                                    "digest": f"d{m}",
                                    "context": "training",
                                    "source": f"s3://data/base-{m}.parquet",
                                },
                                {
                                    "name": f"fresh-{m}-{v}",
                                    "digest": f"d{m}-{v}",
                                    "context": "training",
                                    "source": f"s3://data/{m}/{v}.parquet",
                                },
                            ],
                            "code": {
                                "repo": f"https://git.example.com/ml/{name}.git",
                                "commit": f"{m:020x}{v:020x}",
                            },
                            "created_by": "ci",
                            "created_at": "2025-01-01T00:00:00Z",
                        },
                    },
                )
            )
    return estate_document(resources)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    document = estate(args.versions)

    cpu = time.process_time  # CPU time: the machines these run on are shared
    t_json, text = best(lambda: results.dumps(document).encode(), args.repeat, cpu)
    t_cdx, cdx = best(lambda: cyclonedx.render(read_estate(document)), args.repeat, cpu)
    t_spdx, spdx_bytes = best(lambda: spdx.render(read_estate(document)), args.repeat, cpu)
    models = len(read_estate(document).models)
    print(f"model versions={models} results.json={len(text) / 1e6:.1f} MB")
    print(f"baseline (results.json):  {t_json * 1000:8.1f} ms")
    print(
        f"cyclonedx (validated):    {t_cdx * 1000:8.1f} ms  {len(cdx) / 1e6:.1f} MB "
        f"({t_cdx / models * 1000:.2f} ms per model version)"
    )
    print(
        f"spdx:                     {t_spdx * 1000:8.1f} ms  {len(spdx_bytes) / 1e6:.1f} MB "
        f"({t_spdx / models * 1000:.2f} ms per model version)"
    )
    print(f"ratio cyclonedx/baseline: {t_cdx / t_json:.1f}x")
    print(f"ratio spdx/baseline: {t_spdx / t_json:.1f}x")


if __name__ == "__main__":
    main()
