"""Seeding AWS estates in the moto server through the real APIs, and scanning them."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# Re-exported: the IAM documents are the demo's, so a test's estate and the demo's are alike.
from scanner.demo.aws_estate import policy as policy
from scanner.demo.aws_estate import trust as trust
from scanner.inventory import Inventory, Resource, to_jsonable
from scanner.linking import link
from scanner.sources.aws.source import AwsSource
from scanner.sources.registry import parse_spec
from tests.servers.moto import MotoServer

ACCOUNT = "123456789012"
OTHER = "111122223333"


def safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 4


def pickle_bytes() -> bytes:
    return b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01."  # FRAME of 3 bytes


@contextmanager
def aws_env(moto: MotoServer, **extra: str) -> Iterator[None]:
    """The process environment a user would have: credentials and AWS_ENDPOINT_URL only."""
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            mp.delenv(key)
        for key, value in {
            **moto.env(),
            "AWS_EC2_METADATA_DISABLED": "true",  # never probe an instance-metadata address
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **extra,
        }.items():
            mp.setenv(key, value)
        yield


def scan(moto: MotoServer, spec: str = "aws:", options: dict | None = None, **env: str):
    """Run the aws: source against the emulator; resources by id as linked (what policies
    see: readers of buckets are joined to principals there), problems, the source."""
    with aws_env(moto, **env):
        source = AwsSource(parse_spec(spec, options=options or {}))
        collection = source.collect(lambda _message: None)
    linked = link(Inventory(collection.resources))
    return {r.id: r for r in linked}, list(collection.problems), source


def attrs(resource: Resource) -> dict[str, Any]:
    """Attributes as plain JSON data ({"$ref": id}, {"$unknown": reason})."""
    return to_jsonable(dict(resource.attributes))
