"""What checking an AWS answer's shape costs, against a floor measured in the same run.

The floor is botocore parsing the answer (which every call pays); measured: the source's own
wire-format check (`scanner.sources.aws.answers.check_body`, the XML or JSON parsed once more)
and field check (`check_fields`), on an S3 ListObjectsV2 page of `--keys` objects and on a
SageMaker Search page of `--records` records - the largest answers the AWS source reads. Run:
`python -m benchmarks.bench_answer_checks [--keys 1000 --records 100 --repeat 5]`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.parsers import create_parser

from scanner.sources.aws.answers import check_body, check_fields


def list_objects_page(keys: int) -> bytes:
    items = "".join(
        f"<Contents><Key>models/m{i}/model.safetensors</Key>"
        f"<LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;e{i}&quot;</ETag>"
        f"<Size>{i}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        for i in range(keys)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>'
        f"<KeyCount>{keys}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        f"{items}</ListBucketResult>"
    ).encode()


def search_page(records: int) -> bytes:
    endpoint = {
        "EndpointName": "e",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e",
        "EndpointConfigName": "c",
        "EndpointStatus": "InService",
        "Tags": [{"Key": "owner", "Value": "team"}],
    }
    return json.dumps({"Results": [{"Endpoint": endpoint}] * records}).encode()


def best(fn: Callable[[], Any], repeat: int, number: int = 20) -> float:
    out = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            fn()
        out = min(out, (time.process_time() - start) / number)
    return out


def measure(service: str, operation: str, body: bytes, repeat: int) -> None:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    parser = create_parser(model.service_model.protocol)
    answer = {"status_code": 200, "headers": {}, "body": body}
    parsed = parser.parse(dict(answer), model.output_shape)
    floor = best(lambda: parser.parse(dict(answer), model.output_shape), repeat)
    wire = best(lambda: check_body(model, answer), repeat)
    fields = best(lambda: check_fields(service, model, parsed), repeat)
    print(
        f"{service}:{operation} ({len(body):,} bytes): botocore parse {floor * 1000:.2f} ms "
        f"(floor); wire check {wire * 1000:.2f} ms, ratio {wire / floor:.3f}; "
        f"field check {fields * 1e6:.1f} us, ratio {fields / floor:.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    measure("s3", "ListObjectsV2", list_objects_page(args.keys), args.repeat)
    measure("sagemaker", "Search", search_page(args.records), args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
