"""The credential and the clients of one `azure:` run, each with a read-only pipeline.

- The credential is `DefaultAzureCredential`: environment service principal, workload
  identity, managed identity, then the Azure CLI / PowerShell / azd sign-ins. Sovereign
  clouds set `AZURE_AUTHORITY_HOST` (read by azure-identity itself) and the source's
  `arm_endpoint` / `endpoint_suffix` options.
- Management-plane clients (`azure-mgmt-storage`, `azure-mgmt-authorization`) get a pipeline
  built here rather than the SDK's default one, for two reasons: the default includes
  azure-mgmt-core's automatic resource-provider registration, which answers a 409 with a POST
  that registers a provider on the subscription (a write, from a read-only scanner), and the
  default has no shape check, so an empty 200 would list as "no storage accounts"
  (`faults.ShapePolicy`). Calls the installed SDKs do not cover (diagnostic settings, Defender
  for Storage, identities) go through the same pipeline as plain GETs (`Arm.get`).
- Blob data-plane clients (`azure-storage-blob`) take a connection string
  (`AZURE_STORAGE_CONNECTION_STRING`, account mode), a token credential, or nothing (the
  anonymous probe of a public container); the read-only and shape checks are the SDK's
  request and response hooks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from scanner.sources.azure.faults import (
    MalformedAnswer,
    ReadOnlyPolicy,
    ShapePolicy,
    check_arm_body,
    check_blob_response,
    refuse_writes,
)
from scanner.sources.azure.options import AzureOptions

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
USER_AGENT = "modelward"
_BACKOFF = 0.5


def credential() -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _transport_kwargs(opts: AzureOptions) -> dict[str, Any]:
    return {"connection_timeout": opts.timeout, "read_timeout": opts.timeout}


def _retry_kwargs(opts: AzureOptions) -> dict[str, Any]:
    retries = opts.max_attempts - 1
    return {
        "retry_total": retries,
        "retry_connect": retries,
        "retry_read": retries,
        "retry_status": retries,
        "retry_backoff_factor": _BACKOFF,
    }


def arm_policies(cred: Any, opts: AzureOptions) -> list[Any]:
    """The management-plane pipeline: the SDK's policies less provider registration, plus the
    read-only and shape checks. Listed outermost first."""
    from azure.core.pipeline import policies as p
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    return [
        p.RequestIdPolicy(),
        p.HeadersPolicy(),
        p.UserAgentPolicy(user_agent=USER_AGENT),
        p.ProxyPolicy(),
        ShapePolicy(),  # outside the retries: it judges the answer that is finally kept
        p.ContentDecodePolicy(),
        ReadOnlyPolicy(),
        p.RedirectPolicy(),
        p.RetryPolicy(**_retry_kwargs(opts)),
        ARMChallengeAuthenticationPolicy(cred, f"{opts.arm_endpoint}/.default"),
        p.CustomHookPolicy(),
        p.NetworkTraceLoggingPolicy(),
        p.DistributedTracingPolicy(),
        ARMHttpLoggingPolicy(),
    ]


class Arm:
    """The management-plane clients of one subscription."""

    def __init__(self, cred: Any, opts: AzureOptions) -> None:
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.storage import StorageManagementClient

        assert opts.subscription is not None
        self.subscription = opts.subscription
        self.endpoint = opts.arm_endpoint
        common = {
            "base_url": opts.arm_endpoint,
            "credential_scopes": [f"{opts.arm_endpoint}/.default"],
            **_transport_kwargs(opts),
        }
        self.storage = StorageManagementClient(
            cred, opts.subscription, policies=arm_policies(cred, opts), **common
        )
        self.authorization = AuthorizationManagementClient(
            cred, opts.subscription, policies=arm_policies(cred, opts), **common
        )

    def get(self, path: str, api_version: str) -> dict[str, Any]:
        """One GET of an ARM resource or collection page by path (`/subscriptions/...`) or by
        a `nextLink`; the parsed body (shape-checked). Raises as the SDK operations do."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        if path.startswith("https://"):
            url = path  # a nextLink carries its own api-version
        else:
            url = f"{self.endpoint}{path}?api-version={api_version}"
        response = self.storage.send_request(HttpRequest("GET", url))
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        body: dict[str, Any] = check_arm_body(url, response.text())
        return body

    def pages(self, path: str, api_version: str) -> Iterator[dict[str, Any]]:
        """Every item of an ARM collection, following `nextLink` (only to the same host: a
        link elsewhere would send the bearer token there)."""
        url = path
        host = urlsplit(self.endpoint).netloc
        while url:
            body = self.get(url, api_version)
            yield from body["value"]
            link = body.get("nextLink")
            if link and urlsplit(link).netloc != host:
                raise MalformedAnswer(f"a nextLink to another host ({urlsplit(link).netloc})")
            url = link or ""


def _blob_kwargs(opts: AzureOptions) -> dict[str, Any]:
    return {
        "raw_request_hook": refuse_writes,
        "raw_response_hook": check_blob_response,
        "user_agent": USER_AGENT,
        **_retry_kwargs(opts),
        **_transport_kwargs(opts),
    }


def connection_string() -> str | None:
    value = os.environ.get(CONNECTION_STRING_ENV, "").strip()
    return value or None


def blob_service(url: str | None, cred: Any, opts: AzureOptions) -> Any:
    """A Blob service client: from the connection string when `url` is None, else for the
    account's blob endpoint with the token credential."""
    from azure.storage.blob import BlobServiceClient

    if url is None:
        conn = connection_string()
        assert conn is not None
        return BlobServiceClient.from_connection_string(conn, **_blob_kwargs(opts))
    return BlobServiceClient(url, credential=cred, **_blob_kwargs(opts))


def anonymous_container(service: Any, container: str, opts: AzureOptions) -> Any:
    """A client for `container` with no credential at all: what anyone on the internet has."""
    from azure.storage.blob import ContainerClient

    return ContainerClient(service.url, container, credential=None, **_blob_kwargs(opts))
