"""Which CloudTrail selectors record reads of every model object (pure logic, no server)."""

from __future__ import annotations

import pytest

from scanner.inventory import Unknown
from scanner.sources.aws.cloudtrail import Trail, all_buckets

SPACE = ["arn:aws:s3:::models/fraud/", "arn:aws:s3:::models/churn/"]


def trail(basic=(), advanced=()):
    return Trail(
        arn="arn:aws:cloudtrail:us-east-1:1:trail/t",
        name="t",
        account="1",
        home_region="us-east-1",
        multi_region=False,
        log_validation=False,
        organization=False,
        bucket=None,
        enabled=True,
        basic=list(basic),
        advanced=list(advanced),
    )


def basic(*values, rw="All", kind="AWS::S3::Object"):
    return {"ReadWriteType": rw, "DataResources": [{"Type": kind, "Values": list(values)}]}


def advanced(*fields):
    return {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            *fields,
        ]
    }


@pytest.mark.parametrize(
    ("selector", "covers"),
    [
        (basic("arn:aws:s3"), True),
        (basic("arn:aws:s3:::models/"), True),
        (basic("arn:aws:s3:::models/fraud/"), False),  # churn is not under it
        (basic("arn:aws:s3:::models/fraud/", "arn:aws:s3:::models/churn/"), True),
        (basic("arn:aws:s3:::models/", rw="WriteOnly"), False),
        (basic("arn:aws:s3:::models/", rw="ReadOnly"), True),
        (basic("arn:aws:s3", kind="AWS::Lambda::Function"), False),
    ],
)
def test_basic_selectors(selector, covers):
    assert trail(basic=[selector]).covers(SPACE) is covers


@pytest.mark.parametrize(
    ("fields", "covers"),
    [
        ((), True),
        (({"Field": "readOnly", "Equals": ["true"]},), True),
        (({"Field": "readOnly", "Equals": ["false"]},), False),
        (({"Field": "eventName", "Equals": ["GetObject", "PutObject"]},), True),
        (({"Field": "eventName", "NotEquals": ["GetObject"]},), False),
        (({"Field": "eventName", "StartsWith": ["Get"]},), True),
        (({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::models/"]},), True),
        (({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::models/fraud/"]},), False),
        (({"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::logs/"]},), True),
        (({"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::models/churn/x"]},), False),
        (({"Field": "resources.ARN", "Equals": ["arn:aws:s3:::models/fraud/m.pt"]},), False),
        (({"Field": "resources.ARN", "EndsWith": [".pt"]},), False),
        (({"Field": "userIdentity.arn", "Equals": ["x"]},), False),  # not modelled: fail closed
    ],
)
def test_advanced_selectors(fields, covers):
    assert trail(advanced=[advanced(*fields)]).covers(SPACE) is covers


def test_advanced_selector_needs_data_events_on_objects():
    only_category = {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}
    assert trail(advanced=[only_category]).covers(SPACE) is False
    management = {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ]
    }
    assert trail(advanced=[management]).covers(SPACE) is False


def test_all_buckets_and_unreadable_selectors():
    assert all_buckets(trail(basic=[basic("arn:aws:s3")])) is True
    assert all_buckets(trail(basic=[basic("arn:aws:s3:::models/")])) is False
    assert all_buckets(trail(advanced=[advanced()])) is True
    t = trail()
    t.basic = Unknown("denied: cloudtrail:GetEventSelectors")
    assert t.covers(SPACE) == Unknown("denied: cloudtrail:GetEventSelectors")
