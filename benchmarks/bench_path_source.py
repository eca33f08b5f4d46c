"""`path:` source throughput against a floor measured in the same run.

The floor is the least any scanner must do: walk the tree and sha256 every byte (hashlib,
one file after another). The source also sniffs formats, groups artefacts and hashes with a
thread pool, so the ratio shows what that costs (or saves). Run:
`python -m benchmarks.bench_path_source [--models 40 --mb-per-model 64 --small-files 2000]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import tempfile
import time
from pathlib import Path

from scanner.sources.interface import SourceSpec
from scanner.sources.local import LocalPathSource


def build(root: Path, models: int, mb: int, small: int) -> int:
    total = 0
    chunk = os.urandom(1024 * 1024)
    for m in range(models):
        d = root / f"team{m % 5}" / f"model{m}"
        d.mkdir(parents=True)
        header = json.dumps(
            {
                "w": {
                    "dtype": "U8",
                    "shape": [mb * 1024 * 1024],
                    "data_offsets": [0, mb * 1024 * 1024],
                }
            }
        ).encode()
        with open(d / "model.safetensors", "wb") as fh:
            fh.write(struct.pack("<Q", len(header)) + header)
            for _ in range(mb):
                fh.write(chunk)
        (d / "config.json").write_text('{"arch": "bench"}')
        total += mb * 1024 * 1024 + len(header) + 8
    for i in range(small):  # many small files: tokenizers, shards, configs
        d = root / "shards" / f"s{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"part{i}.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}" + b"\0" * 512)
        total += 522
    return total


def floor(root: Path) -> int:
    n = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                hashlib.file_digest(fh, "sha256")
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument("--mb-per-model", type=int, default=64)
    ap.add_argument("--small-files", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "estate"
        size = build(root, args.models, args.mb_per_model, args.small_files)
        floor(root)  # warm the page cache for both contenders
        t0 = time.perf_counter()
        files = floor(root)
        t_floor = time.perf_counter() - t0
        source = LocalPathSource(SourceSpec("path", str(root), "bench"))
        t0 = time.perf_counter()
        collection = source.collect(lambda message: None)
        t_source = time.perf_counter() - t0
    assert not collection.problems, collection.problems[:3]
    mb = size / 1e6
    print(f"{files} files, {mb:.0f} MB, {len(collection.resources)} artefacts")
    print(f"floor (walk + sequential sha256): {t_floor:6.2f} s  {mb / t_floor:7.0f} MB/s")
    print(f"path: source (sniff+group+hash):  {t_source:6.2f} s  {mb / t_source:7.0f} MB/s")
    print(f"ratio source/floor: {t_source / t_floor:.2f}")


if __name__ == "__main__":
    main()
