"""Application Default Credentials for the GCP sources, and where each API answers.

Credentials come from google-auth's standard chain (`GOOGLE_APPLICATION_CREDENTIALS`, the
gcloud user's application-default login, the metadata server). None found is a failed source
(exit 3) naming what to do, never an empty scan.

API hosts follow the gcloud convention for Private Service Connect and Private Google Access,
so a user whose gcloud already talks to private endpoints sets the same variables:
`CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>` (`..._CLOUDRESOURCEMANAGER`, `..._ACCESSCONTEXTMANAGER`,
`..._IAM`, `..._AIPLATFORM`) is the API's root URL (`https://host/`); the version path is
appended. Cloud Storage itself goes through google-cloud-storage, which has its own
(`STORAGE_EMULATOR_HOST`, honoured exactly as that library does).
"""

from __future__ import annotations

import os
from typing import Any

from scanner.sources.gcp.calls import GcpSourceFailure

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

DEFAULT_ROOTS = {
    "cloudresourcemanager": "https://cloudresourcemanager.googleapis.com/",
    "accesscontextmanager": "https://accesscontextmanager.googleapis.com/",
    "iam": "https://iam.googleapis.com/",
}


def api_root(api: str, default: str | None = None) -> str:
    """The root URL of `api`, with a trailing slash: the override, else the public host."""
    override = os.environ.get(f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}", "").strip()
    root = override or default or DEFAULT_ROOTS[api]
    return root if root.endswith("/") else root + "/"


def default_credentials(what: str) -> Any:
    """ADC with the cloud-platform scope (what the custom role allows decides the rest)."""
    import google.auth
    from google.auth import exceptions

    try:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
    except exceptions.DefaultCredentialsError as exc:
        raise GcpSourceFailure(
            f"{what}: no Google Cloud credentials found ({' '.join(str(exc).split())[:200]}); "
            "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from exc
    return credentials


def authorized_session(credentials: Any) -> Any:
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
