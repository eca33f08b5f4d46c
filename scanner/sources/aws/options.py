"""`aws:` spec and options: `aws:profile=prod,regions=eu-west-1+us-east-1,role_arn=A+B`.

The same keys may come from config (`{spec: aws:, options: {...}}`); a key given in both
places is a usage error rather than a silent precedence rule. Lists use `+` in the spec (a
comma separates options) and YAML lists in config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec

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


def _split_target(spec: SourceSpec) -> dict[str, str]:
    out: dict[str, str] = {}
    target = spec.target.strip()
    if not target:
        return out
    for part in target.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"source {spec.text!r}: expected KEY=VALUE options separated by commas "
                f"(e.g. aws:profile=prod,regions=eu-west-1+us-east-1), got {part.strip()!r}"
            )
        if key in out:
            raise UsageError(f"source {spec.text!r}: option {key!r} is given twice")
        out[key] = value.strip()
    return out


def _list(spec: SourceSpec, key: str, value: Any) -> tuple[str, ...]:
    items = value.split("+") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"source {spec.text!r}: {key} must be a list of strings, got {value!r}")
    cleaned = tuple(i.strip() for i in items if i.strip())
    if not cleaned:
        raise UsageError(f"source {spec.text!r}: {key} is empty")
    return cleaned


def _positive(spec: SourceSpec, key: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"source {spec.text!r}: {key} must be a positive integer, got {value!r}")
    return value


def _seconds(spec: SourceSpec, key: str, value: Any) -> float:
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise UsageError(
            f"source {spec.text!r}: {key} must be a number of seconds from 0 to 3600, got {value!r}"
        )
    return seconds


def _text(spec: SourceSpec, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"source {spec.text!r}: {key} must be a non-empty string")
    return value.strip()


def parse_options(spec: SourceSpec) -> AwsOptions:
    from_target = _split_target(spec)
    config: Mapping[str, Any] = spec.options
    both = sorted(set(from_target) & set(config))
    if both:
        raise UsageError(
            f"source {spec.text!r}: option {both[0]!r} is given both in the spec and in config"
        )
    merged: dict[str, Any] = {**config, **from_target}
    trust = merged.pop("trust", TrustPolicy())
    if not isinstance(trust, TrustPolicy):
        raise UsageError(f"source {spec.text!r}: trust must come from the config's integrity.trust")
    unknown = sorted(set(merged) - OPTION_NAMES)
    if unknown:
        raise UsageError(
            f"source {spec.text!r}: unknown option {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(sorted(OPTION_NAMES))})"
        )
    kw: dict[str, Any] = {}
    if "profile" in merged:
        kw["profile"] = _text(spec, "profile", merged["profile"])
    if "regions" in merged:
        regions = _list(spec, "regions", merged["regions"])
        if regions != ("all",):
            bad = [r for r in regions if not _REGION.match(r)]
            if bad:
                raise UsageError(
                    f"source {spec.text!r}: {bad[0]!r} is not a region name "
                    "(e.g. eu-west-1; or regions=all)"
                )
        kw["regions"] = tuple(dict.fromkeys(regions))
    if "role_arn" in merged:
        arns = _list(spec, "role_arn", merged["role_arn"])
        bad = [a for a in arns if not _ROLE_ARN.match(a)]
        if bad:
            raise UsageError(
                f"source {spec.text!r}: {bad[0]!r} is not an IAM role ARN "
                "(arn:aws:iam::ACCOUNT:role/NAME)"
            )
        kw["role_arns"] = tuple(dict.fromkeys(arns))
    for key in (
        "workers",
        "max_objects_per_bucket",
        "sniff_bytes",
        "max_attempts",
        "jit_max_session_seconds",
        "integrity_max_bytes",
    ):
        if key in merged:
            kw[key] = _positive(spec, key, merged[key])
    for key in ("read_timeout", "connect_timeout"):
        if key in merged:
            kw[key] = _seconds(spec, key, merged[key])
    if "jit_role_patterns" in merged:
        kw["jit_role_patterns"] = _list(spec, "jit_role_patterns", merged["jit_role_patterns"])
    if "jit_tag" in merged:
        kw["jit_tag"] = _text(spec, "jit_tag", merged["jit_tag"])
    kw.update(_org_options(spec, merged, kw))
    return AwsOptions(**kw, trust=trust)


def _flag(spec: SourceSpec, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UsageError(f"source {spec.text!r}: {key} must be true or false, got {value!r}")


def _matching(spec: SourceSpec, key: str, value: Any, pattern: re.Pattern[str], what: str) -> Any:
    items = _list(spec, key, value)
    bad = [i for i in items if not pattern.match(i)]
    if bad:
        raise UsageError(f"source {spec.text!r}: {key}: {bad[0]!r} is not {what}")
    return tuple(dict.fromkeys(items))


def _org_options(spec: SourceSpec, merged: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any]:
    """org=true and what goes with it; the filters also apply to role_arn lists."""
    out: dict[str, Any] = {}
    org = _flag(spec, "org", merged["org"]) if "org" in merged else False
    out["org"] = org
    if "role_name" in merged:
        name = _text(spec, "role_name", merged["role_name"])
        if not _ROLE_NAME.match(name):
            raise UsageError(f"source {spec.text!r}: role_name {name!r} is not an IAM role name")
        out["role_name"] = name
    if "external_id" in merged:
        external = _text(spec, "external_id", merged["external_id"])
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
        out["accounts_in_parallel"] = _positive(
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
