"""`aws:` spec and options: `aws:profile=prod,regions=eu-west-1+us-east-1,role_arn=A+B`.

The same keys may come from config (`{spec: aws:, options: {...}}`); how the two merge, and
the shapes lists and numbers take, are `sources.spec_options`'s, shared by every cloud source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec
from scanner.sources.spec_options import (
    flag,
    merged_options,
    positive,
    seconds,
    take_trust,
    text,
    text_list,
)

EXAMPLE = "aws:profile=prod,regions=eu-west-1+us-east-1"
DEFAULT_WORKERS = 16
DEFAULT_MAX_OBJECTS = 1000
DEFAULT_SNIFF_BYTES = 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 8
# Seconds one attempt of a call may wait for its answer, and for a connection.
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_JIT_MAX_SESSION = 3600
DEFAULT_JIT_TAG = "modelward:jit"
# Per artefact: pickle-based model files up to this size are downloaded and scanned.
DEFAULT_INTEGRITY_MAX_BYTES = 64 * 1024 * 1024
# Accounts read at the same time; their calls still share the one pool of `workers`.
DEFAULT_ACCOUNTS_IN_PARALLEL = 4

OPTION_NAMES = frozenset(
    {
        "profile",
        "regions",
        "role_arn",
        "workers",
        "max_objects_per_bucket",
        "sniff_bytes",
        "max_attempts",
        "jit_role_patterns",
        "jit_tag",
        "jit_max_session_seconds",
        "integrity_max_bytes",
        "read_timeout",
        "connect_timeout",
        "org",
        "role_name",
        "external_id",
        "accounts",
        "exclude_accounts",
        "ous",
        "exclude_ous",
        "accounts_in_parallel",
    }
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


@dataclass(frozen=True)
class AwsOptions:
    profile: str | None = None
    regions: tuple[str, ...] | None = None  # None: the session's region; ("all",): all enabled
    role_arns: tuple[str, ...] = ()
    workers: int = DEFAULT_WORKERS
    max_objects_per_bucket: int = DEFAULT_MAX_OBJECTS
    sniff_bytes: int = DEFAULT_SNIFF_BYTES
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    jit_role_patterns: tuple[str, ...] = ()
    jit_tag: str = DEFAULT_JIT_TAG
    jit_max_session_seconds: int = DEFAULT_JIT_MAX_SESSION
    integrity_max_bytes: int = DEFAULT_INTEGRITY_MAX_BYTES
    read_timeout: float = DEFAULT_READ_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    # Who may sign the models in the buckets: the config's `integrity.trust`, handed over by
    # the config loader (never a user option of the source itself).
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    # org=true: every account of the AWS Organization, through `role_name` in each.
    org: bool = False
    role_name: str | None = None
    external_id: str | None = None
    accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    ous: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()
    accounts_in_parallel: int = DEFAULT_ACCOUNTS_IN_PARALLEL

    @property
    def all_regions(self) -> bool:
        return self.regions == ("all",)


def parse_options(spec: SourceSpec) -> AwsOptions:
    spec, trust = take_trust(spec)
    merged = merged_options(spec, OPTION_NAMES, EXAMPLE)
    kw: dict[str, Any] = {}
    if "profile" in merged:
        kw["profile"] = text(spec, "profile", merged["profile"])
    if "regions" in merged:
        regions = text_list(spec, "regions", merged["regions"])
        if regions != ("all",):
            bad = [r for r in regions if not _REGION.match(r)]
            if bad:
                raise UsageError(
                    f"source {spec.text!r}: {bad[0]!r} is not a region name "
                    "(e.g. eu-west-1; or regions=all)"
                )
        kw["regions"] = regions
    if "role_arn" in merged:
        arns = text_list(spec, "role_arn", merged["role_arn"])
        bad = [a for a in arns if not _ROLE_ARN.match(a)]
        if bad:
            raise UsageError(
                f"source {spec.text!r}: {bad[0]!r} is not an IAM role ARN "
                "(arn:aws:iam::ACCOUNT:role/NAME)"
            )
        kw["role_arns"] = arns
    for key in (
        "workers",
        "max_objects_per_bucket",
        "sniff_bytes",
        "max_attempts",
        "jit_max_session_seconds",
        "integrity_max_bytes",
    ):
        if key in merged:
            kw[key] = positive(spec, key, merged[key])
    for key in ("read_timeout", "connect_timeout"):
        if key in merged:
            kw[key] = seconds(spec, key, merged[key])
    if "jit_role_patterns" in merged:
        kw["jit_role_patterns"] = text_list(spec, "jit_role_patterns", merged["jit_role_patterns"])
    if "jit_tag" in merged:
        kw["jit_tag"] = text(spec, "jit_tag", merged["jit_tag"])
    kw.update(_org_options(spec, merged, kw))
    return AwsOptions(**kw, trust=trust)


def _matching(spec: SourceSpec, key: str, value: Any, pattern: re.Pattern[str], what: str) -> Any:
    items = text_list(spec, key, value)
    bad = [i for i in items if not pattern.match(i)]
    if bad:
        raise UsageError(f"source {spec.text!r}: {key}: {bad[0]!r} is not {what}")
    return items


def _org_options(spec: SourceSpec, merged: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any]:
    """org=true and what goes with it; the filters also apply to role_arn lists."""
    out: dict[str, Any] = {}
    org = flag(spec, "org", merged["org"]) if "org" in merged else False
    out["org"] = org
    if "role_name" in merged:
        name = text(spec, "role_name", merged["role_name"])
        if not _ROLE_NAME.match(name):
            raise UsageError(f"source {spec.text!r}: role_name {name!r} is not an IAM role name")
        out["role_name"] = name
    if "external_id" in merged:
        external = text(spec, "external_id", merged["external_id"])
        if not _EXTERNAL_ID.match(external):
            raise UsageError(
                f"source {spec.text!r}: external_id must be 2-1224 characters of letters, "
                "digits and +=,.@:/-"
            )
        out["external_id"] = external
    for key in ("accounts", "exclude_accounts"):
        if key in merged:
            out[key] = _matching(spec, key, merged[key], _ACCOUNT, "a 12-digit account id")
    for key in ("ous", "exclude_ous"):
        if key in merged:
            out[key] = _matching(
                spec, key, merged[key], _OU, "an organizational unit id (ou-...) or root (r-...)"
            )
    if "accounts_in_parallel" in merged:
        out["accounts_in_parallel"] = positive(
            spec, "accounts_in_parallel", merged["accounts_in_parallel"]
        )
    if org and "role_name" not in out:
        raise UsageError(
            f"source {spec.text!r}: org=true needs role_name=NAME, the role to assume in "
            "every account (e.g. ModelwardReadOnly)"
        )
    if org and kw.get("role_arns"):
        raise UsageError(f"source {spec.text!r}: give either org=true or role_arn, not both")
    if not org:
        given = [k for k in ("role_name", "ous", "exclude_ous") if k in merged]
        if given:
            raise UsageError(f"source {spec.text!r}: {given[0]} needs org=true")
    return out
