"""How the SageMaker, API Gateway, EC2 and GuardDuty collectors make their calls.

`AwsContext` already turns every fault of a call into `Unknown` (a denial, throttling, a
disabled region, a malformed answer, a model deleted between listing and describing it). What
this module adds, once for all four collectors:

- **Problems per region, once per reason.** A denied `DescribeEndpoint` on 300 endpoints is one
  line naming the collector and the region, with the count, not 300.
- **Search, or else the listing.** `search` reads SageMaker Search's records, or says that the
  caller must list and describe one by one.

The module carries the `sagemaker` prefix because SageMaker was its first user; the four
collectors share it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from scanner.inventory import Unknown
from scanner.sources.aws.context import AwsContext

T = TypeVar("T")
R = TypeVar("R")


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
        result = self.ctx.call(
            service, self.region, method, absent=tuple(absent), action=action, **params
        )
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
        item_key: str | tuple[str, ...] = (),
        **params: Any,
    ) -> list[Any] | Unknown | None:
        """`ctx.pages`; `item_key`: what every item must name itself by."""
        result = self.ctx.pages(
            service,
            self.region,
            method,
            result_key,
            absent=tuple(absent),
            action=action,
            item_key=item_key,
            **params,
        )
        if isinstance(result, Unknown) and not quiet:
            self.note(result)
        return result

    def search(self, resource: str, *keys: str) -> list[Mapping[str, Any]] | None:
        """Every `resource` record of SageMaker Search (with tags, 100 a page), each naming
        itself by `keys`, or None when Search is denied, fails or answers malformed records:
        the caller then lists and describes one by one."""
        records = self.pages("sagemaker", "search", "Results", quiet=True, Resource=resource)
        if not isinstance(records, list):
            return None
        found = [r.get(resource) if isinstance(r, Mapping) else None for r in records]
        checked = self.ctx.items(found, "sagemaker:Search", keys)
        return checked if isinstance(checked, list) else None

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
