"""CloudTrail → audit_trail, and storage.access_logging.read_events (moto)."""

from __future__ import annotations

import pytest

from tests.aws_estate import ACCOUNT, attrs, policy, safetensors, scan

pytestmark = pytest.mark.slow

TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail"


def _data(*values: str, rw: str = "All") -> list[dict]:
    return [
        {
            "ReadWriteType": rw,
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": list(values)}],
        }
    ]


def _advanced(*fields: dict) -> list[dict]:
    return [
        {
            "Name": "s3 reads",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                *fields,
            ],
        }
    ]


@pytest.fixture(scope="module")
def estate(moto):
    s3 = moto.client("s3")
    ct = moto.client("cloudtrail")
    s3.create_bucket(Bucket="trail-logs")
    s3.put_bucket_policy(
        Bucket="trail-logs",
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                "Resource": ["arn:aws:s3:::trail-logs", "arn:aws:s3:::trail-logs/*"],
            }
        ),
    )
    for name in ("basic-read", "basic-write", "advanced", "uncovered", "prefix"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="models/a/model.safetensors", Body=safetensors())

    def trail(name: str, start: bool = True, **kw) -> None:
        ct.create_trail(Name=name, S3BucketName="trail-logs", **kw)
        if start:
            ct.start_logging(Name=name)

    trail("basic", IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName="basic", EventSelectors=_data("arn:aws:s3:::basic-read/"))
    trail("writes")
    ct.put_event_selectors(
        TrailName="writes", EventSelectors=_data("arn:aws:s3:::basic-write/", rw="WriteOnly")
    )
    trail("adv")
    ct.put_event_selectors(
        TrailName="adv",
        AdvancedEventSelectors=_advanced(
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::advanced/"]},
            {"Field": "readOnly", "Equals": ["true"]},
        ),
    )
    trail("partial")
    ct.put_event_selectors(TrailName="partial", EventSelectors=_data("arn:aws:s3:::prefix/models/"))
    trail("stopped", start=False)
    ct.put_event_selectors(TrailName="stopped", EventSelectors=_data("arn:aws:s3"))
    resources, problems, _ = scan(moto)
    return resources, problems


def read_events(estate, bucket):
    return attrs(estate[0][f"s3://{bucket}"])["access_logging"]["read_events"]


def test_trails_become_audit_trails(estate):
    resources, problems = estate
    assert problems == []
    basic = attrs(resources[f"{TRAIL}/basic"])
    assert basic["enabled"] is True and basic["multi_region"] is True
    assert basic["log_validation"] is True
    assert basic["read_events_on"] == [{"$ref": "s3://basic-read"}]
    assert basic["all_buckets_read_events"] is False
    stopped = attrs(resources[f"{TRAIL}/stopped"])
    assert stopped["enabled"] is False and stopped["all_buckets_read_events"] is True
    assert attrs(resources[f"{TRAIL}/writes"])["log_validation"] is False


def test_read_events_from_basic_and_advanced_selectors(estate):
    assert read_events(estate, "basic-read") is True
    assert read_events(estate, "basic-write") is False  # write-only selector
    assert read_events(estate, "advanced") is True
    assert read_events(estate, "uncovered") is False  # only the stopped trail covers it
    assert read_events(estate, "prefix") is True  # the prefix holds every model directory


def test_a_selector_that_misses_the_models_does_not_count(moto, estate):
    moto.client("s3").put_object(
        Bucket="prefix", Key="other/b/model.safetensors", Body=safetensors()
    )
    resources, _, _ = scan(moto)
    assert attrs(resources["s3://prefix"])["access_logging"]["read_events"] is False


def test_advanced_selector_excluding_reads(moto, estate):
    ct = moto.client("cloudtrail")
    ct.put_event_selectors(
        TrailName="adv",
        AdvancedEventSelectors=_advanced({"Field": "readOnly", "Equals": ["false"]}),
    )
    resources, _, _ = scan(moto)
    assert attrs(resources["s3://advanced"])["access_logging"]["read_events"] is False
    ct.put_event_selectors(TrailName="adv", AdvancedEventSelectors=_advanced())
    resources, _, _ = scan(moto)
    assert attrs(resources["s3://uncovered"])["access_logging"]["read_events"] is True
    assert attrs(resources[f"{TRAIL}/adv"])["all_buckets_read_events"] is True
