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
from collections.abc import Iterable
from typing import Any

from scanner.inventory import Unknown

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


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    code = str(error.get("Code", "") or "")
    if not code:
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(status or type(exc).__name__)
    return code


class AwsContext:
    """Clients for one account (one boto3 session), shared by every collector of a scan."""

    def __init__(
        self,
        session: Any,
        account: str,
        *,
        max_attempts: int = 8,
        max_pool: int = 16,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.account = account
        self._max_attempts = max_attempts
        self._max_pool = max_pool
        self._client_kwargs = client_kwargs or {}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client; botocore clients are thread-safe, sessions are not."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                from botocore.config import Config

                config = Config(
                    retries={"mode": "adaptive", "max_attempts": self._max_attempts},
                    max_pool_connections=self._max_pool,
                    user_agent_extra="modelward",
                )
                self._clients[key] = self.session.client(
                    service, region_name=region, config=config, **self._client_kwargs
                )
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
        self.calls[name] += 1
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(client, method)(**params)
        except ClientError as exc:
            code = _error_code(exc)
            if code in set(absent):
                return None
            if code in DENIED_CODES:
                return Unknown(f"denied: {name}")
            if code in THROTTLE_CODES:
                return Unknown(f"throttled past retries: {name}")
            if code in REGION_DISABLED_CODES:
                return Unknown(f"region {region} not enabled for this account ({name})")
            raise AwsCallError(name, code, str(exc)) from exc
        except BotoCoreError as exc:
            raise AwsCallError(name, type(exc).__name__, str(exc)) from exc

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
                    self.calls[name] += 1
                    items.extend(page.get(result_key, []))
            else:
                self.calls[name] += 1
                items.extend(getattr(client, method)(**params).get(result_key, []))
        except ClientError as exc:
            code = _error_code(exc)
            if code in set(absent):
                return None
            if code in DENIED_CODES:
                return Unknown(f"denied: {name}")
            if code in THROTTLE_CODES:
                return Unknown(f"throttled past retries: {name}")
            if code in REGION_DISABLED_CODES:
                return Unknown(f"region {region} not enabled for this account ({name})")
            raise AwsCallError(name, code, str(exc)) from exc
        except BotoCoreError as exc:
            raise AwsCallError(name, type(exc).__name__, str(exc)) from exc
        return items
