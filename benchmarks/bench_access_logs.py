"""`access-logs:` over millions of records in bounded memory, with a floor measured in the same
run.

Writes N S3 server access log records (and M CloudTrail records) in the documented formats,
gzipped, spread over 90 days, 3 buckets, 60 principals and 300 model directories; then, each in
a child process of its own so that its peak RSS is its own:
- the floor: DuckDB reading the same files line by line (decompression and line splitting, the
  least any reader must do) and counting them, under the same memory cap;
- the source: the whole `access-logs:` collection (parse, normalise, the shared aggregation,
  summaries, bulk detection) under `memory_limit`.
Prints records per second, peak RSS and the source/floor ratio per format. Run:
`python -m benchmarks.bench_access_logs [--records 10000000] [--cloudtrail-records 1000000]
[--memory-limit 512MB]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

END = dt.datetime(2024, 6, 30, tzinfo=dt.UTC)
ACCOUNT = "111122223333"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
PER_FILE = 200_000


def _population(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(bucket, key, requester, ip) combinations the records draw from."""
    out = []
    for p in range(60):
        role = p % 3 != 0
        requester = (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/svc-{p}/session-{p}"
            if role
            else f"arn:aws:iam::{ACCOUNT}:user/person-{p}"
        )
        ip = f"10.{p}.1.{p % 250}" if p % 7 else f"203.0.113.{p}"
        for _ in range(20):
            bucket = f"models-{rng.randrange(3)}"
            d = rng.randrange(300)
            name = rng.choice(("model.safetensors", "config.json", "model.onnx", "MLmodel"))
            out.append((bucket, f"team-{d % 12}/model-{d}/v{d % 5}/{name}", requester, ip))
    return out


def write_server_access(root: Path, n: int, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    pop = _population(rng)
    start = END.timestamp() - 90 * 86400
    files = []
    for part in range(0, n, PER_FILE):
        count = min(PER_FILE, n - part)
        path = root / f"sal-{part // PER_FILE:05d}.gz"
        with gzip.open(path, "wt", compresslevel=1) as out:
            for i in range(count):
                bucket, key, who, ip = pop[rng.randrange(len(pop))]
                when = dt.datetime.fromtimestamp(start + rng.random() * 90 * 86400, dt.UTC)
                size = rng.randrange(1, 4_000_000_000) if key.endswith("s") else 800
                out.write(
                    f"{OWNER} {bucket} [{when:%d/%b/%Y:%H:%M:%S} +0000] {ip} {who} "
                    f'{part + i:016X} REST.GET.OBJECT {key} "GET /{bucket}/{key} HTTP/1.1" '
                    f'200 - {size} {size} 12 4 "-" "aws-cli/2.15 Python/3.11 Linux/6.1" - '
                    f"h0st1d= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
                    f"{bucket}.s3.eu-west-1.amazonaws.com TLSv1.2 - -\n"
                )
        files.append(path)
    return files


def write_cloudtrail(root: Path, n: int, seed: int = 2) -> list[Path]:
    rng = random.Random(seed)
    pop = _population(rng)
    start = END.timestamp() - 90 * 86400
    files = []
    per_file = 5_000  # CloudTrail delivers many small files
    for part in range(0, n, per_file):
        records = []
        for _ in range(min(per_file, n - part)):
            bucket, key, who, ip = pop[rng.randrange(len(pop))]
            when = dt.datetime.fromtimestamp(start + rng.random() * 90 * 86400, dt.UTC)
            role = ":assumed-role/" in who
            identity = (
                {
                    "type": "AssumedRole",
                    "arn": who,
                    "accountId": ACCOUNT,
                    "sessionContext": {
                        "sessionIssuer": {
                            "type": "Role",
                            "arn": f"arn:aws:iam::{ACCOUNT}:role/{who.split('/')[1]}",
                        }
                    },
                }
                if role
                else {"type": "IAMUser", "arn": who, "accountId": ACCOUNT}
            )
            records.append(
                {
                    "eventVersion": "1.09",
                    "userIdentity": identity,
                    "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "eventSource": "s3.amazonaws.com",
                    "eventName": "GetObject",
                    "awsRegion": "eu-west-1",
                    "sourceIPAddress": ip,
                    "userAgent": "[aws-cli/2.15]",
                    "requestParameters": {"bucketName": bucket, "key": key},
                    "additionalEventData": {"bytesTransferredOut": float(rng.randrange(1, 10**9))},
                    "readOnly": True,
                    "eventType": "AwsApiCall",
                    "managementEvent": False,
                    "recipientAccountId": ACCOUNT,
                    "eventCategory": "Data",
                }
            )
        path = root / f"ct-{part // per_file:06d}.json.gz"
        path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode(), 1))
        files.append(path)
    return files


def child_floor(target: str, memory_limit: str) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    files = sorted(str(p) for p in Path(target).iterdir())
    t0 = time.perf_counter()
    if files[0].endswith(".json.gz"):
        sql = (
            f"SELECT sum(json_array_length(json, '$.Records')) FROM read_json_objects({files}, "
            f"maximum_object_size = 33554432)"
        )
    else:
        sql = (
            f"SELECT count(*) FROM read_csv({files}, columns = {{'line': 'VARCHAR'}}, "
            f"delim = '\x1f', quote = '', escape = '', header = false, auto_detect = false)"
        )
    (count,) = con.execute(sql).fetchone()  # type: ignore[misc]
    return {"seconds": time.perf_counter() - t0, "records": float(count)}


def child_source(target: str, memory_limit: str) -> dict[str, float]:
    from scanner.sources.registry import build_source, parse_spec

    spec = parse_spec(
        f"access-logs:{target}",
        options={"window_end": END.isoformat(), "memory_limit": memory_limit},
    )
    t0 = time.perf_counter()
    collection = build_source(spec).collect(lambda _m: None)
    seconds = time.perf_counter() - t0
    assert not collection.problems, collection.problems[:3]
    (log,) = collection.resources
    reads = sum(b["read_events"] for b in log.attributes["buckets"])
    return {
        "seconds": seconds,
        "records": float(log.attributes["coverage"]["records"]),
        "reads": float(reads),
        "buckets": float(len(log.attributes["buckets"])),
    }


def _measure(kind: str, target: Path, memory_limit: str) -> dict[str, float]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_access_logs",
            "--child",
            kind,
            str(target),
            "--memory-limit",
            memory_limit,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(proc.stderr)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _report(fmt: str, records: int, size: int, memory_limit: str, target: Path) -> None:
    _measure("floor", target, memory_limit)  # warm the page cache for both contenders
    floor = _measure("floor", target, memory_limit)
    source = _measure("source", target, memory_limit)
    assert int(source["records"]) == records == int(floor["records"]), (source, floor)
    rate = records / source["seconds"]
    print(f"{fmt}: {records:,} records in {size / 1e6:.0f} MB of gzip files")
    print(
        f"  floor (DuckDB reads and counts them): {floor['seconds']:.1f} s, "
        f"peak RSS {floor['rss_mb']:.0f} MB"
    )
    print(
        f"  access-logs source (memory_limit {memory_limit}): {source['seconds']:.1f} s, "
        f"{rate:,.0f} records/s, peak RSS {source['rss_mb']:.0f} MB, "
        f"{int(source['buckets'])} buckets, {int(source['reads']):,} reads"
    )
    print(f"  ratio source/floor: {source['seconds'] / floor['seconds']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--cloudtrail-records", type=int, default=1_000_000)
    ap.add_argument("--memory-limit", default="512MB")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "TARGET"))
    args = ap.parse_args()
    if args.child:
        kind, target = args.child
        fn = child_floor if kind == "floor" else child_source
        out = fn(target, args.memory_limit)
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="bench-access-logs-") as tmp:
        for fmt, n, writer in (
            ("s3-server-access", args.records, write_server_access),
            ("cloudtrail", args.cloudtrail_records, write_cloudtrail),
        ):
            if n <= 0:
                continue
            target = Path(tmp) / fmt
            target.mkdir()
            t0 = time.perf_counter()
            files = writer(target, n)
            size = sum(f.stat().st_size for f in files)
            print(
                f"{fmt}: wrote {n:,} records in {len(files)} files in "
                f"{time.perf_counter() - t0:.0f} s"
            )
            _report(fmt, n, size, args.memory_limit, target)


if __name__ == "__main__":
    main()
