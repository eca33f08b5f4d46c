"""`azure:` spec and options: `azure:subscription=ID[,accounts=a+b]` or `azure:account=NAME`.

Two ways in, because two kinds of user exist:
- `subscription=ID` reads the management plane (Azure Resource Manager: every storage
  account's settings, role assignments, diagnostic settings, Defender for Storage) and each
  account's Blob data plane, with `DefaultAzureCredential`;
- `account=NAME` reads one account's Blob data plane only (what a team without management
  rights can read, and what the Azurite emulator serves): `AZURE_STORAGE_CONNECTION_STRING`
  when set, else DefaultAzureCredential against the account's blob endpoint. Everything the
  management plane would say is then Unknown with that reason.

The same keys may come from config (`{spec: azure:..., options: {...}}`); a key given in both
places is a usage error. Lists use `+` in the spec (a comma separates options) and YAML lists
in config. This module imports no Azure SDK: checking a config loads none of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import merged_options, positive, take_trust, text, text_list

EXAMPLE = "azure:subscription=ID,accounts=a+b or azure:account=NAME"
DEFAULT_WORKERS = 16
DEFAULT_MAX_OBJECTS = 1000
DEFAULT_SNIFF_BYTES = 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_TIMEOUT = 60
DEFAULT_INTEGRITY_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_ENDPOINT_SUFFIX = "core.windows.net"

OPTION_NAMES = frozenset(
    {
        "subscription",
        "accounts",
        "account",
        "arm_endpoint",
        "blob_endpoint",
        "endpoint_suffix",
        "workers",
        "max_objects_per_container",
        "sniff_bytes",
        "integrity_max_bytes",
        "max_attempts",
        "timeout",
    }
)
_INTEGERS = (
    "workers",
    "max_objects_per_container",
    "sniff_bytes",
    "integrity_max_bytes",
    "max_attempts",
    "timeout",
)
_SUBSCRIPTION = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# Storage account names: 3 to 24 lower-case letters and digits (Azure's own rule).
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_SUFFIX = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)+$")


@dataclass(frozen=True)
class AzureOptions:
    subscription: str | None = None  # management plane + data plane
    accounts: tuple[str, ...] | None = None  # only these storage accounts (None: all)
    account: str | None = None  # one account, data plane only
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT  # sovereign clouds; a local shape server in tests
    blob_endpoint: str | None = None  # account mode: the account's blob URL, when not the default
    endpoint_suffix: str = DEFAULT_ENDPOINT_SUFFIX  # `core.usgovcloudapi.net`, ...
    workers: int = DEFAULT_WORKERS
    max_objects_per_container: int = DEFAULT_MAX_OBJECTS
    sniff_bytes: int = DEFAULT_SNIFF_BYTES
    integrity_max_bytes: int = DEFAULT_INTEGRITY_MAX_BYTES
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: int = DEFAULT_TIMEOUT  # seconds to connect and to read one answer
    # Who may sign the models in the containers: the config's `integrity.trust`, handed over
    # by the config loader (never a user option of the source itself).
    trust: TrustPolicy = field(default_factory=TrustPolicy)

    @property
    def management(self) -> bool:
        return self.subscription is not None


def _account_name(spec: SourceSpec, key: str, name: str) -> str:
    if not _ACCOUNT.match(name):
        raise UsageError(
            f"source {spec.text!r}: {name!r} ({key}) is not a storage account name "
            "(3 to 24 lower-case letters and digits)"
        )
    return name


def _url(spec: SourceSpec, key: str, value: Any) -> str:
    url = text(spec, key, value)
    parts = urlsplit(url)
    # Bearer tokens only ever go over TLS (azure-core refuses plain HTTP for them too).
    if parts.scheme != "https" or not parts.hostname:
        raise UsageError(f"source {spec.text!r}: {key} must be an https:// URL, got {url!r}")
    if parts.username or parts.password or parts.query:
        raise UsageError(
            f"source {spec.text!r}: {key} must not carry credentials or a query (give them "
            "through the credential chain or AZURE_STORAGE_CONNECTION_STRING)"
        )
    return url.rstrip("/")


def parse_options(spec: SourceSpec) -> AzureOptions:
    spec, trust = take_trust(spec)
    merged = merged_options(spec, OPTION_NAMES, EXAMPLE)
    has_sub, has_account = "subscription" in merged, "account" in merged
    if has_sub == has_account:
        raise UsageError(
            f"source {spec.text!r}: give either subscription=ID (management and data plane) "
            "or account=NAME (one storage account's data plane), not "
            + ("both" if has_sub else "neither")
        )
    kw: dict[str, Any] = {"trust": trust}
    if has_sub:
        sub = text(spec, "subscription", merged["subscription"])
        if not _SUBSCRIPTION.match(sub):
            raise UsageError(
                f"source {spec.text!r}: {sub!r} is not a subscription id (a GUID such as "
                "00000000-0000-0000-0000-000000000000)"
            )
        kw["subscription"] = sub.lower()
        if "blob_endpoint" in merged:
            raise UsageError(
                f"source {spec.text!r}: blob_endpoint is for account=NAME; with a subscription "
                "each account's blob endpoint comes from its management-plane properties"
            )
    else:
        kw["account"] = _account_name(spec, "account", text(spec, "account", merged["account"]))
        for key in ("accounts", "arm_endpoint"):
            if key in merged:
                raise UsageError(
                    f"source {spec.text!r}: {key} needs subscription=ID (account=NAME reads "
                    "the data plane only)"
                )
    if "accounts" in merged:
        names = text_list(spec, "accounts", merged["accounts"])
        kw["accounts"] = tuple(_account_name(spec, "accounts", n) for n in names)
    if "arm_endpoint" in merged:
        kw["arm_endpoint"] = _url(spec, "arm_endpoint", merged["arm_endpoint"])
    if "blob_endpoint" in merged:
        kw["blob_endpoint"] = _url(spec, "blob_endpoint", merged["blob_endpoint"])
    if "endpoint_suffix" in merged:
        suffix = text(spec, "endpoint_suffix", merged["endpoint_suffix"]).lower()
        if not _SUFFIX.match(suffix):
            raise UsageError(
                f"source {spec.text!r}: {suffix!r} is not a storage endpoint suffix "
                "(e.g. core.windows.net, core.usgovcloudapi.net)"
            )
        kw["endpoint_suffix"] = suffix
    for key in _INTEGERS:
        if key in merged:
            kw[key] = positive(spec, key, merged[key])
    return AzureOptions(**kw)
