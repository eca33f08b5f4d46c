"""One place where the AWS source talks to boto3: clients, read-only calls, what a fault costs.

Every collector (S3, IAM, CloudTrail, SageMaker, API Gateway, EC2, GuardDuty) goes through
`AwsContext.call` / `AwsContext.pages`, so these rules hold everywhere without each collector
re-implementing them:

- **Read-only.** Only operations whose name starts with a read verb are allowed; anything
  else raises before a request is made (a test asserts the emulator's state is unchanged).
- **A call never raises; a fault is an Unknown.** Whatever goes wrong with one call - a
  denial, throttling past botocore's adaptive retries, an answer that is not the operation's
  answer (`answers.py`), a stall, a lost connection, a 5xx, the scan's time limit - becomes
  `Unknown` with a reason naming the action or operation (`scanner.sources.faults`), returned
  to the collector that asked, which puts it on exactly the attributes the call feeds. Every
  fault is also counted once per reason (`problems()`), so the source reports it and the scan
  exits 3.
- **"Not configured" is not an error.** Codes such as `NoSuchBucketPolicy` mean the setting is
  absent; callers list them in `absent=` and get `None`.
- **Bounded waiting.** Every client has the same retry policy (botocore's adaptive mode,
  `max_attempts`) and read timeout; a call that times out twice is given up (one stalled
  request does not cost `max_attempts` timeouts), no request starts after the scan's time
  limit, and every request in flight is named in the watch the scan's progress reads.

Calls are counted per operation (benchmarks print calls per bucket).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from scanner.inventory import Unknown
from scanner.sources.aws import answers
from scanner.sources.aws.options import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from scanner.sources.faults import Fault, FaultKind, FaultLog, MalformedAnswer
from scanner.sources.pool import shared_map
from scanner.sources.watch import CallWatch

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


# A call whose attempts get no answer this many times (a read timeout, a refused or lost
# connection) is given up; botocore would try `max_attempts` times, each waiting its timeout.
# Throttling and 5xx answers keep the full adaptive retries.
GIVE_UP_AFTER = 2


class DeadlinePassed(Exception):
    """Raised from a botocore hook: the scan's time limit passed before this attempt."""


class GaveUp(Exception):
    """Raised from a botocore hook: this call's attempts got no answer `GIVE_UP_AFTER` times;
    `last` is the last attempt's error, which says how."""

    def __init__(self, last: BaseException) -> None:
        super().__init__(str(last))
        self.last = last


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


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    code = str(error.get("Code", "") or "")
    if not code:
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(status or type(exc).__name__)
    return code


# botocore's transport errors, in words a user can act on.
_UNREACHABLE = {
    "EndpointConnectionError": "cannot connect",
    "ConnectTimeoutError": "connect timeout",
    "ConnectionClosedError": "connection closed",
    "ProxyConnectionError": "proxy connection failed",
    "SSLError": "TLS error",
    "HTTPClientError": "connection lost",
    "ReadTimeoutError": "read timeout",
}


def classify(
    exc: BaseException, action: str, operation: str, region: str | None, read_timeout: float
) -> Fault:
    """The fault one failed call is. `action` is the IAM action (what a denial names: the
    permission to add), `operation` the API operation (what an answer is named by)."""
    from botocore.exceptions import ClientError, ReadTimeoutError

    if isinstance(exc, GaveUp):
        exc = exc.last
    if isinstance(exc, MalformedAnswer):
        return Fault(FaultKind.MALFORMED, operation, exc.why)
    if isinstance(exc, DeadlinePassed):
        return Fault(FaultKind.DEADLINE, operation)
    if isinstance(exc, ReadTimeoutError):
        return Fault(FaultKind.STALLED, operation, f"{read_timeout:g} s")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in DENIED_CODES or code == "401":
            return Fault(FaultKind.DENIED, action)
        if code in THROTTLE_CODES or code == "429":
            return Fault(FaultKind.THROTTLED, action)
        if code in REGION_DISABLED_CODES:
            return Fault(FaultKind.NOT_ENABLED, action, f"region {region}")
        return Fault(FaultKind.FAILED, operation, f"HTTP {code}" if code.isdigit() else code)
    name = type(exc).__name__
    for cls in type(exc).__mro__:
        if cls.__name__ in _UNREACHABLE:
            return Fault(FaultKind.UNREACHABLE, operation, _UNREACHABLE[cls.__name__])
    if name == "ResponseParserError" or isinstance(exc, ValueError):  # XML/JSON parse errors
        return Fault(FaultKind.MALFORMED, operation, "does not parse")
    return Fault(FaultKind.FAILED, operation, name)


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
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        watch: CallWatch | None = None,
    ) -> None:
        self.session = session
        self.account = account
        self._max_attempts = max_attempts
        self._max_pool = max_pool
        self.pool = pool
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.watch = watch or CallWatch()
        self._client_kwargs = client_kwargs or {}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._key_locks: dict[tuple[str, str | None], threading.Lock] = {}
        self.calls: Counter[str] = Counter()
        # Every fault, once per reason: the user learns which permission to add, or which
        # service answered badly, without reading every Unknown.
        self.faults = FaultLog()

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
                config = client_config(
                    self._max_attempts,
                    self._max_pool,
                    read_timeout=self.read_timeout,
                    connect_timeout=self.connect_timeout,
                )
                with self._lock:
                    client = self.session.client(
                        service, region_name=region, config=config, **self._client_kwargs
                    )
                if service == "s3control":
                    client.meta.events.register("before-sign.s3-control.*", _local_host_prefix)
                install_checks(client, self.watch)
                self._clients[key] = client
            return self._clients[key]

    def _names(self, service: str, region: str | None, method: str, action: str | None) -> Any:
        if not method.startswith(READ_VERBS):
            raise ValueError(f"{service}.{method} is not a read-only operation")
        client = self.client(service, region)
        operation = client.meta.method_to_api_mapping.get(method, method)
        return client, operation, action or iam_action(service, operation)

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
        """One read-only call: the answer, `None` if the setting is absent, or Unknown."""
        client, operation, name = self._names(service, region, method, action)
        model = client.meta.service_model.operation_model(operation)

        def once() -> dict[str, Any]:
            self._count(name)
            with self.watch.call(_label(service, operation, params)):
                answer: dict[str, Any] = getattr(client, method)(**params)
                answers.check_fields(service, model, answer)
            return answer

        try:
            return _retrying_malformed(once)
        except Exception as exc:  # every fault of one call (SDK, wire, hooks) is an Unknown
            return self._outcome(exc, name, f"{service}:{operation}", region, absent)

    def pages(
        self,
        service: str,
        region: str | None,
        method: str,
        result_key: str,
        *,
        absent: Iterable[str] = (),
        action: str | None = None,
        item_key: str | tuple[str, ...] = (),
        **params: Any,
    ) -> list[Any] | Unknown | None:
        """Every item of a paginated listing, or Unknown if any page failed. With `item_key`,
        every item must be an object naming itself by that key (or keys): an item that does
        not is a malformed answer, never a resource silently skipped."""
        client, operation, name = self._names(service, region, method, action)
        model = client.meta.service_model.operation_model(operation)

        def once() -> list[Any]:
            items: list[Any] = []
            with self.watch.call(_label(service, operation, params)):
                if client.can_paginate(method):
                    pages = client.get_paginator(method).paginate(**params)
                else:
                    pages = iter([getattr(client, method)(**params)])
                for page in pages:
                    self._count(name)
                    answers.check_fields(service, model, page)
                    found = page.get(result_key, [])
                    if not isinstance(found, list):
                        raise MalformedAnswer(f"{service}:{operation}", f"{result_key} not a list")
                    _named(found, f"{service}:{operation}", item_key)
                    items.extend(found)
            return items

        try:
            return _retrying_malformed(once)
        except Exception as exc:  # every fault of one call (SDK, wire, hooks) is an Unknown
            return self._outcome(exc, name, f"{service}:{operation}", region, absent)

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
        client, operation, name = self._names(service, region, method, None)
        model = client.meta.service_model.operation_model(operation)

        def once() -> dict[str, list[Any]]:
            out: dict[str, list[Any]] = {key: [] for key in result_keys}
            with self.watch.call(_label(service, operation, params)):
                for page in client.get_paginator(method).paginate(**params):
                    self._count(name)
                    answers.check_fields(service, model, page)
                    for key in result_keys:
                        found = page.get(key, [])
                        if not isinstance(found, list):
                            raise MalformedAnswer(f"{service}:{operation}", f"{key} not a list")
                        out[key].extend(found)
            return out

        try:
            return _retrying_malformed(once)
        except Exception as exc:  # every fault of one call (SDK, wire, hooks) is an Unknown
            failed = self._outcome(exc, name, f"{service}:{operation}", region, ())
            # Nothing is "absent" for these listings, so a failure is always an Unknown.
            return failed if failed is not None else Unknown(f"no answer: {name}")

    def _outcome(
        self, exc: Exception, name: str, operation: str, region: str | None, absent: Iterable[str]
    ) -> Unknown | None:
        """A failed call: None for an absent setting, else the fault's Unknown (recorded)."""
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError) and error_code(exc) in set(absent):
            return None
        return self.faults.record(classify(exc, name, operation, region, self.read_timeout))

    def malformed(self, operation: str, why: str) -> Unknown:
        """An answer whose items lack what the collector needs (found after the call's own
        checks): recorded like any fault of the call."""
        return self.faults.record(Fault(FaultKind.MALFORMED, operation, why))

    def items(
        self, listed: Any, operation: str, key: str | tuple[str, ...]
    ) -> list[Any] | Unknown | None:
        """`listed` when it is a list whose every item names itself by `key` (see `_named`),
        else a malformed answer (recorded): an item skipped would be a resource silently
        missing from the scan."""
        if listed is None or isinstance(listed, Unknown):
            return listed
        if not isinstance(listed, list):
            return self.malformed(operation, "not a list")
        try:
            _named(listed, operation, key)
        except MalformedAnswer as exc:
            return self.faults.record(exc.fault)
        return listed

    def _count(self, name: str) -> None:
        with self._count_lock:  # Counter += is a read-modify-write: not atomic across threads
            self.calls[name] += 1

    def problems(self) -> list[str]:
        """One line per fault reason, e.g. "account 1234: denied: s3:GetBucketPolicy (12
        calls)"."""
        return self.faults.lines(f"account {self.account}: ")


def client_config(
    max_attempts: int,
    max_pool: int = 10,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Any:
    """The one botocore configuration of the source, the credential probe's included:
    adaptive retries, bounded timeouts."""
    from botocore.config import Config

    return Config(
        # total_max_attempts counts the first request; botocore reads "max_attempts" as retries
        # after it (one more request than the option says).
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        max_pool_connections=max_pool,
        read_timeout=read_timeout,
        connect_timeout=connect_timeout,
        user_agent_extra="modelward",
    )


def install_checks(client: Any, watch: CallWatch) -> None:
    """The hooks every client of the source carries: the answer's wire format
    (`answers.check_body`), the scan's time limit before each attempt, and giving a call up
    after `GIVE_UP_AFTER` attempts without an answer instead of `max_attempts`."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    # A reset (ConnectionClosedError) counts too: a proxy that resets every request would
    # otherwise cost every attempt's back-off.
    no_answer = (
        ReadTimeoutError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ConnectionClosedError,
    )
    events = client.meta.events

    def before_attempt(request: Any, **_: Any) -> None:
        if watch.deadline.passed():
            raise DeadlinePassed()
        failed = (getattr(request, "context", None) or {}).get("modelward_no_answer", [])
        if len(failed) >= GIVE_UP_AFTER:
            raise GaveUp(failed[-1])

    def after_attempt(caught_exception: Any = None, request_dict: Any = None, **_: Any) -> None:
        if isinstance(caught_exception, no_answer) and request_dict:
            request_dict.setdefault("context", {}).setdefault("modelward_no_answer", []).append(
                caught_exception
            )

    events.register("before-parse", answers.check_body)
    events.register("request-created", before_attempt)
    events.register("needs-retry", after_attempt)
    # botocore turns an S3 200 whose body does not parse into a 500 before any other hook sees
    # it (to retry a stream cut by the network); the malformed-answer check above retries it
    # the same way (`AwsContext`) and names it for what it is, so that conversion is removed
    # from the source's clients. If botocore renames it, a 500 is still an Unknown.
    import botocore.handlers

    convert = getattr(botocore.handlers, "_handle_200_error", None)
    if convert is not None:
        events.unregister("before-parse.s3.*", convert)


def _retrying_malformed(once: Callable[[], T]) -> T:
    """`once()`, asked a second time when the answer was malformed: a stream cut by the
    network is worth a retry (botocore retries S3's the same way); a proxy that answers with
    its own page answers so again, and the second MalformedAnswer is the fault."""
    try:
        return once()
    except MalformedAnswer:
        return once()


def _named(items: list[Any], operation: str, keys: str | tuple[str, ...]) -> None:
    """Raise MalformedAnswer unless every item is an object with each of `keys` as text."""
    for key in (keys,) if isinstance(keys, str) else keys:
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key]:
                raise MalformedAnswer(operation, f"an item without {key}")


def _label(service: str, operation: str, params: dict[str, Any]) -> str:
    """What the progress display says is being waited on: the operation and its subject."""
    subject = next(
        (
            str(params[k])
            for k in ("Bucket", "Key", "ResourceArn", "restApiId", "ApiId", "Name", "TrailName")
            if k in params
        ),
        "",
    )
    return f"{service}:{operation}" + (f" {subject[:80]}" if subject else "")
