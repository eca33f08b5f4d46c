"""How the SageMaker, API Gateway, EC2 and GuardDuty collectors make their calls.

`AwsContext` already turns denials, throttling and disabled regions into `Unknown`. Two things
are left to each collector, and this module does them once for all four:

- **An odd error is not fatal either.** `ctx.call` raises `AwsCallError` for any other code
  (a model deleted between listing and describing it answers `ValidationException`, moto
  answers HTTP 500 for what it does not implement). Raised out of `collect()`, one such call
  would lose every resource of the region; here it becomes an `Unknown` in the attribute it
  feeds, so the resource is kept and fails closed.
- **Problems are reported once per reason.** A denied `DescribeEndpoint` on 300 endpoints is one
  line, with the count, not 300.

The module carries the `sagemaker` prefix because SageMaker was its first user; the four
collectors share it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from scanner.inventory import Unknown
from scanner.redact import redact_text
from scanner.sources.aws.context import AwsCallError, AwsContext

T = TypeVar("T")
R = TypeVar("R")

MAX_ERROR_TEXT = 200


def region_disabled(value: Any, region: str) -> bool:
    """The Unknown `AwsContext` returns when the region is not enabled for the account."""
    return isinstance(value, Unknown) and value.reason.startswith(f"region {region} not enabled")


def strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """The provider's answer without the HTTP envelope (request ids change every call)."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


class Reader:
    """One collector's calls in one region: `ctx.call`/`ctx.pages` that never raise."""

    def __init__(self, ctx: AwsContext, label: str, region: str) -> None:
        self.ctx = ctx
        self.label = label
        self.region = region
        self._lock = threading.Lock()
        self._reasons: Counter[str] = Counter()

    def call(
        self,
        service: str,
        method: str,
        *,
        absent: Iterable[str] = (),
        action: str | None = None,
        quiet: bool = False,
        **params: Any,
    ) -> dict[str, Any] | Unknown | None:
        """`quiet`: an Unknown is returned but not reported (the caller has another way)."""
        try:
            result = self.ctx.call(
                service, self.region, method, absent=tuple(absent), action=action, **params
            )
        except AwsCallError as exc:
            result = self._failed(exc)
        if isinstance(result, Unknown) and not quiet:
            self.note(result)
        return result

    def pages(
        self,
        service: str,
        method: str,
        result_key: str,
        *,
        absent: Iterable[str] = (),
        action: str | None = None,
        quiet: bool = False,
        **params: Any,
    ) -> list[Any] | Unknown | None:
        try:
            result = self.ctx.pages(
                service,
                self.region,
                method,
                result_key,
                absent=tuple(absent),
                action=action,
                **params,
            )
        except AwsCallError as exc:
            result = self._failed(exc)
        if isinstance(result, Unknown) and not quiet:
            self.note(result)
        return result

    def search(self, resource: str) -> list[Mapping[str, Any]] | None:
        """Every `resource` record of SageMaker Search (with tags, 100 a page), or None when
        Search is denied or fails: the caller then lists and describes one by one."""
        records = self.pages("sagemaker", "search", "Results", quiet=True, Resource=resource)
        if not isinstance(records, list):
            return None
        return [
            r[resource]
            for r in records
            if isinstance(r, Mapping) and isinstance(r.get(resource), Mapping)
        ]

    def note(self, unknown: Unknown) -> None:
        with self._lock:
            self._reasons[unknown.reason] += 1

    def problems(self) -> tuple[str, ...]:
        with self._lock:
            items = sorted(self._reasons.items())
        return tuple(
            f"{self.label} {self.region}: {reason}" + (f" ({count} calls)" if count > 1 else "")
            for reason, count in items
        )

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`fn` over `items` on the source's one bounded pool (`AwsContext.map`)."""
        return self.ctx.map(fn, items)

    @staticmethod
    def _failed(exc: AwsCallError) -> Unknown:
        # Emulators and proxies answer some errors with an HTML page: keep only the text before.
        text = redact_text(" ".join(str(exc).split("<", 1)[0].split())).rstrip(" :")
        if len(text) > MAX_ERROR_TEXT:
            text = text[:MAX_ERROR_TEXT] + "…"
        return Unknown(f"failed: {text}")
