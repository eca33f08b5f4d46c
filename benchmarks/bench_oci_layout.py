"""Image reading (`oci-layout:`) against a floor measured in the same run.

The floor is the least any image scanner must do: read every layer blob, gunzip it and walk
its tar entries to the end (Python's gzip and tarfile, nothing kept). The source also checks
each blob's digest, sniffs every file's head, hashes and keeps model files, applies whiteouts
and builds the artefacts, so the ratio shows what that costs. The image: one layer of many
small files (a Python environment's shape) and one of large weights. Run:
`python -m benchmarks.bench_oci_layout [--weights-mb 256 --small-files 5000]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import tarfile
import tempfile
import time
from pathlib import Path

from scanner.sources.interface import SourceSpec
from scanner.sources.oci.source import OciSource
from tests import oci_images as oi


def build(root: Path, weights_mb: int, small: int) -> tuple[Path, int]:
    source = b"def handler(event, context):\n    return {'status': 200, 'body': event}\n" * 30
    files = {f"app/lib/pkg{i // 100}/mod{i}.py": source + str(i).encode() for i in range(small)}
    app = oi.tar_layer(files)
    size = weights_mb * 1024 * 1024
    header = json.dumps({"w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}})
    blob = struct.pack("<Q", len(header)) + header.encode() + os.urandom(size)
    model = oi.tar_layer({"models/m/model.safetensors": blob})
    image = oi.image([app, model])
    layout = oi.write_layout(root / "layout", {"bench": image})
    return layout, len(app[0]) + len(model[0])


def floor(layout: Path) -> int:
    entries = 0
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_bytes())
    for layer in manifest["layers"]:
        path = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
        with (
            path.open("rb") as raw,
            gzip.GzipFile(fileobj=raw) as unzipped,
            tarfile.open(fileobj=unzipped, mode="r|") as tar,
        ):
            for member in tar:
                entries += 1
                data = tar.extractfile(member)
                if data is not None:
                    while data.read(1024 * 1024):
                        pass
    return entries


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights-mb", type=int, default=256)
    ap.add_argument("--small-files", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layout, stored = build(Path(tmp), args.weights_mb, args.small_files)
        floor(layout)  # warm the page cache for both contenders
        t0 = time.perf_counter()
        entries = floor(layout)
        t_floor = time.perf_counter() - t0
        source = OciSource(SourceSpec("oci-layout", str(layout), "bench"))
        t0 = time.perf_counter()
        collection = source.collect(lambda message: None)
        t_source = time.perf_counter() - t0
    assert not collection.problems, collection.problems[:3]
    (artefact,) = collection.resources
    assert artefact.attributes["file_count"] == 1
    mb = stored / 1e6
    print(f"image: {entries} tar entries, {mb:.0f} MB of layers (gzip)")
    print(f"floor (gunzip + tar walk): {t_floor:.2f} s, {mb / t_floor:.0f} MB/s")
    print(f"oci-layout source:         {t_source:.2f} s, {mb / t_source:.0f} MB/s")
    print(f"ratio source/floor: {t_source / t_floor:.2f}")


if __name__ == "__main__":
    main()
