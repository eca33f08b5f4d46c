"""`azure:` specs and options: every bad input is a one-line usage error naming the source."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scanner.errors import UsageError
from scanner.sources.azure.options import AzureOptions, parse_options
from scanner.sources.interface import SourceSpec
from scanner.sources.registry import parse_spec

SUB = "3f2a8c10-0000-4000-8000-00000000a2e5"


def parse(text: str, **options: object) -> AzureOptions:
    return parse_options(parse_spec(text, options=options))


def test_subscription_with_accounts_and_options():
    opts = parse(f"azure:subscription={SUB.upper()},accounts=a1b+c2d+a1b", workers=4)
    assert (opts.subscription, opts.accounts, opts.workers) == (SUB, ("a1b", "c2d"), 4)
    assert opts.management and opts.account is None
    assert opts.arm_endpoint == "https://management.azure.com"


def test_account_mode_and_sovereign_cloud():
    opts = parse("azure:account=models01", endpoint_suffix="core.usgovcloudapi.net")
    assert (opts.account, opts.management, opts.endpoint_suffix) == (
        "models01",
        False,
        "core.usgovcloudapi.net",
    )


def test_config_lists_and_numbers():
    opts = parse(f"azure:subscription={SUB}", accounts=["a1b"], max_objects_per_container="50")
    assert (opts.accounts, opts.max_objects_per_container) == (("a1b",), 50)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("azure:", {}, "give either subscription=ID"),
        (f"azure:subscription={SUB},account=abc", {}, "not both"),
        ("azure:subscription=nope", {}, "'nope' is not a subscription id"),
        ("azure:account=Bad_Name", {}, "'Bad_Name' (account) is not a storage account name"),
        (f"azure:subscription={SUB},accounts=ok1+x", {}, "'x' (accounts) is not a storage"),
        ("azure:account=abc,accounts=abd", {}, "accounts needs subscription=ID"),
        ("azure:account=abc,arm_endpoint=https://h", {}, "arm_endpoint needs subscription"),
        (f"azure:subscription={SUB},blob_endpoint=https://h", {}, "blob_endpoint is for account"),
        (f"azure:subscription={SUB},arm_endpoint=http://h", {}, "must be an https:// URL"),
        ("azure:account=abc,blob_endpoint=https://u:p@h", {}, "must not carry credentials"),
        ("azure:account=abc,blob_endpoint=https://h/?sig=x", {}, "must not carry credentials"),
        ("azure:account=abc,endpoint_suffix=x", {}, "is not a storage endpoint suffix"),
        ("azure:account=abc,workers=0", {}, "workers must be a positive integer"),
        ("azure:account=abc,workers=2", {"workers": 3}, "given both in the spec and in config"),
        ("azure:account=abc,colour=red", {}, "unknown option 'colour'"),
        ("azure:account=abc,account=abd", {}, "option 'account' is given twice"),
        ("azure:account", {}, "expected KEY=VALUE options"),
        (f"azure:subscription={SUB}", {"accounts": "   "}, "accounts is empty"),
    ],
)
def test_bad_specs_are_usage_errors(text, options, message):
    with pytest.raises(UsageError, match=None) as caught:
        parse_options(SourceSpec("azure", text.partition(":")[2], text, options))
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"source {text!r}:")


def test_checking_a_config_loads_no_azure_sdk():
    """The registry's option list comes from the options module, which imports no SDK."""
    code = (
        "import sys; from scanner.sources.registry import OPTIONS; "
        "assert 'subscription' in OPTIONS['azure']; "
        "print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
