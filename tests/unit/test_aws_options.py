"""`aws:` spec and options: parsing, validation, config options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scanner.errors import UsageError
from scanner.sources.aws.options import AwsOptions, parse_options
from scanner.sources.registry import build_source, parse_spec


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


def test_registry_rejects_an_unknown_option():
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        build_source(parse_spec("aws:", options={"bogus": 1}))


def test_checking_a_config_with_aws_sources_does_not_import_boto3(tmp_path):
    # The `prepare` step checks every source's options before any source runs; an install
    # whose config names an aws: source must not pay for (or need) boto3 to be told of a typo.
    config = tmp_path / "modelward.yaml"
    config.write_text(
        "sources:\n"
        "  - spec: aws:profile=prod\n"
        "    options: {regions: [eu-west-1], workers: 4}\n"
        "  - spec: 'aws:'\n"
        "    options: {bogus: 1}\n"
    )
    code = (
        "import sys\n"
        "from scanner.config import load_config\n"
        "from scanner.errors import UsageError\n"
        "from scanner.sources.registry import build_source\n"
        f"config = load_config({str(config)!r})\n"
        "good, bad = config.sources\n"
        "build_source(good)\n"
        "try:\n"
        "    build_source(bad)\n"
        "except UsageError as exc:\n"
        "    print(exc)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rejected, loaded = done.stdout.strip().splitlines()
    assert "unknown option 'bogus'" in rejected
    assert loaded == "[]"
