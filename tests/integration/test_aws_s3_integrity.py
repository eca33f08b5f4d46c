"""Pickle-based model files in S3 are downloaded within a budget and scanned, never loaded."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest

from tests.aws_estate import attrs, scan

# Protocol 0, written by hand: loading it would run a shell command. Nothing here loads it.
EVIL = b"cos\nsystem\n(S'echo pwned'\ntR."


@pytest.fixture(scope="module")
def estate(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="ml-pickles")
    s3.put_object(Bucket="ml-pickles", Key="evil/model.pkl", Body=EVIL)
    benign = pickle.dumps(OrderedDict(weight=[0.1, 0.2]), protocol=4)
    s3.put_object(Bucket="ml-pickles", Key="benign/model.pkl", Body=benign)
    return moto


def test_malicious_pickle_in_s3_is_flagged_and_a_benign_one_is_clean(estate):
    resources, problems, _ = scan(estate)
    assert problems == []
    evil = attrs(resources["s3://ml-pickles/evil"])["serialization"]
    assert evil["pickle_based"] is True
    assert len(evil["unsafe"]) == 1
    assert "system" in evil["unsafe"][0]["global"]
    benign = attrs(resources["s3://ml-pickles/benign"])["serialization"]
    assert benign["unsafe"] == []


def test_over_the_byte_budget_stays_unknown(estate):
    resources, _, _ = scan(estate, "aws:integrity_max_bytes=8")
    unsafe = attrs(resources["s3://ml-pickles/evil"])["serialization"]["unsafe"]
    assert "$unknown" in unsafe and "budget" in unsafe["$unknown"]
