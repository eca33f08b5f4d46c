"""The one place where the Azure source turns what can go wrong with a call into what it means.

Every management-plane and data-plane call goes through `Calls.call`, so these rules hold
everywhere without each reader re-implementing them:

- **Denied is Unknown, naming the permission.** HTTP 403 on one call becomes
  `Unknown("denied: Microsoft.Storage/storageAccounts/blobServices/read")`: the caller names
  the Azure RBAC action (or data action) the call needs, so the user learns what to grant.
  A data-plane 403 for the account's firewall (`AuthorizationFailure`) says so instead: that
  is the account's network restriction at work, not a missing role.
- **Throttled past retries is Unknown.** azure-core retries 429 and 5xx honouring
  `Retry-After`; what still fails is `Unknown("throttled past retries: ACTION")`.
- **"Not configured" is not an error** where the API answers 404 for it (`absent=True`):
  the caller gets `None`.
- **A malformed answer is never "nothing".** The shape checks (`ShapePolicy` for the
  management plane, `check_blob_response` for the data plane) reject a 200 whose body is not
  what the API documents (an empty body, an HTML page from a proxy, cut JSON, a listing
  without its `value`), so the generated clients never read it as an empty result; the call
  becomes `Unknown("malformed answer from OPERATION")` and a problem (the scan exits 3).
- **Unreachable or unauthenticated fails the source.** For the calls that open the source
  (`fatal=True`: the first listing), no connection, no credential or a rejected token raise
  `AzureSourceFailed`, which the source turns into `SourceError` (exit 3). Later, a failed
  connection costs the attributes that call feeds (an account reachable only through its
  private endpoint is the control working), with a problem line.
- **Read-only.** `ReadOnlyPolicy` (management plane) and `refuse_writes` (data plane) raise
  before any request that is not a GET or HEAD is sent. The SDK's automatic resource-provider
  registration (a POST on a 409) is left out of the pipeline (`clients.py`).

- **The scan's time limit.** Every call is named in the source's `CallWatch` while it is in
  flight (the progress shows the longest waits), and none is made once the scan's limit has
  passed: it is `Unknown("not read: the scan's time limit passed before OPERATION")` and a
  problem, so the source returns what it read instead of being abandoned with nothing.

Calls are counted per action, and each denied or throttled action is one problem line. The
reasons are worded as the shared `scanner.sources.faults` words them where they overlap
(denied, throttled, malformed, the time limit); the rest of this module predates it and
keeps its own types, with the same rules (docs/design.md, "Fail-closed at the wire").
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core.pipeline.policies import SansIOHTTPPolicy

from scanner.inventory import Unknown
from scanner.sources.faults import Fault, FaultKind
from scanner.sources.watch import CallWatch

T = TypeVar("T")

READ_METHODS = frozenset({"GET", "HEAD"})

# Data-plane 403 codes that are the account's own network rules, not a missing role.
NETWORK_DENIALS = frozenset({"AuthorizationFailure"})
# Data-plane 403 codes that mean the credential itself is not accepted.
AUTH_FAILURES = frozenset({"AuthenticationFailed", "InvalidAuthenticationInfo"})


class AzureSourceFailed(Exception):
    """The source cannot be read at all (unreachable, no credential, credential rejected)."""


class MalformedAnswer(Exception):
    """A 200 answer whose body is not what the API documents."""


class WriteRefused(Exception):
    """A request that would change something was about to be sent (a bug: never caught)."""


class Calls:
    """Counts, denials and problems of one `azure:` source run, shared by every reader."""

    def __init__(self, watch: CallWatch | None = None) -> None:
        self.watch = watch or CallWatch()
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.problems: list[str] = []

    def call(
        self,
        action: str,
        operation: str,
        fn: Callable[[], T],
        *,
        absent: bool = False,
        fatal: bool = False,
    ) -> T | Unknown | None:
        """`fn()`'s answer; None when it answers 404 and `absent`; otherwise Unknown with the
        reason. `fatal`: an unreachable endpoint or a rejected credential raises
        AzureSourceFailed instead (the source's opening calls)."""
        if self.watch.deadline.passed():
            late = Fault(FaultKind.DEADLINE, operation).reason
            if fatal:
                raise AzureSourceFailed(late)
            return self._problem(late)
        with self._lock:
            self.calls[action] += 1
        try:
            with self.watch.call(operation):
                return fn()
        except Exception as exc:
            reason, kind = classify(exc, action, operation, absent=absent)
        if kind == ABSENT:
            return None
        if fatal and kind in (UNREACHABLE, UNAUTHENTICATED):
            raise AzureSourceFailed(reason) from None
        if kind == DENIED:
            with self._lock:
                self.failed[reason] += 1
            return Unknown(reason)
        with self._lock:
            self.problems.append(reason)
        return Unknown(reason)

    def field(self, obj: Any, key: str, kinds: type | tuple[type, ...], operation: str) -> Any:
        """`obj[key]` when it has the documented type; None when absent or null; Unknown (a
        malformed answer, and a problem) when it is there with another type. The generated
        clients would coerce instead (`bool("no")` is true): values are checked here."""
        if not isinstance(obj, dict):
            return self._problem(f"malformed answer from {operation}: not an object")
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and kinds is not bool and bool not in _tuple(kinds):
            value = _WRONG  # JSON true is no number
        if value is _WRONG or not isinstance(value, kinds):
            return self._problem(
                f"malformed answer from {operation}: {key} is {type(value).__name__}, "
                f"not {_kind_names(kinds)}"
            )
        return value

    def malformed(self, operation: str, what: str) -> Unknown:
        """A value an answer should have had in a documented shape, and did not."""
        return self._problem(f"malformed answer from {operation}: {what}")

    def _problem(self, reason: str) -> Unknown:
        with self._lock:
            self.problems.append(reason)
        return Unknown(reason)

    def failure_summary(self, label: str) -> list[str]:
        """One line per denied or throttled action, e.g. "denied: ACTION (3 calls)"."""
        with self._lock:
            items = sorted(self.failed.items())
        return [f"{label}: {reason} ({n} call{'s' if n > 1 else ''})" for reason, n in items]


# What a failed call means (`classify`).
ABSENT = "absent"  # 404 for a setting that is simply not configured
DENIED = "denied"  # 403 or throttled past retries: Unknown naming the permission
FAILED = "failed"  # any other failure of this one call: Unknown, and a problem line
UNREACHABLE = "unreachable"  # no connection or no answer at all
UNAUTHENTICATED = "unauthenticated"  # no credential, or the credential is rejected


def classify(
    exc: Exception, action: str, operation: str, *, absent: bool = False
) -> tuple[str, str]:
    """(reason, kind) for an exception raised by one call."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        DecodeError,
        DeserializationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, WriteRefused):
        raise exc
    # DecodeError is an HttpResponseError (of a 200): it must be told apart first.
    if isinstance(exc, MalformedAnswer | DecodeError | DeserializationError):
        return f"malformed answer from {operation}: {_first_line(exc)}", FAILED
    if isinstance(exc, ClientAuthenticationError):  # no credential, or a 401
        return f"{operation}: credentials rejected: {_first_line(exc)}", UNAUTHENTICATED
    if isinstance(exc, HttpResponseError):
        status = getattr(exc, "status_code", None)
        code = error_code(exc)
        if status == 404 and absent:
            return "", ABSENT
        if status == 401 or code in AUTH_FAILURES:
            return f"{operation}: credentials rejected ({code or status})", UNAUTHENTICATED
        if status == 403 and code in NETWORK_DENIALS:
            return f"denied by the storage account's network rules: {action} ({code})", DENIED
        if status == 403:
            return f"denied: {action}", DENIED
        if status == 429:
            return f"throttled past retries: {action}", DENIED
        if status == 404:
            return f"{operation}: not found (404{', ' + code if code else ''})", FAILED
        return f"{operation} failed: HTTP {status}{' ' + code if code else ''}", FAILED
    if isinstance(exc, ServiceRequestError):  # never sent: no route, refused, DNS, TLS
        return f"cannot reach the endpoint for {operation}: {_first_line(exc)}", UNREACHABLE
    if isinstance(exc, ServiceResponseError):  # sent, but the answer broke off or timed out
        return f"no answer to {operation}: {_first_line(exc)}", UNREACHABLE
    if isinstance(exc, ValueError | KeyError | TypeError | AttributeError):
        # The generated clients raise these when a body lacks what they index into.
        return f"malformed answer from {operation}: {type(exc).__name__}", FAILED
    raise exc


_WRONG = object()


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind_names(kinds: type | tuple[type, ...]) -> str:
    names = {bool: "a boolean", str: "a string", int: "a number", dict: "an object", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in _tuple(kinds))


def error_code(exc: Any) -> str:
    """The service's error code of an HttpResponseError (`AuthorizationFailed`, ...)."""
    code = getattr(exc, "error_code", None)
    if code:
        return str(code)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code) if code else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# ---- the management plane ---------------------------------------------------------------


class ReadOnlyPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Refuses, before sending, any management-plane request that is not a read."""

    def on_request(self, request: Any) -> None:
        refuse_writes(request)


class ShapePolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """A management-plane 200 must be a JSON object; a collection must carry `value`, a list
    of objects, and `nextLink` a string or nothing. Anything else raises MalformedAnswer, so
    an empty body or a proxy's HTML page never reads as "no storage accounts"."""

    def on_response(self, request: Any, response: Any) -> None:
        http = response.http_response
        if http.status_code != 200 or request.http_request.method != "GET":
            return
        check_arm_body(request.http_request.url, http.text())


def check_arm_body(url: str, text: str) -> Any:
    """The parsed body of an ARM GET answered 200, or MalformedAnswer saying what is wrong."""
    try:
        body = json.loads(text)
    except ValueError:
        raise MalformedAnswer(f"not JSON ({_preview(text)})") from None
    if not isinstance(body, dict):
        raise MalformedAnswer(f"a JSON {type(body).__name__}, not an object")
    if is_collection(urlsplit(url).path):
        value = body.get("value")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise MalformedAnswer("a listing without its `value` list of objects")
        link = body.get("nextLink")
        if link is not None and not isinstance(link, str):
            raise MalformedAnswer("`nextLink` is not a string")
    elif not isinstance(body.get("properties", {}), dict):
        raise MalformedAnswer("`properties` is not an object")
    return body


def is_collection(path: str) -> bool:
    """Is an ARM path a collection (`.../providers/NS/type[/name/type]...`, an odd number of
    segments after the last provider namespace) rather than one resource? `/resources` and
    `/resourceGroups` of a subscription are collections without a namespace."""
    parts = [p for p in path.lower().split("/") if p]
    if "providers" not in parts:
        return len(parts) == 3 and parts[0] == "subscriptions"
    last = len(parts) - 1 - parts[::-1].index("providers")
    return len(parts[last + 2 :]) % 2 == 1


def _preview(text: str) -> str:
    stripped = " ".join(text.split())
    return f"{stripped[:40]!r}" if stripped else "an empty body"


# ---- the data plane ---------------------------------------------------------------------


def refuse_writes(request: Any) -> None:
    """A request hook: raise before a non-read request is sent (`raw_request_hook`)."""
    http = getattr(request, "http_request", request)
    if str(http.method).upper() not in READ_METHODS:
        raise WriteRefused(f"refused a {http.method} to {urlsplit(http.url).path}: read-only")


def check_blob_response(response: Any) -> None:
    """A response hook for the Blob data plane (`raw_response_hook`): a listing answered 200
    must be the XML `EnumerationResults` the API documents, not an empty or HTML body."""
    http = response.http_response
    request = http.request
    if http.status_code != 200 or request.method != "GET" or "comp=list" not in request.url:
        return
    body = http.body() or b""
    if b"<EnumerationResults" not in body[:2048]:
        raise MalformedAnswer(f"a listing that is not EnumerationResults XML ({_bytes(body)})")


def _bytes(body: bytes) -> str:
    return _preview(body[:80].decode("utf-8", "replace"))


def reasons(values: Iterable[Any]) -> list[str]:
    """The reasons of the Unknowns among `values` (for messages that combine several)."""
    return [v.reason for v in values if isinstance(v, Unknown)]
