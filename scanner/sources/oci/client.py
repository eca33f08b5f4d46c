"""The OCI distribution API, read-only: manifests, blobs, tags, the catalog and referrers.

Written on `requests` rather than with the `oras` Python SDK (evaluated at 0.2.43), because a
scanner needs what that SDK does not do: its request wrapper retries every failure, a refused
token included, five times with sleeps of 3 to 83 seconds (about two minutes before a denied
pull is reported); it keeps one bearer token per client whatever its scope, so walking a
catalog re-uses the first repository's token for the next; it has no referrers API; and pull
writes blobs to files, where layers here are streamed and never stored whole.

Authentication follows the distribution token spec as `docker` does: a request without
credentials; on `401` with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` a token
is fetched from the realm (with the registry's credentials as Basic auth when configured, else
anonymously; an identity token with OAuth2's refresh grant) and cached per scope; on `Basic`
the credentials are sent directly. Every answer that is not what was asked for becomes a
`RegistryError` with the HTTP status and the registry's own error code.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from scanner.sources.oci.credentials import ANONYMOUS, Credentials
from scanner.sources.oci.manifests import MANIFEST_TYPES

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_SMALL_BLOB = 16 * 1024 * 1024
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_PAGE = 1000


class RegistryError(Exception):
    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def denied(self) -> bool:
        return self.status in (401, 403)

    @property
    def missing(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class Fetched:
    body: bytes
    media_type: str
    digest: str


class RegistryClient:
    def __init__(
        self,
        registry: str,
        *,
        plain_http: bool,
        credentials: Credentials = ANONYMOUS,
        ca_bundle: str | None = None,
        timeout: int = 30,
    ) -> None:
        self.registry = registry
        self.base = f"{'http' if plain_http else 'https'}://{registry}"
        self.credentials = credentials
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "modelward"
        self.session.verify = ca_bundle or True
        self._tokens: dict[str, str] = {}
        self._basic = False
        self._lock = threading.Lock()

    # -- the API -----------------------------------------------------------------------------

    def ping(self) -> None:
        """`GET /v2/`: is this a registry at all (a 401 is a registry that wants auth)."""
        try:
            response = self.session.get(f"{self.base}/v2/", timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"{self.registry} is unreachable: {_reason(exc)}") from None
        if response.status_code not in (200, 401):
            raise RegistryError(
                f"{self.registry}/v2/ answered HTTP {response.status_code}: not an OCI registry",
                response.status_code,
            )

    def manifest(self, repository: str, reference: str) -> Fetched:
        response = self._get(
            f"/v2/{repository}/manifests/{reference}",
            _pull(repository),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            what=f"manifest {repository}:{reference}",
        )
        body = _bounded(response, MAX_MANIFEST_BYTES, f"manifest {repository}:{reference}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError(
                f"manifest {repository}@{reference}: the registry returned content with "
                f"digest {digest}"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Fetched(body, media_type, digest)

    def blob(self, repository: str, digest: str, limit: int = MAX_SMALL_BLOB) -> bytes:
        """A small blob (a config, a signature payload), whole, its digest checked."""
        response = self._get(
            f"/v2/{repository}/blobs/{digest}", _pull(repository), what=f"blob {digest}"
        )
        body = _bounded(response, limit, f"blob {digest}")
        check_digest(body, digest)
        return body

    def open_blob(self, repository: str, digest: str) -> Any:
        """A blob's bytes as a raw stream (the caller checks its digest as it reads)."""
        response = self._get(
            f"/v2/{repository}/blobs/{digest}",
            _pull(repository),
            what=f"layer {digest}",
            stream=True,
        )
        response.raw.decode_content = False
        return _Closing(response)

    def tags(self, repository: str, cap: int) -> tuple[list[str], bool]:
        """Up to `cap` tags, and whether there were more."""
        return self._paged(
            f"/v2/{repository}/tags/list?n={min(cap, _PAGE)}",
            _pull(repository),
            "tags",
            cap,
            f"tags of {repository}",
        )

    def catalog(self, cap: int) -> tuple[list[str], bool]:
        return self._paged(
            f"/v2/_catalog?n={min(cap, _PAGE)}",
            "registry:catalog:*",
            "repositories",
            cap,
            "the catalog",
        )

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        """The OCI 1.1 referrers of a manifest; None when the registry has no referrers API
        (Distribution 2.8 answers 404 to the path)."""
        try:
            response = self._get(
                f"/v2/{repository}/referrers/{digest}",
                _pull(repository),
                headers={"Accept": "application/vnd.oci.image.index.v1+json"},
                what=f"referrers of {digest}",
            )
        except RegistryError as exc:
            if exc.missing and exc.code in (None, "NAME_UNKNOWN", "UNSUPPORTED", "NOT_FOUND"):
                return None
            raise
        body = _bounded(response, MAX_MANIFEST_BYTES, f"referrers of {digest}")
        try:
            import json

            doc = json.loads(body)
        except ValueError:
            return None
        manifests = doc.get("manifests") if isinstance(doc, dict) else None
        return [m for m in manifests or [] if isinstance(m, dict)]

    def anonymous_pull(self, repository: str) -> bool | str:
        """Whether anyone can pull: True, or the registry's refusal in words. Reads the tag
        list with no credentials at all (an anonymous token where the registry issues one)."""
        probe = RegistryClient(
            self.registry,
            plain_http=self.base.startswith("http:"),
            ca_bundle=self.session.verify if isinstance(self.session.verify, str) else None,
            timeout=self.timeout,
        )
        try:
            probe._get(f"/v2/{repository}/tags/list?n=1", _pull(repository), what="tags")
        except RegistryError as exc:
            if exc.denied:
                return f"anonymous pull refused (HTTP {exc.status})"
            raise
        return True

    # -- requests and auth ---------------------------------------------------------------------

    def _paged(
        self, path: str, scope: str, key: str, cap: int, what: str
    ) -> tuple[list[str], bool]:
        out: list[str] = []
        url: str | None = path
        while url is not None:
            response = self._get(url, scope, what=what)
            body = _bounded(response, MAX_MANIFEST_BYTES, what)
            try:
                import json

                items = json.loads(body).get(key) or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{what}: the registry answered no JSON list") from None
            out.extend(i for i in items if isinstance(i, str))
            if len(out) >= cap:
                return out[:cap], True
            nxt = response.links.get("next", {}).get("url")
            url = urljoin(self.base + "/", nxt) if nxt else None
        return out, False

    def _get(
        self,
        path: str,
        scope: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        response = self._send(url, scope, headers or {}, stream)
        if response.status_code == 401:
            response.close()
            self._authenticate(response, scope)
            response = self._send(url, scope, headers or {}, stream)
        if response.status_code != 200:
            code, message = _error_of(response)
            response.close()
            status = response.status_code
            if status in (401, 403):
                who = (
                    "anonymously"
                    if self.credentials.anonymous
                    else f"with credentials from {self.credentials.origin}"
                )
                raise RegistryError(
                    f"{what}: pull access denied {who} (HTTP {status}"
                    f"{', ' + code if code else ''})",
                    status,
                    code,
                )
            detail = f"{' ' + code if code else ''}{': ' + message if message else ''}"
            raise RegistryError(f"{what}: HTTP {status}{detail}", status, code)
        return response

    def _send(
        self, url: str, scope: str, headers: dict[str, str], stream: bool
    ) -> requests.Response:
        with self._lock:
            token = self._tokens.get(scope)
            basic = self._basic
        sent = dict(headers)
        if token:
            sent["Authorization"] = f"Bearer {token}"
        auth = None
        if basic and not token and self.credentials.secret is not None:
            auth = (self.credentials.username or "", self.credentials.secret)
        try:
            return self.session.get(
                url, headers=sent, auth=auth, stream=stream, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise RegistryError(f"{self.registry} is unreachable: {_reason(exc)}") from None

    def _authenticate(self, response: requests.Response, scope: str) -> None:
        challenge = response.headers.get("WWW-Authenticate", "")
        kind = challenge.split(" ", 1)[0].lower()
        if kind == "basic":
            if self.credentials.secret is None:
                return  # nothing to send: the retry is refused and reported
            with self._lock:
                self._basic = True
            return
        if kind != "bearer":
            return
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{self.registry}: a bearer challenge without a realm")
        query = {"service": params.get("service", ""), "scope": scope}
        try:
            if self.credentials.identity_token:
                answer = self.session.post(
                    realm,
                    data={
                        **query,
                        "grant_type": "refresh_token",
                        "refresh_token": self.credentials.identity_token,
                        "client_id": "modelward",
                    },
                    timeout=self.timeout,
                )
            else:
                auth = None
                if self.credentials.secret is not None:
                    auth = (self.credentials.username or "", self.credentials.secret)
                answer = self.session.get(realm, params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(
                f"{self.registry}: the token service is unreachable: {_reason(exc)}"
            ) from None
        if answer.status_code != 200:
            return  # refused: the retry without a token is refused and reported
        try:
            doc = answer.json()
        except ValueError:
            raise RegistryError(f"{self.registry}: the token service answered no JSON") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if isinstance(token, str) and token:
            with self._lock:
                self._tokens[scope] = token


class _Closing:
    """A response's raw stream that closes the connection when closed."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response

    def read(self, n: int = -1) -> bytes:
        data = self._response.raw.read(n if n >= 0 else None)
        return bytes(data or b"")

    def close(self) -> None:
        self._response.close()


def check_digest(body: bytes, digest: str) -> None:
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        raise RegistryError(f"unsupported digest algorithm in {digest}")
    if hashlib.new(algorithm, body).hexdigest() != expected:
        raise RegistryError(f"content does not match its digest {digest}")


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _bounded(response: requests.Response, limit: int, what: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        response.close()
        raise RegistryError(f"{what}: {declared} bytes, over the {limit}-byte limit")
    chunks: list[bytes] = []
    total = 0
    for chunk in _iter(response):
        total += len(chunk)
        if total > limit:
            response.close()
            raise RegistryError(f"{what}: over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _iter(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_content(64 * 1024)
    except requests.RequestException as exc:
        raise RegistryError(f"the transfer failed: {_reason(exc)}") from None


def _error_of(response: requests.Response) -> tuple[str | None, str | None]:
    try:
        doc = response.json()
        first = (doc.get("errors") or [{}])[0]
        return first.get("code"), str(first.get("message") or "")[:200] or None
    except (ValueError, AttributeError, IndexError, TypeError):
        return None, None


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (set the ca_bundle option, or plain_http for an HTTP registry)"
    return type(exc).__name__
