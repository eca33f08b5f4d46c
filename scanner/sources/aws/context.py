"""One place where the AWS source talks to boto3: clients, read-only calls, denial handling.

Every collector (S3, IAM, CloudTrail, SageMaker, API Gateway, EC2, GuardDuty) goes through
`AwsContext.call` / `AwsContext.pages`, so three rules hold everywhere without each collector
re-implementing them:

- **Read-only.** Only operations whose name starts with a read verb are allowed; anything
  else raises before a request is made (a test asserts the emulator's state is unchanged).
- **Denied is Unknown, not fatal.** AccessDenied (and kin) on one call becomes
  `Unknown("denied: s3:GetBucketPolicy")`, naming the IAM action so the user learns which
  permission the scanner lacks; throttling past botocore's adaptive retries likewise.
- **"Not configured" is not an error.** Codes such as `NoSuchBucketPolicy` mean the setting is
  absent; callers list them in `absent=` and get `None`.

Calls are counted per operation (benchmarks print calls per bucket).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from scanner.inventory import Unknown
from scanner.sources.pool import shared_map

T = TypeVar("T")
R = TypeVar("R")

# `search` itself is an operation (SageMaker Search), so it is a prefix without the underscore.
READ_VERBS = ("get_", "list_", "describe_", "head_", "search", "lookup_", "batch_get_")

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "Forbidden",
        "403",
        "InvalidClientTokenId",
        "AllAccessDisabled",
    }
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "RequestThrottled",
    }
)
# A region that is not enabled for the account answers with one of these: noted, not fatal.
REGION_DISABLED_CODES = frozenset({"OptInRequired", "UnrecognizedClientException"})

# IAM action names that differ from "<prefix>:<OperationName>".
ACTION_OVERRIDES: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "GetBucketPolicyStatus"): "s3:GetBucketPolicyStatus",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("apigateway", "GetRestApis"): "apigateway:GET",
}


class AwsCallError(Exception):
    """A call failed in a way that is neither a denial, throttling nor an absent setting."""

    def __init__(self, action: str, code: str, message: str) -> None:
        super().__init__(f"{action}: {code}: {message}")
        self.action = action
        self.code = code


def iam_action(service: str, operation: str) -> str:
    prefix = {"s3control": "s3"}.get(service, service)
    return ACTION_OVERRIDES.get((service, operation), f"{prefix}:{operation}")


def _local_host_prefix(request: Any, **_: Any) -> None:
    """S3 Control puts the account id in the host (`ACCOUNT.s3-control.REGION.amazonaws.com`).

    Against a local endpoint (`AWS_ENDPOINT_URL=http://127.0.0.1:P`, an emulator) that host
    cannot resolve and `inject_host_prefix=False` does not stop botocore adding it, so the
    prefix is taken off again when what remains is an IP address or localhost. Real AWS
    hosts are left alone.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(request.url)
    host, sep, rest = parts.netloc.partition(".")
    remainder = rest.split(":", 1)[0]
    if sep and host.isdigit() and (remainder == "localhost" or _is_ip(remainder)):
        request.url = urlunsplit(parts._replace(netloc=rest))


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    code = str(error.get("Code", "") or "")
    if not code:
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(status or type(exc).__name__)
    return code


class AwsContext:
    """Clients for one account (one boto3 session), shared by every collector of a scan, and
    the source's one bounded thread pool (`pool`, `max_pool` threads) they all run on."""

    def __init__(
        self,
        session: Any,
        account: str,
        *,
        max_attempts: int = 8,
        max_pool: int = 16,
        client_kwargs: dict[str, Any] | None = None,
        pool: Executor | None = None,
    ) -> None:
        self.session = session
        self.account = account
        self._max_attempts = max_attempts
        self._max_pool = max_pool
        self.pool = pool
        self._client_kwargs = client_kwargs or {}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._key_locks: dict[tuple[str, str | None], threading.Lock] = {}
        self.calls: Counter[str] = Counter()
        # Denied/throttled calls per action: one problem line each, so the user learns which
        # permission to add without reading every Unknown.
        self.failed: Counter[str] = Counter()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`fn` over `items` on the source's pool, from a collector already running on it
        (`scanner.sources.pool.shared_map`); inline when the context has no pool."""
        return shared_map(self.pool, self._max_pool, fn, items)

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client; botocore clients are thread-safe, sessions are not.

        One lock per (service, region), so creating the IAM client does not wait for the S3
        one; session access itself stays serialised under the context lock.
        """
        key = (service, region)
        found = self._clients.get(key)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._clients:
                from botocore.config import Config

                config = Config(
                    retries={"mode": "adaptive", "max_attempts": self._max_attempts},
                    max_pool_connections=self._max_pool,
                    user_agent_extra="modelward",
                )
                with self._lock:
                    client = self.session.client(
                        service, region_name=region, config=config, **self._client_kwargs
                    )
                if service == "s3control":
                    client.meta.events.register("before-sign.s3-control.*", _local_host_prefix)
                self._clients[key] = client
            return self._clients[key]

    def call(
        self,
        service: str,
        region: str | None,
        method: str,
        *,
        absent: Iterable[str] = (),
        action: str | None = None,
        **params: Any,
    ) -> dict[str, Any] | Unknown | None:
        """One read-only call: the response, `None` if the setting is absent, or Unknown."""
        if not method.startswith(READ_VERBS):
            raise ValueError(f"{service}.{method} is not a read-only operation")
        client = self.client(service, region)
        operation = client.meta.method_to_api_mapping.get(method, method)
        name = action or iam_action(service, operation)
        self._count(name)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(client, method)(**params)
        except (ClientError, BotoCoreError) as exc:
            return self._outcome(exc, name, region, absent)
        return answer

    def pages(
        self,
        service: str,
        region: str | None,
        method: str,
        result_key: str,
        *,
        absent: Iterable[str] = (),
        action: str | None = None,
        **params: Any,
    ) -> list[Any] | Unknown | None:
        """Every item of a paginated listing, or Unknown if any page was denied."""
        if not method.startswith(READ_VERBS):
            raise ValueError(f"{service}.{method} is not a read-only operation")
        client = self.client(service, region)
        operation = client.meta.method_to_api_mapping.get(method, method)
        name = action or iam_action(service, operation)
        from botocore.exceptions import BotoCoreError, ClientError

        items: list[Any] = []
        try:
            if client.can_paginate(method):
                for page in client.get_paginator(method).paginate(**params):
                    self._count(name)
                    items.extend(page.get(result_key, []))
            else:
                self._count(name)
                items.extend(getattr(client, method)(**params).get(result_key, []))
        except (ClientError, BotoCoreError) as exc:
            return self._outcome(exc, name, region, absent)
        return items

    def _outcome(
        self, exc: Exception, name: str, region: str | None, absent: Iterable[str]
    ) -> Unknown | None:
        """A failed call: None for an absent setting, Unknown for a denial or throttling (see
        `_classify`); anything else is raised as AwsCallError."""
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            raise AwsCallError(name, type(exc).__name__, str(exc)) from exc
        code = _error_code(exc)
        if code in set(absent):
            return None
        unknown = self._classify(exc, name, region, ())
        if unknown is None:
            raise AwsCallError(name, code, str(exc)) from exc
        return unknown

    def _classify(
        self, exc: Exception, name: str, region: str | None, absent: Iterable[str]
    ) -> Unknown | None:
        code = _error_code(exc)
        unknown = None
        if code in DENIED_CODES:
            unknown = Unknown(f"denied: {name}")
        elif code in THROTTLE_CODES:
            unknown = Unknown(f"throttled past retries: {name}")
        elif code in REGION_DISABLED_CODES:
            unknown = Unknown(f"region {region} not enabled for this account ({name})")
        if unknown is not None:
            with self._count_lock:
                self.failed[unknown.reason] += 1
        return unknown

    def _count(self, name: str) -> None:
        with self._count_lock:  # Counter += is a read-modify-write: not atomic across threads
            self.calls[name] += 1

    def failure_summary(self) -> list[str]:
        """One line per denied/throttled action, e.g. "denied: s3:GetBucketPolicy (12 calls)"."""
        return [
            f"account {self.account}: {reason} ({count} call{'s' if count > 1 else ''})"
            for reason, count in sorted(self.failed.items())
        ]

    def pages_multi(
        self,
        service: str,
        region: str | None,
        method: str,
        result_keys: tuple[str, ...],
        **params: Any,
    ) -> dict[str, list[Any]] | Unknown:
        """Like `pages` for listings that return several lists per page (IAM's authorization
        details: users, groups, roles and policies)."""
        if not method.startswith(READ_VERBS):
            raise ValueError(f"{service}.{method} is not a read-only operation")
        client = self.client(service, region)
        operation = client.meta.method_to_api_mapping.get(method, method)
        name = iam_action(service, operation)
        from botocore.exceptions import BotoCoreError, ClientError

        out: dict[str, list[Any]] = {key: [] for key in result_keys}
        try:
            for page in client.get_paginator(method).paginate(**params):
                self._count(name)
                for key in result_keys:
                    out[key].extend(page.get(key, []))
        except (ClientError, BotoCoreError) as exc:
            failed = self._outcome(exc, name, region, ())
            # Nothing is "absent" for these listings, so a failure is always an Unknown.
            return failed if failed is not None else Unknown(f"no answer: {name}")
        return out
