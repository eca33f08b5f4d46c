"""Verifying signed models in place, in the moto S3, against a floor measured in the same run.

Seeds one bucket with N signed models of SIZE MiB each, half uploaded with S3 SHA-256
checksums and half without, and scans it with the `aws:` source trusting the signing key.
The floor is the least a verifier that downloads must do for the models without checksums:
GET every object of those models whole and hash it (plain boto3, the same threads, no
signature check). The verification cost is the scan with the key trusted minus the same scan
trusting nobody (which reads only the signature files and does everything else the source
does); the ratio is that cost over the floor. The checksum models show what verification by
digest saves: their weights are never fetched. Run:
`python -m benchmarks.bench_signatures [--models 8 --size 16 --workers 8 --repeat 2]`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.trust import KeyTrust, TrustPolicy, TrustSet
from scanner.demo.registry_estate import safetensors_bytes
from scanner.sources.aws.source import AwsSource
from scanner.sources.registry import parse_spec
from tests.servers.moto import MotoServer, moto_server
from tests.signing import KeyPair, key_pair, sign_with_key

BUCKET = "bench-signed"


def seed(moto: MotoServer, root: Path, keys: KeyPair, models: int, size: int) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for i in range(models):
        model = root / f"m{i}"
        model.mkdir()
        (model / "model.safetensors").write_bytes(safetensors_bytes(size * 1024 * 1024 + i * 4))
        (model / "config.json").write_text('{"arch": "mlp"}')
        sign_with_key(model, keys)
        extra: dict[str, Any] = {"ChecksumAlgorithm": "SHA256"} if i % 2 == 0 else {}
        prefix = ("checksummed" if i % 2 == 0 else "plain") + f"/m{i}"
        for f in sorted(model.iterdir()):
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{f.name}", Body=f.read_bytes(), **extra)


def floor(moto: MotoServer, workers: int) -> float:
    s3 = moto.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="plain/")["Contents"]

    def fetch(key: str) -> str:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fetch, [o["Key"] for o in listing]))
    return time.perf_counter() - started


def scan(trust: TrustPolicy, workers: int, budget: int) -> tuple[float, dict[str, Any]]:
    options = {"trust": trust, "workers": workers, "integrity_max_bytes": budget}
    source = AwsSource(parse_spec("aws:", options=options))
    started = time.perf_counter()
    collection = source.collect(lambda _m: None)
    elapsed = time.perf_counter() - started
    verdicts = {
        r.id: r.attributes["signature"]
        for r in collection.resources
        if r.type == "artefact" and r.id.startswith(f"s3://{BUCKET}/")
    }
    return elapsed, verdicts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--size", type=int, default=16, help="MiB of weights per model")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with moto_server() as moto, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(moto.env())
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        keys = key_pair(Path(tmp) / "keys")
        started = time.perf_counter()
        seed(moto, Path(tmp), keys, args.models, args.size)
        print(
            f"seeded {args.models} signed models of {args.size} MiB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        trust = TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))
        budget = (args.size + 1) * 1024 * 1024
        scan(trust, args.workers, budget)  # warm-up: clients and service models
        floor(moto, args.workers)
        scans, bases, floors = [], [], []
        verdicts: dict[str, Any] = {}
        for _ in range(args.repeat):
            floors.append(floor(moto, args.workers))
            elapsed, verdicts = scan(trust, args.workers, budget)
            scans.append(elapsed)
            bases.append(scan(TrustPolicy(), args.workers, budget)[0])
        verified = sum(1 for v in verdicts.values() if v["verified"] is True)
        by_checksum = sum(1 for v in verdicts.values() if v.get("digests_from") == "S3 checksum")
        assert verified == args.models, verdicts
        best_scan, best_base, best_floor = min(scans), min(bases), min(floors)
        cost = best_scan - best_base
        plain = args.models - by_checksum
        print(f"scan:  {best_scan:.2f} s ({verified} verified, {by_checksum} by S3 checksum)")
        print(f"the same scan trusting nobody: {best_base:.2f} s")
        print(f"verification: {cost:.2f} s")
        print(f"floor: {best_floor:.2f} s (GET + sha256 of the {plain} models without checksums)")
        print(f"ratio: {cost / best_floor:.2f}")
        small = scan(trust, args.workers, 64 * 1024)[1]
        still = sum(1 for v in small.values() if v["verified"] is True)
        print(f"with a 64 KiB budget: {still} of {args.models} still verified (by checksum)")


if __name__ == "__main__":
    main()
