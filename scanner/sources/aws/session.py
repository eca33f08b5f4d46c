"""boto3 sessions for the accounts to scan, and the regions to scan in each.

The endpoint is whatever boto3 itself resolves (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`,
`endpoint_url` in the profile): the scanner never passes one, so it behaves exactly as the
AWS CLI would with the same environment. The one non-read call of the whole source is
`sts:AssumeRole` for `role_arn=`: it issues credentials and changes nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from scanner.errors import UsageError
from scanner.inventory import Unknown
from scanner.sources.aws import organization
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.options import AwsOptions
from scanner.sources.aws.organization import Candidate
from scanner.sources.interface import SourceError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Account:
    account: str
    session: Any
    label: str  # "account 123456789012" or the role ARN


_LOADER: Any = None
_LOADER_LOCK = threading.Lock()


def new_session(**kwargs: Any) -> Any:
    """A boto3 session sharing one botocore data loader with every other session made here.

    Each session otherwise parses every service model JSON again (~0.3 s per service); the
    loader only caches the shipped, read-only model files, so sharing it is safe.
    """
    import boto3
    import botocore.loaders
    import botocore.session

    global _LOADER
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = botocore.loaders.create_loader()
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, **kwargs)


def base_session(text: str, options: AwsOptions) -> Any:
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = new_session(profile_name=options.profile)
    except ProfileNotFound as exc:
        raise UsageError(f"source {text!r}: {exc}") from None
    except BotoCoreError as exc:  # a malformed config file
        raise UsageError(f"source {text!r}: cannot load the AWS configuration: {exc}") from None
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise UsageError(f"source {text!r}: cannot load AWS credentials: {exc}") from None
    if credentials is None:
        raise UsageError(
            f"source {text!r}: no AWS credentials found (set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or give aws:profile=NAME)"
        )
    return session


def _failure(text: str, exc: Exception) -> SourceError:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        raise UsageError(f"source {text!r}: no AWS credentials found") from None
    if isinstance(exc, EndpointConnectionError):
        return SourceError(f"source {text!r}: cannot reach the AWS endpoint: {exc}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "error")
        return SourceError(f"source {text!r}: credentials rejected or call failed ({code})")
    return SourceError(f"source {text!r}: {type(exc).__name__}: {exc}")


def _probe_config(options: AwsOptions) -> Any:
    from botocore.config import Config

    # The first call doubles as the reachability probe: few retries, so an endpoint that is
    # down fails in seconds rather than after the full adaptive back-off.
    return Config(retries={"max_attempts": min(options.max_attempts, 3)}, connect_timeout=10)


def candidates(text: str, options: AwsOptions, session: Any) -> tuple[list[Candidate], list[str]]:
    """The accounts the options name, in account-id order, and problems reading that list."""
    from botocore.exceptions import BotoCoreError, ClientError

    region = session.region_name or DEFAULT_REGION
    found: list[Candidate]
    problems: list[str] = []
    if options.org:
        found, problems = organization.accounts(
            text, options, session, region, _probe_config(options)
        )
    elif options.role_arns:
        found = [Candidate(arn.split(":")[4], arn, arn) for arn in options.role_arns]
    else:
        sts = session.client("sts", region_name=region, config=_probe_config(options))
        try:
            identity = sts.get_caller_identity()
        except (BotoCoreError, ClientError) as exc:
            raise _failure(text, exc) from None
        account = str(identity["Account"])
        found = [Candidate(account, f"account {account}")]
    if options.accounts:
        found = [c for c in found if c.account in options.accounts]
    found = [c for c in found if c.account not in options.exclude_accounts]
    return sorted(found, key=lambda c: (c.account, c.label)), problems


def assume(candidate: Candidate, options: AwsOptions, session: Any) -> Account | str:
    """A session in the candidate's account, or the one-line reason it could not be had."""
    from botocore.exceptions import BotoCoreError, ClientError

    if candidate.role_arn is None:
        return Account(candidate.account, session, candidate.label)
    region = session.region_name or DEFAULT_REGION
    sts = session.client("sts", region_name=region, config=_probe_config(options))
    params: dict[str, Any] = {"RoleArn": candidate.role_arn, "RoleSessionName": "modelward-scan"}
    if options.external_id is not None:
        params["ExternalId"] = options.external_id
    try:
        creds = sts.assume_role(**params)["Credentials"]
    except (BotoCoreError, ClientError) as exc:
        return f"{candidate.role_arn}: cannot assume role ({_code(exc)})"
    assumed = new_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    return Account(candidate.account, assumed, candidate.label)


def all_failed(text: str, reasons: list[str]) -> SourceError:
    return SourceError(f"source {text!r}: no account could be read: {reasons[0]}")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(exc).__name__)


def regions(ctx: AwsContext, options: AwsOptions) -> tuple[list[str], list[str]]:
    """Regions to scan in this account, and problems (unknown or disabled regions)."""
    default = ctx.session.region_name or DEFAULT_REGION
    if options.regions is None:
        return [default], []
    if options.all_regions:
        answer = ctx.call("ec2", default, "describe_regions")
        if isinstance(answer, Unknown) or answer is None:
            reason = answer.reason if isinstance(answer, Unknown) else "no answer"
            return [default], [
                f"account {ctx.account}: cannot list regions ({reason}); scanned {default} only"
            ]
        return sorted(r["RegionName"] for r in answer.get("Regions", [])), []
    answer = ctx.call("ec2", default, "describe_regions", AllRegions=True)
    if isinstance(answer, Unknown) or answer is None:
        return list(options.regions), []  # cannot check: trust the user's list
    status = {r["RegionName"]: r.get("OptInStatus", "") for r in answer.get("Regions", [])}
    keep: list[str] = []
    problems: list[str] = []
    for region in options.regions:
        if region not in status:
            problems.append(f"account {ctx.account}: region {region} is not an AWS region here")
        elif status[region] == "not-opted-in":
            problems.append(f"account {ctx.account}: region {region} is not enabled; skipped")
        else:
            keep.append(region)
    return keep, problems
