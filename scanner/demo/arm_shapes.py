"""A local HTTPS server answering like Azure Resource Manager, for the `azure:` shape tests and
the demo.

No emulator exists for the management plane (storage account settings, role assignments,
diagnostic settings, Defender for Storage), so this server answers the GETs the source makes
with bodies shaped exactly as the documented REST API (the Azure REST API reference and the
examples in azure-rest-api-specs): `{"value": [...], "nextLink": ...}` collections paged one
item at a time where the API pages, ARM's error body `{"error": {"code", "message"}}`, a bearer
token checked for its audience, and `api-version` required on every call. It also serves the
App Service managed-identity endpoint (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`), so the scanner's
own `DefaultAzureCredential` obtains its tokens here, through the same code path as in Azure.

Faults are injected per path (`fail`): a status with ARM's error body (403 AuthorizationFailed,
429 TooManyRequests with Retry-After, 401), or a malformed 200 body. `inject` gives a path one
of the wire-fault kinds of `scanner/demo/fault_bodies.py` instead (empty, HTML or cut 200,
garbage, a gateway's 500, a proxy's 403, throttling, a reset connection, a stall), so the
`azure:` source goes through the same fault matrix as AWS and MLflow (the plain-HTTP proxy
cannot sit in front of ARM: bearer tokens are only sent over TLS). Every request is logged,
and anything but a GET is refused and logged, so a test can assert the scan only read.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scanner.demo.azurite import Tls
from scanner.demo.fault_bodies import CAPTIVE_PORTAL, GARBAGE, GATEWAY_500, KINDS, PROXY_403
from scanner.demo.servers import free_port

IDENTITY_SECRET = "modelward-test-identity-header"
TENANT = "72f988bf-0000-4000-8000-00000000cafe"
SCANNER_OID = "5c4e1a0e-0000-4000-8000-00000000beef"

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_ACCT = (
    _SUB
    + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Storage/storageAccounts/(?P<acct>[^/]+)"
)
_AUTH = _SUB + r"/providers/Microsoft\.Authorization"


@dataclass
class ArmEstate:
    """What the fake management plane holds, in the REST shapes the API documents."""

    subscription: str
    accounts: list[dict[str, Any]] = field(default_factory=list)
    blob_services: dict[str, dict[str, Any]] = field(default_factory=dict)
    containers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    encryption_scopes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    diagnostics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    defender: dict[str, dict[str, Any]] = field(default_factory=dict)
    pricing: dict[str, Any] | None = None
    role_assignments: list[dict[str, Any]] = field(default_factory=list)
    role_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedule_instances: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    body: bytes
    headers: dict[str, str]
    times: int | None  # None: every time


@dataclass
class WireFault:
    pattern: re.Pattern[str]
    kind: str  # one of fault_proxy.KINDS
    times: int | None  # None: every time


def jwt(audience: str, oid: str = SCANNER_OID) -> str:
    """An access token shaped like Entra ID's (Azurite checks iss, aud, nbf and exp only)."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "oid": oid,
        "tid": TENANT,
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def arm_error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class ArmShapeServer:
    def __init__(self, estate: ArmEstate, tls: Tls) -> None:
        self.estate = estate
        self.tls = tls
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.wire_faults: list[WireFault] = []
        self.stall_seconds = 5.0  # how long a stalled request is held before it is dropped
        self.page_size = 1
        self.identity_up = True
        self._lock = threading.Lock()
        self._routes = [
            (rf"^{_SUB}/providers/Microsoft\.Storage/storageAccounts$", self._accounts),
            (rf"^{_ACCT}/blobServices/default$", self._blob_service),
            (rf"^{_ACCT}/blobServices/default/containers$", self._containers),
            (rf"^{_ACCT}/encryptionScopes/(?P<scope>[^/]+)$", self._scope),
            (
                rf"^{_ACCT}/blobServices/default/providers/Microsoft\.Insights/diagnosticSettings$",
                self._diagnostics,
            ),
            (
                rf"^{_ACCT}/providers/Microsoft\.Security/defenderForStorageSettings/current$",
                self._defender,
            ),
            (rf"^{_SUB}/providers/Microsoft\.Security/pricings/StorageAccounts$", self._pricing),
            (rf"^{_AUTH}/roleAssignments$", self._assignments),
            (rf"^{_AUTH}/roleDefinitions/(?P<role>[^/]+)$", self._role),
            (rf"^{_AUTH}/roleAssignmentScheduleInstances$", self._instances),
            (rf"^{_SUB}/resources$", self._resources),
            (
                rf"^{_SUB}/providers/Microsoft\.ManagedIdentity/userAssignedIdentities$",
                self._identities,
            ),
        ]

    # -- what tests use ----------------------------------------------------------------

    def fail(
        self,
        pattern: str,
        status: int,
        body: bytes | None = None,
        *,
        code: str | None = None,
        times: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer requests whose path matches `pattern` (a regex) with `status` and `body`
        (ARM's error body for `code` by default), `times` times or always."""
        if body is None:
            body = arm_error(code or "Failed", f"injected {status} for {pattern}")
        with self._lock:
            self.faults.append(
                Fault(re.compile(pattern, re.IGNORECASE), status, body, headers or {}, times)
            )

    def inject(self, kind: str, pattern: str, times: int | None = None) -> None:
        """Answer requests whose path matches `pattern` with a wire fault of `kind` (see
        `scanner/demo/fault_bodies.py`), `times` times or always."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self.wire_faults.append(WireFault(re.compile(pattern, re.IGNORECASE), kind, times))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.wire_faults.clear()
            self.requests.clear()
        self.identity_up = True

    def env(self) -> dict[str, str]:
        """The environment under which DefaultAzureCredential gets its tokens here."""
        return {
            "IDENTITY_ENDPOINT": f"{self.base}/msi/token",
            "IDENTITY_HEADER": IDENTITY_SECRET,
            "REQUESTS_CA_BUNDLE": str(self.tls.cert),
        }

    # -- serving -------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        method = handler.command
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((method, handler.path))
        if method != "GET":
            return _send(handler, 405, arm_error("MethodNotAllowed", "read-only test server"))
        if parts.path == "/msi/token":
            return self._token(handler, query)
        if not self._authorised(handler):
            return _send(
                handler,
                401,
                arm_error("InvalidAuthenticationToken", "The access token is invalid."),
            )
        if "api-version" not in query:
            return _send(
                handler,
                400,
                arm_error(
                    "MissingApiVersionParameter", "The api-version query parameter is required."
                ),
            )
        fault = self._fault(parts.path)
        if fault is not None:
            return _send(handler, fault.status, fault.body, fault.headers)
        status, answer = self._route(parts.path, query, handler.path)
        wire = self._wire_fault(parts.path)
        if wire is not None:
            return self._misbehave(handler, wire.kind, status, answer)
        return _send(handler, status, answer)

    def _route(self, path: str, query: dict[str, str], target: str) -> tuple[int, bytes]:
        for pattern, route in self._routes:
            match = re.match(pattern, path, re.IGNORECASE)
            if match:
                status, body = route(match.groupdict(), query, target)
                return status, json.dumps(body).encode()
        return 404, arm_error("ResourceNotFound", f"no such resource {path}")

    def _wire_fault(self, path: str) -> WireFault | None:
        with self._lock:
            for fault in self.wire_faults:
                if fault.pattern.search(path) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _misbehave(
        self, handler: BaseHTTPRequestHandler, kind: str, status: int, answer: bytes
    ) -> None:
        """What a broken network, a proxy or a struggling service answers instead."""
        html = {"Content-Type": "text/html"}
        if kind == "empty":
            return _send(handler, 200, b"")
        if kind == "html":
            return _send(handler, 200, CAPTIVE_PORTAL, html)
        if kind == "cut":
            return _send(handler, status, answer[: len(answer) // 2])
        if kind == "garbage":
            return _send(handler, 200, GARBAGE)
        if kind == "500":
            return _send(handler, 500, GATEWAY_500, html)
        if kind == "403":
            return _send(handler, 403, PROXY_403, html)
        if kind == "throttle":
            body = arm_error("TooManyRequests", "The request is being throttled.")
            return _send(handler, 429, body, {"Retry-After": "0"})
        if kind == "stall":
            time.sleep(self.stall_seconds)
        # reset, or a stall given up: drop the connection without an answer (RST)
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.close()
        return None

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.pattern.search(path) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        try:
            payload = header.split(" ", 1)[1].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return False
        return bool(claims.get("aud") == self.base and claims.get("exp", 0) > time.time())

    def _token(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        if not self.identity_up:
            return _send(handler, 500, b'{"error": "managed identity unavailable"}')
        if handler.headers.get("X-IDENTITY-HEADER") != IDENTITY_SECRET:
            return _send(handler, 401, b'{"error": "missing X-IDENTITY-HEADER"}')
        resource = query.get("resource", "").removesuffix("/.default").rstrip("/")
        body = {
            "access_token": jwt(resource),
            "expires_on": str(int(time.time()) + 3600),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": SCANNER_OID,
        }
        return _send(handler, 200, json.dumps(body).encode())

    def _page(
        self, items: list[dict[str, Any]], query: dict[str, str], path: str
    ) -> dict[str, Any]:
        start = int(query.get("$skipToken", "0") or 0)
        size = self.page_size
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            base = re.sub(r"[&?]\$skipToken=\d+", "", path)
            sep = "&" if "?" in base else "?"
            body["nextLink"] = f"{self.base}{base}{sep}$skipToken={start + size}"
        return body

    def _account_name(self, groups: dict[str, str]) -> str | None:
        for account in self.estate.accounts:
            if account["name"].lower() == groups["acct"].lower():
                return str(account["name"])
        return None

    # -- routes: (status, body) ------------------------------------------------------------

    def _accounts(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        return 200, self._page(self.estate.accounts, q, path)

    def _blob_service(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        name = self._account_name(g)
        if name is None:
            return 404, _not_found(path)
        return 200, self.estate.blob_services[name]

    def _containers(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        name = self._account_name(g)
        if name is None:
            return 404, _not_found(path)
        return 200, self._page(self.estate.containers.get(name, []), q, path)

    def _scope(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        found = self.estate.encryption_scopes.get((g["acct"], g["scope"]))
        return (200, found) if found else (404, _not_found(path))

    def _diagnostics(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        # Diagnostic Settings - List is not paged: one `value` list.
        return 200, {"value": self.estate.diagnostics.get(g["acct"], [])}

    def _defender(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        found = self.estate.defender.get(g["acct"])
        return (200, found) if found else (404, _not_found(path))

    def _pricing(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        found = self.estate.pricing
        return (200, found) if found else (404, _not_found(path))

    def _assignments(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        return 200, self._page(self.estate.role_assignments, q, path)

    def _role(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        found = self.estate.role_definitions.get(g["role"].lower())
        return (200, found) if found else (404, _not_found(path))

    def _instances(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        return 200, {"value": self.estate.schedule_instances}

    def _resources(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        return 200, self._page(self.estate.resources, q, path)

    def _identities(self, g: dict[str, str], q: dict[str, str], path: str) -> tuple[int, Any]:
        return 200, {"value": self.estate.identities}


def _not_found(path: str) -> dict[str, Any]:
    return {"error": {"code": "ResourceNotFound", "message": f"{urlsplit(path).path} not found"}}


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    if "Content-Type" not in (headers or {}):
        handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def arm_shape_server(estate: ArmEstate, tls: Tls) -> Iterator[ArmShapeServer]:
    server = ArmShapeServer(estate, tls)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            server.handle(self)

        do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", server.port), Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
