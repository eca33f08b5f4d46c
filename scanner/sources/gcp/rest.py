"""Read-only REST calls to Google APIs through google-auth's `AuthorizedSession`.

The APIs the GCP sources read besides Cloud Storage (Resource Manager, Access Context Manager,
IAM, Vertex AI) are small JSON-over-HTTPS reads; their client libraries would add tens of
megabytes (google-cloud-aiplatform alone is over 100 MB) for a handful of GETs. Every call
goes through `Calls.run` (`calls.py`) for retries and denials.

Read-only by construction: `get` issues GETs; the only POSTs allowed are the read methods
Google exposes as POST (`:getIamPolicy`, `:getAncestry`, `:getEffectiveOrgPolicy`), checked
before any request is made. Listings follow `nextPageToken` to the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.gcp.calls import Calls, HttpStatusError, MalformedAnswer, need_mapping

READ_POSTS = (":getIamPolicy", ":getAncestry", ":getEffectiveOrgPolicy")
TIMEOUT = 60


class Rest:
    def __init__(self, session: Any, calls: Calls, timeout: float = TIMEOUT) -> None:
        self.session = session
        self.calls = calls
        self.timeout = timeout

    def get(
        self,
        url: str,
        *,
        permission: str,
        what: str,
        params: Mapping[str, Any] | None = None,
        absent: bool = False,
    ) -> dict[str, Any] | Unknown | None:
        return self.calls.run(
            lambda: self._request("GET", url, params=params),
            permission=permission,
            what=what,
            absent=absent,
        )

    def read_post(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        permission: str,
        what: str,
        absent: bool = False,
    ) -> dict[str, Any] | Unknown | None:
        if not url.split("?", 1)[0].endswith(READ_POSTS):
            raise ValueError(f"{url} is not a read-only method")
        return self.calls.run(
            lambda: self._request("POST", url, json=dict(body)),
            permission=permission,
            what=what,
            absent=absent,
        )

    def pages(
        self,
        url: str,
        key: str,
        *,
        permission: str,
        what: str,
        params: Mapping[str, Any] | None = None,
        page_size: int = 100,
    ) -> list[dict[str, Any]] | Unknown:
        """Every item under `key` of every page; Unknown when any page fails (a partial list
        would read as "nothing more", which nobody said)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = {**(params or {}), "pageSize": page_size}
            if token:
                query["pageToken"] = token
            page = self.get(url, permission=permission, what=what, params=query)
            if isinstance(page, Unknown):
                return page
            if page is None:
                return self.calls.malformed(what, "no answer")
            found = page.get(key, [])
            if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
                return self.calls.malformed(what, f"{key!r} is not a list of objects")
            items.extend(found)
            token = page.get("nextPageToken") or None
            if token is None:
                return items
            if not isinstance(token, str) or token in seen:
                return self.calls.malformed(what, "a page token repeats or is not a string")
            seen.add(token)

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if response.status_code >= 300:
            raise HttpStatusError(
                response.status_code, _error_message(response), response.headers.get("Retry-After")
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise MalformedAnswer(f"not JSON ({exc})") from exc
        return need_mapping(answer, f"{method} {url.split('?', 1)[0]}")


def _error_message(response: Any) -> str:
    """Google's error body is `{"error": {"code", "message", "status"}}`; else the text."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return " ".join(error["message"].split())[:200]
    return " ".join(str(body).split())[:200]
