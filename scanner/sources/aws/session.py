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
from scanner.sources.aws import answers, organization
from scanner.sources.aws.context import (
    AwsContext,
    classify,
    client_config,
    error_code,
    install_checks,
)
from scanner.sources.aws.options import AwsOptions
from scanner.sources.aws.organization import Candidate
from scanner.sources.faults import Fault, FaultKind
from scanner.sources.interface import SourceError
from scanner.sources.watch import CallWatch

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


def _failure(text: str, fault: Fault) -> SourceError:
    """The one line a failed credential check is, naming the operation and the fault."""
    if fault.kind is FaultKind.DENIED:
        return SourceError(f"source {text!r}: credentials rejected ({fault.operation} denied)")
    if fault.kind is FaultKind.UNREACHABLE:
        why = f" ({fault.detail})" if fault.detail else ""
        return SourceError(
            f"source {text!r}: cannot reach the AWS endpoint{why}: {fault.operation} failed"
        )
    return SourceError(f"source {text!r}: cannot check the credentials: {fault.reason}")


def _client_config(options: AwsOptions) -> Any:
    # The same adaptive retries and timeouts as every other call of the source: an endpoint
    # that is down fails after two attempts without an answer (`context.GIVE_UP_AFTER`),
    # throttling is retried in full (never read as "credentials rejected").
    return client_config(
        options.max_attempts,
        read_timeout=options.read_timeout,
        connect_timeout=options.connect_timeout,
    )


class _Probe:
    """STS calls made before any context exists: the same retries, timeouts and answer checks
    as every other call of the source (adaptive mode, `max_attempts`), one line per fault."""

    def __init__(self, session: Any, region: str, options: AwsOptions, watch: CallWatch) -> None:
        self.options = options
        self.region = region
        self.client = session.client("sts", region_name=region, config=_client_config(options))
        install_checks(self.client, watch)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """The answer; raises NoCredentialsError (a usage error) or `_ProbeFault`."""
        from botocore.exceptions import NoCredentialsError

        method = {"GetCallerIdentity": "get_caller_identity", "AssumeRole": "assume_role"}
        model = self.client.meta.service_model.operation_model(operation)
        try:
            answer: dict[str, Any] = getattr(self.client, method[operation])(**params)
            answers.check_fields("sts", model, answer)
        except NoCredentialsError:
            raise
        except Exception as exc:  # every fault of the probe is one line, never a traceback
            name = f"sts:{operation}"
            raise _ProbeFault(
                classify(exc, name, name, self.region, self.options.read_timeout),
                error_code(exc),
            ) from None
        return answer


class _ProbeFault(Exception):
    def __init__(self, fault: Fault, code: str) -> None:
        super().__init__(fault.reason)
        self.fault = fault
        self.code = code  # the service's error code, where it answered with one


def candidates(
    text: str, options: AwsOptions, session: Any, watch: CallWatch | None = None
) -> tuple[list[Candidate], list[str]]:
    """The accounts the options name, in account-id order, and problems reading that list."""
    from botocore.exceptions import NoCredentialsError

    region = session.region_name or DEFAULT_REGION
    found: list[Candidate]
    problems: list[str] = []
    if options.org:
        found, problems = organization.accounts(
            text, options, session, region, _client_config(options)
        )
    elif options.role_arns:
        found = [Candidate(arn.split(":")[4], arn, arn) for arn in options.role_arns]
    else:
        probe = _Probe(session, region, options, watch or CallWatch())
        try:
            identity = probe.call("GetCallerIdentity")
        except NoCredentialsError:
            raise UsageError(f"source {text!r}: no AWS credentials found") from None
        except _ProbeFault as exc:
            raise _failure(text, exc.fault) from None
        account = str(identity["Account"])
        found = [Candidate(account, f"account {account}")]
    if options.accounts:
        found = [c for c in found if c.account in options.accounts]
    found = [c for c in found if c.account not in options.exclude_accounts]
    return sorted(found, key=lambda c: (c.account, c.label)), problems


def assume(
    candidate: Candidate, options: AwsOptions, session: Any, watch: CallWatch | None = None
) -> Account | str:
    """A session in the candidate's account, or the one-line reason it could not be had."""
    from botocore.exceptions import NoCredentialsError

    if candidate.role_arn is None:
        return Account(candidate.account, session, candidate.label)
    region = session.region_name or DEFAULT_REGION
    probe = _Probe(session, region, options, watch or CallWatch())
    params: dict[str, Any] = {"RoleArn": candidate.role_arn, "RoleSessionName": "modelward-scan"}
    if options.external_id is not None:
        params["ExternalId"] = options.external_id
    try:
        creds = probe.call("AssumeRole", **params)["Credentials"]
        assumed = new_session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )
    except NoCredentialsError:
        return f"{candidate.role_arn}: cannot assume role (no AWS credentials found)"
    except _ProbeFault as exc:
        # A denial names the service's code (AccessDenied), as the AWS CLI would; any other
        # fault names the operation and what went wrong with it.
        why = exc.code if exc.fault.kind is FaultKind.DENIED else exc.fault.reason
        return f"{candidate.role_arn}: cannot assume role ({why})"
    except (KeyError, TypeError):
        why = Fault(FaultKind.MALFORMED, "sts:AssumeRole", "no credentials in it").reason
        return f"{candidate.role_arn}: cannot assume role ({why})"
    return Account(candidate.account, assumed, candidate.label)


def all_failed(text: str, reasons: list[str]) -> SourceError:
    return SourceError(f"source {text!r}: no account could be read: {reasons[0]}")


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
