"""What a failed, malformed or stalled answer costs: an `Unknown` on exactly what it feeds.

Every provider talks to an API that can fail in the same few ways, whatever its SDK: the call
is denied, throttled past its retries, answered with something that is not the operation's
answer (an empty 200, a captive portal's HTML page, JSON cut off mid-way), never answered
within the read timeout, or not answered at all (connection refused, reset). A fail-closed
scanner must never read any of these as "nothing there". So a source:

1. checks every answer's shape before using it (`require` for the fields an operation always
   returns; an SDK hook for the wire format, see `scanner.sources.aws.answers`) and raises
   `MalformedAnswer` when it is wrong;
2. sorts every failure of one call into a `Fault` (`kind`, the operation, a short detail);
3. puts `fault.unknown()` on exactly the attributes that call feeds (a per-bucket call costs
   that bucket's attributes, a per-run call that run's), never a default;
4. reports each fault once per reason as a problem line (`FaultLog`), so the source's status
   is "error" and the scan exits 3 unless `--allow-partial`.

The reasons read the same for every provider ("denied: s3:GetBucketPolicy", "malformed answer
from sagemaker:Search", "no answer within 20 s from iam:GetAccountAuthorizationDetails"), so a
user learns which permission or which link to fix without knowing the SDK. docs/design.md,
"Fail-closed at the wire", says what each kind of fault does to a scan.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from scanner.inventory import Unknown


class FaultKind(Enum):
    DENIED = "denied"  # 401/403, AccessDenied and kin
    THROTTLED = "throttled"  # still throttled after the SDK's retries
    MALFORMED = "malformed"  # an answer that is not the operation's answer
    STALLED = "stalled"  # no answer within the read timeout (after its retry)
    UNREACHABLE = "unreachable"  # connection refused, reset, closed, DNS, TLS
    FAILED = "failed"  # any other error answer (5xx after retries, a service error)
    DEADLINE = "deadline"  # not attempted: the scan's time limit had passed
    NOT_ENABLED = "not enabled"  # the region is not enabled for the account (AWS)


@dataclass(frozen=True)
class Fault:
    """One call that did not give a usable answer."""

    kind: FaultKind
    operation: str  # what a user recognises: "s3:GetBucketAcl", "mlflow runs/search"
    detail: str = ""  # short and stable (an error code, "HTTP 500", "20 s"): reasons are counted

    @property
    def reason(self) -> str:
        op, detail = self.operation, self.detail
        match self.kind:
            case FaultKind.DENIED:
                return f"denied: {op}"
            case FaultKind.THROTTLED:
                return f"throttled past retries: {op}"
            case FaultKind.MALFORMED:
                return f"malformed answer from {op}" + (f" ({detail})" if detail else "")
            case FaultKind.STALLED:
                return f"no answer within {detail or 'the read timeout'} from {op}"
            case FaultKind.UNREACHABLE:
                return f"cannot reach {op}" + (f" ({detail})" if detail else "")
            case FaultKind.DEADLINE:
                return f"not read: the scan's time limit passed before {op}"
            case FaultKind.NOT_ENABLED:
                return f"{detail} not enabled for this account ({op})"
        return f"failed: {op}" + (f": {detail}" if detail else "")

    def unknown(self) -> Unknown:
        return Unknown(self.reason)


class MalformedAnswer(Exception):
    """An answer whose shape is not what the operation returns (a body that does not parse,
    a field the operation always returns missing or of another type)."""

    def __init__(self, operation: str, why: str = "") -> None:
        super().__init__(f"malformed answer from {operation}" + (f" ({why})" if why else ""))
        self.operation = operation
        self.why = why

    @property
    def fault(self) -> Fault:
        return Fault(FaultKind.MALFORMED, self.operation, self.why)


_TYPES: dict[type, str] = {list: "a list", dict: "an object", str: "text", bool: "a boolean"}


def require(
    answer: Any,
    operation: str,
    fields: Iterable[str] = (),
    types: Mapping[str, type | tuple[type, ...]] | None = None,
) -> Mapping[str, Any]:
    """`answer` as a mapping holding every one of `fields` (the ones the operation always
    returns), each field in `types` of that type; else `MalformedAnswer` naming the first one
    that is not. A field that may be absent but must have its type when present goes in
    `types` only."""
    if not isinstance(answer, Mapping):
        raise MalformedAnswer(operation, f"not an object but {type(answer).__name__}")
    for name in fields:
        if name not in answer:
            raise MalformedAnswer(operation, f"no {name}")
    for name, expected in (types or {}).items():
        if name in answer and answer[name] is not None and not isinstance(answer[name], expected):
            wanted = _TYPES.get(expected, "") if isinstance(expected, type) else ""
            raise MalformedAnswer(operation, f"{name} is not {wanted or 'the documented type'}")
    return answer


class FaultLog:
    """The faults of one source, counted by reason: one problem line per reason ("denied:
    s3:GetBucketPolicy (12 calls)"), so 300 endpoints failing the same way are one line.
    Thread-safe: a source's calls run on its pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reasons: Counter[str] = Counter()

    def record(self, fault: Fault) -> Unknown:
        with self._lock:  # Counter += is a read-modify-write: not atomic across threads
            self._reasons[fault.reason] += 1
        return fault.unknown()

    def lines(self, prefix: str = "") -> list[str]:
        with self._lock:
            items = sorted(self._reasons.items())
        return [
            f"{prefix}{reason} ({count} call{'s' if count > 1 else ''})" for reason, count in items
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._reasons)
