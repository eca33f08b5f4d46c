"""`aws:` spec and options: parsing, validation, config options."""

from __future__ import annotations

import pytest

from scanner.errors import UsageError
from scanner.sources.aws.options import OPTION_NAMES, AwsOptions, parse_options
from scanner.sources.registry import OPTIONS, build_source, parse_spec


def opts(text: str, **config) -> AwsOptions:
    return parse_options(parse_spec(text, options=config))


def test_defaults():
    o = opts("aws:")
    assert o == AwsOptions()
    assert (o.workers, o.max_objects_per_bucket, o.regions, o.role_arns) == (16, 1000, None, ())


def test_spec_options():
    o = opts("aws:profile=prod,regions=eu-west-1+us-east-1,workers=4,max_objects_per_bucket=50")
    assert o.profile == "prod"
    assert o.regions == ("eu-west-1", "us-east-1")
    assert (o.workers, o.max_objects_per_bucket) == (4, 50)
    arns = "arn:aws:iam::111122223333:role/audit+arn:aws:iam::444455556666:role/audit"
    assert len(opts(f"aws:role_arn={arns}").role_arns) == 2
    assert opts("aws:regions=all").all_regions


def test_config_options():
    o = opts("aws:", regions=["eu-west-1"], jit_role_patterns=["breakglass-*"], sniff_bytes=4096)
    assert o.regions == ("eu-west-1",)
    assert o.jit_role_patterns == ("breakglass-*",)
    assert o.sniff_bytes == 4096


@pytest.mark.parametrize(
    ("text", "config", "message"),
    [
        ("aws:regions", {}, "expected KEY=VALUE options"),
        ("aws:region=eu-west-1", {}, "unknown option 'region'"),
        ("aws:regions=Europe", {}, "'Europe' is not a region name"),
        ("aws:role_arn=arn:aws:iam::1:user/x", {}, "is not an IAM role ARN"),
        ("aws:workers=0", {}, "workers must be a positive integer"),
        ("aws:workers=many", {}, "workers must be a positive integer"),
        ("aws:profile=a,profile=b", {}, "option 'profile' is given twice"),
        ("aws:profile=a", {"profile": "b"}, "given both in the spec and in config"),
        ("aws:", {"regions": [1]}, "regions must be a list of strings"),
        ("aws:", {"jit_tag": ""}, "jit_tag must be a non-empty string"),
        ("aws:regions=", {}, "regions is empty"),
    ],
)
def test_bad_options_are_usage_errors(text, config, message):
    with pytest.raises(UsageError, match=message):
        opts(text, **config)


def test_registry_knows_the_same_options():
    assert OPTIONS["aws"] == OPTION_NAMES
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        build_source(parse_spec("aws:", options={"bogus": 1}))
