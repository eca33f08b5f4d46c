"""The one place where a Google Cloud call's outcome is decided, for every GCP source.

Both the google-cloud-storage client and the REST reads (`rest.py`) run each call through
`Calls.run`, so the same rules hold everywhere:

- **Denied is Unknown, not fatal.** HTTP 403 on one call becomes
  `Unknown("denied: storage.buckets.getIamPolicy")`, naming the IAM permission the scanner
  lacks; one problem line per permission says how many calls it cost.
- **Throttling is retried.** 429 and 5xx answers are retried with exponential backoff and
  jitter (honouring `Retry-After`) up to `max_attempts`; past that, the value is Unknown.
- **Absent is not an error** where the caller says so (404 for a setting that is not there).
- **A source that cannot be read at all fails.** No credentials, credentials refused (401),
  or a host that does not answer raise `GcpSourceFailure`, which the source turns into a
  `SourceError` (exit 3): a scan never passes on an estate it did not see.
- **A malformed answer never becomes empty.** An answer that is not the documented shape
  becomes Unknown with the reason and a problem line (`malformed`).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from scanner.inventory import Unknown

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


class GcpSourceFailure(Exception):
    """The source as a whole cannot be read: unreachable, or its credentials are missing or
    refused. The message is one line for the user."""


class HttpStatusError(Exception):
    """A non-2xx answer of a REST read (`rest.py`)."""

    def __init__(self, status: int, message: str, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class MalformedAnswer(ValueError):
    """An answer that is not the documented shape."""


def _status(exc: BaseException) -> tuple[int | None, str | None]:
    """(HTTP status, Retry-After) of a failed call, whichever library raised it."""
    if isinstance(exc, HttpStatusError):
        return exc.status, exc.retry_after
    code = getattr(exc, "code", None)  # google.api_core.exceptions.GoogleAPICallError
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    retry_after = headers.get("Retry-After") if hasattr(headers, "get") else None
    if isinstance(code, int) and not isinstance(code, bool):
        return code, retry_after
    status = getattr(response, "status_code", None)  # google.resumable_media InvalidResponse
    if isinstance(status, int):
        return status, retry_after
    return None, None


def _unreachable(exc: BaseException) -> bool:
    import requests
    from google.auth import exceptions as auth_exceptions

    return isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | auth_exceptions.TransportError
        | ConnectionError
        | TimeoutError,
    )


def _credentials_failed(exc: BaseException) -> bool:
    from google.auth import exceptions as auth_exceptions

    return isinstance(exc, auth_exceptions.RefreshError | auth_exceptions.DefaultCredentialsError)


class Calls:
    """Counts, retries and failure lines for one run of one source."""

    def __init__(
        self,
        where: str,
        *,
        max_attempts: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.where = where
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()  # one line per denied/throttled permission
        self.faults: list[str] = []  # malformed answers and unexpected errors, one line each

    def run(
        self,
        fn: Callable[[], T],
        *,
        permission: str,
        what: str,
        absent: bool = False,
    ) -> T | Unknown | None:
        """`fn()`'s answer; None when it is absent (404, and `absent`); Unknown when denied,
        throttled past retries, malformed or refused. Raises GcpSourceFailure when the
        service cannot be reached or the credentials do not work."""
        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self.calls[permission] += 1
            try:
                return fn()
            except MalformedAnswer as exc:
                return self.malformed(what, str(exc))
            except Exception as exc:
                if _unreachable(exc):
                    raise GcpSourceFailure(f"{what}: cannot reach the service ({exc})") from exc
                if _credentials_failed(exc):
                    raise GcpSourceFailure(f"{what}: credentials do not work ({exc})") from exc
                status, retry_after = _status(exc)
                if status is None:
                    if isinstance(exc, ValueError | TypeError | KeyError | AttributeError):
                        # The client library could not read the answer: a shape we do not know.
                        return self.malformed(what, f"{type(exc).__name__}: {exc}")
                    raise
                if status == 401:
                    raise GcpSourceFailure(
                        f"{what}: the credentials were refused (HTTP 401)"
                    ) from exc
                if status == 403:
                    return self._failed(f"denied: {permission}")
                if status == 404 and absent:
                    return None
                if status in RETRY_STATUSES:
                    if attempt < self.max_attempts:
                        self._sleep(self._delay(attempt, retry_after))
                        continue
                    return self._failed(f"throttled past retries: {permission}")
                line = f"{what}: HTTP {status}: {_message(exc)}"
                with self._lock:
                    self.faults.append(line)
                return Unknown(line)

    def malformed(self, what: str, reason: str) -> Unknown:
        line = f"{what}: malformed answer: {reason}"
        with self._lock:
            self.faults.append(line)
        return Unknown(line)

    def _failed(self, reason: str) -> Unknown:
        with self._lock:
            self.failed[reason] += 1
        return Unknown(reason)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return float(min(MAX_RETRY_AFTER, max(0.0, float(retry_after))))
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return float(base * (0.5 + random.random() / 2))

    def problems(self) -> list[str]:
        """One line per denied/throttled permission, then every malformed or failed answer."""
        with self._lock:
            denied = [
                f"{self.where}: {reason} ({count} call{'s' if count > 1 else ''})"
                for reason, count in sorted(self.failed.items())
            ]
            return denied + [f"{self.where}: {line}" for line in dict.fromkeys(self.faults)]


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc)
    return " ".join(text.split())[:200]


def need_mapping(answer: Any, what: str) -> dict[str, Any]:
    """The answer as a JSON object, or MalformedAnswer naming what was expected."""
    if not isinstance(answer, dict):
        raise MalformedAnswer(f"{what}: expected a JSON object, got {type(answer).__name__}")
    return answer
