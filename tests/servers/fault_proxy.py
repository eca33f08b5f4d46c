"""A fault-injecting HTTP proxy on loopback: between the scanner and a real server (moto, MLflow).

Every request is forwarded to the upstream server, except the ones a fault rule matches, which
get the fault instead of (or made out of) the upstream's answer:

| kind | what the client gets |
|---|---|
| `empty` | the upstream's status line and headers, and a body of 0 bytes (status 200) |
| `html` | `200 OK`, `text/html`: a captive portal's sign-in page |
| `cut` | the upstream's answer, its body cut in half (Content-Length says the half) |
| `garbage` | `200 OK`, the upstream's Content-Type, 128 bytes that parse as nothing |
| `500` | `500 Internal Server Error`, an HTML page (a gateway's) |
| `403` | `403 Forbidden`, an HTML page (a corporate proxy's) |
| `throttle` | the service's own throttling error (`throttled`): S3 `503 SlowDown`, ... |
| `reset` | the request is read, then the connection is reset (RST) without an answer |
| `stall` | the request is read and never answered (until `stall_max` seconds, then closed) |

A rule matches by the request's operation (`Request.operation`: `s3:GetBucketAcl`,
`sagemaker:Search`, `mlflow:runs/search`) or a prefix of it (`s3:` for every S3 call), and
optionally a `subject` in its path (one bucket), for every matching request or the first
`times` of them.

Bounded on purpose: it listens on 127.0.0.1 only and forwards to a loopback upstream only, at
most `max_connections` at a time, request and response bodies capped, stalls capped; every
connection says `Connection: close`, so no state outlives a request. It runs its own asyncio
loop in a daemon thread (`start`/`close`, or as a context manager).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scanner.demo.fault_bodies import CAPTIVE_PORTAL, GARBAGE, GATEWAY_500, KINDS, PROXY_403

MAX_HEADER_BYTES = 64 * 1024
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass
class Request:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def service(self) -> str:
        """The AWS service the request is signed for, `mlflow` for MLflow's REST API."""
        if self.path.startswith(("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow")):
            return "mlflow"
        if self.path.startswith("/v20180820/"):  # S3 Control signs as `s3`
            return "s3control"
        scope = _CREDENTIAL_SCOPE.search(self.headers.get("authorization", ""))
        return scope.group(1) if scope else "unknown"

    @property
    def operation(self) -> str:
        """`service:Operation` for AWS, `mlflow:PATH` (after the API prefix) for MLflow."""
        service = self.service
        if service == "mlflow":
            return "mlflow:" + re.sub(r"^/[a-z-]+/[0-9.]+/mlflow(?:-artifacts)?/", "", self.path)
        target = self.headers.get("x-amz-target")
        if target:
            return f"{service}:{target.rpartition('.')[2]}"
        if self.method == "POST" and b"Action=" in self.body:
            action = parse_qs(self.body.decode("utf-8", "replace")).get("Action", ["?"])[0]
            return f"{service}:{action}"
        return f"{service}:{_rest_operation(service, self.method, self.path, self.query)}"

    @property
    def protocol(self) -> str:
        """How this service answers errors: `xml-s3`, `xml-query`, `xml-ec2`, `json`,
        `rest-json`, `mlflow`."""
        service = self.service
        if service == "mlflow":
            return "mlflow"
        if service in ("s3", "s3control"):
            return "xml-s3"
        if "x-amz-target" in self.headers:
            return "json"
        if self.method == "POST" and b"Action=" in self.body:
            return "xml-ec2" if service == "ec2" else "xml-query"
        return "rest-json"


_S3_SUBRESOURCES = (
    "acl", "policy", "location", "publicAccessBlock", "encryption", "versioning",
    "object-lock", "logging", "policyStatus", "tagging",
)  # fmt: skip


def _rest_operation(service: str, method: str, path: str, query: dict[str, list[str]]) -> str:
    """The operation of a REST request, for the services the scanner calls."""
    parts = [p for p in path.split("/") if p]
    if service == "s3":
        if not parts:
            return "ListBuckets"
        if len(parts) == 1:
            for sub in _S3_SUBRESOURCES:
                if sub in query:
                    return {
                        "acl": "GetBucketAcl",
                        "policy": "GetBucketPolicy",
                        "location": "GetBucketLocation",
                        "publicAccessBlock": "GetPublicAccessBlock",
                        "encryption": "GetBucketEncryption",
                        "versioning": "GetBucketVersioning",
                        "object-lock": "GetObjectLockConfiguration",
                        "logging": "GetBucketLogging",
                        "policyStatus": "GetBucketPolicyStatus",
                        "tagging": "GetBucketTagging",
                    }[sub]
            return "ListObjectsV2" if "list-type" in query else f"{method} bucket"
        return "HeadObject" if method == "HEAD" else "GetObject"
    if service == "s3control":
        return "GetPublicAccessBlock"
    if service == "guardduty":
        return "ListDetectors" if parts == ["detector"] else "GetDetector"
    if service == "apigateway" and parts:
        tail = [p for p in parts if p != "v2"]
        kind = {"apis": "Api", "restapis": "RestApi"}.get(tail[0])
        if kind is not None:
            if len(tail) == 1:
                return f"Get{kind}s"
            return f"Get{tail[2].title()}" if len(tail) == 3 else f"Get{kind}"
        return {"usageplans": "GetUsagePlans", "account": "GetAccount"}.get(tail[0], tail[0])
    return f"{method} {path}"


def throttled(request: Request) -> tuple[int, dict[str, str], bytes]:
    """The service's own throttling answer, as its SDK expects to parse it."""
    protocol = request.protocol
    if protocol == "xml-s3":
        body = (
            b"<?xml version='1.0'?><Error><Code>SlowDown</Code>"
            b"<Message>Please reduce your request rate.</Message></Error>"
        )
        return 503, {"content-type": "application/xml"}, body
    if protocol == "xml-query":
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        return 400, {"content-type": "text/xml"}, body
    if protocol == "xml-ec2":
        body = (
            b"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
            b"<Message>Request limit exceeded.</Message></Error></Errors>"
            b"<RequestID>r</RequestID></Response>"
        )
        return 503, {"content-type": "text/xml"}, body
    if protocol == "json":
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        return 400, {"content-type": "application/x-amz-json-1.1"}, body
    if protocol == "rest-json":
        headers = {
            "content-type": "application/json",
            "x-amzn-errortype": "TooManyRequestsException",
        }
        return 429, headers, b'{"message":"Too Many Requests"}'
    return (
        429,
        {"content-type": "application/json"},
        (b'{"error_code":"RESOURCE_EXHAUSTED","message":"Too many requests"}'),
    )


@dataclass
class Rule:
    kind: str
    match: Callable[[Request], bool]
    times: int | None = None  # None: every matching request
    hits: int = 0

    def take(self, request: Request) -> bool:
        if not self.match(request) or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


def matching(operation: str) -> Callable[[Request], bool]:
    """A rule's match: the exact operation, or every operation starting with a `service:`."""
    if operation.endswith(":"):
        return lambda request: request.operation.startswith(operation)
    return lambda request: request.operation == operation


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT
    max_connections: int = 64
    max_body: int = 64 * 1024 * 1024
    stall_max: float = 30.0
    rules: list[Rule] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # operations, in arrival order
    port: int = 0

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        host = parts.hostname or ""
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the fault proxy forwards to loopback only, not {host}")
        self._upstream = (host, parts.port or 80)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # Rules -------------------------------------------------------------------------------------

    def fault(
        self, kind: str, operation: str, times: int | None = None, subject: str | None = None
    ) -> Rule:
        """Fault `operation` (every request, or the first `times`); `subject`: only requests
        whose path or query contains it (one bucket, one run)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        match = matching(operation)
        if subject is not None:
            by_operation = match
            match = lambda request: by_operation(request) and subject in request.target  # noqa: E731
        rule = Rule(kind, match, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.seen.clear()

    def _rule_for(self, request: Request) -> Rule | None:
        try:
            operation = request.operation
        except (ValueError, IndexError, KeyError):  # a request the table does not know
            operation = f"unknown {request.method} {request.path}"
        with self._lock:
            self.seen.append(operation)
            return next((r for r in self.rules if r.take(request)), None)

    # Life cycle --------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fault-proxy")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def close(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._slots = asyncio.Semaphore(self.max_connections)
        # asyncio keeps only weak references to tasks: the connections are held here until done.
        tasks: set[asyncio.Task[None]] = set()

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = loop.create_task(self._connection(reader, writer))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        server = loop.run_until_complete(
            asyncio.start_server(accept, "127.0.0.1", 0, limit=MAX_HEADER_BYTES)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    # One connection ----------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self._slots:
            try:
                request = await asyncio.wait_for(self._read_request(reader), 30)
                if request is None:
                    return
                rule = self._rule_for(request)
                if rule is not None and rule.kind == "reset":
                    _reset(writer)
                    return
                if rule is not None and rule.kind == "stall":
                    await _stall(reader, self.stall_max)
                    return
                status, headers, body = await self._answer(request, rule)
                writer.write(_response(status, headers, body, request.method))
                await writer.drain()
            except (
                TimeoutError,
                asyncio.CancelledError,
                asyncio.IncompleteReadError,
                ConnectionError,
                ValueError,
            ):
                pass  # the client went away, or the proxy is closing: nothing to answer
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await _read_body(reader, headers, self.max_body)
        return Request(method, target, headers, body)

    async def _answer(
        self, request: Request, rule: Rule | None
    ) -> tuple[int, dict[str, str], bytes]:
        kind = rule.kind if rule is not None else None
        if kind == "html":
            return 200, {"content-type": "text/html; charset=utf-8"}, CAPTIVE_PORTAL
        if kind == "500":
            return 500, {"content-type": "text/html"}, GATEWAY_500
        if kind == "403":
            return 403, {"content-type": "text/html"}, PROXY_403
        if kind == "throttle":
            return throttled(request)
        status, headers, body = await self._forward(request)
        if kind == "empty":
            return 200, headers, b""
        if kind == "cut":
            return status, headers, body[: len(body) // 2]
        if kind == "garbage":
            return 200, headers, GARBAGE
        return status, headers, body

    async def _forward(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        reader, writer = await asyncio.open_connection(*self._upstream, limit=MAX_HEADER_BYTES)
        try:
            headers = {
                k: v
                for k, v in request.headers.items()
                if k not in ("connection", "transfer-encoding", "content-length", "keep-alive")
            }
            lines = [f"{request.method} {request.target} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines += [f"content-length: {len(request.body)}", "connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("latin-1") + request.body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            answer: dict[str, str] = {}
            for line in header_lines:
                if ":" in line:
                    name, _, value = line.partition(":")
                    answer[name.strip().lower()] = value.strip()
            if request.method == "HEAD" or status in (204, 304):
                body = b""
            else:
                body = await _read_body(reader, answer, self.max_body, to_eof=True)
            for name in ("transfer-encoding", "content-length", "connection", "keep-alive"):
                answer.pop(name, None)
            return status, answer, body
        finally:
            with contextlib.suppress(Exception):
                writer.close()


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], limit: int, to_eof: bool = False
) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return bytes(body)
            if len(body) + size > limit:
                raise ValueError("body over the proxy's limit")
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    if "content-length" in headers:
        length = int(headers["content-length"])
        if length > limit:
            raise ValueError("body over the proxy's limit")
        return await reader.readexactly(length)
    if to_eof:
        data = await reader.read(limit + 1)
        if len(data) > limit:
            raise ValueError("body over the proxy's limit")
        return data
    return b""


def _response(status: int, headers: dict[str, str], body: bytes, method: str) -> bytes:
    reason = {200: "OK", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error",
              503: "Service Unavailable"}.get(status, "Status")  # fmt: skip
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"content-length: {len(body)}", "connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + (b"" if method == "HEAD" else body)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on, timeout 0."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _stall(reader: asyncio.StreamReader, seconds: float) -> None:
    """Hold the connection without answering until the client gives up or `seconds` pass."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(reader.read(1), seconds)
