"""Object-store URIs as registries write them, to the resource ids the storage sources report.

A registry names where a model's files are in the spelling of whatever client wrote them
(MLflow's Azure artifact store writes `wasbs://CONTAINER@ACCOUNT.blob.core.windows.net/p`,
Spark and Azure ML write `abfss://FILESYSTEM@ACCOUNT.dfs.core.windows.net/p`); a storage
source reports the same place under one canonical id (`azure://ACCOUNT/CONTAINER/p`, see
docs/resource-model.md). Linking meets the two only if the registry's URI is rewritten to
that id, which is what `canonical` does, for every registry source alike.

Converters are listed per provider in `CONVERTERS` as (scheme, function) pairs, tried in
order for a URI of that scheme (`https` is claimed by several providers, each by its hosts):
a provider adds its own block and touches no other's. A URI no entry knows is not an
object-store URI we report (`None`: the caller keeps it as written). Credentials, SAS tokens
and other query strings never become part of an id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import SplitResult, unquote, urlsplit

# ---- Azure Blob Storage (and ADLS Gen2, the same accounts through their dfs endpoint) -----

# ACCOUNT.blob.core.windows.net, ACCOUNT.dfs.core.usgovcloudapi.net, ... (any Azure cloud)
_AZURE_HOST = re.compile(r"^([a-z0-9]{3,24})\.(blob|dfs)\.core\.[a-z0-9.-]+$")


def _azure_user_at_host(parts: SplitResult) -> tuple[str, str] | None:
    """`wasbs://CONTAINER@ACCOUNT.blob.core.windows.net/PATH` and the `abfss` form."""
    container, sep, host = parts.netloc.rpartition("@")
    match = _AZURE_HOST.match(host.split(":")[0].lower())
    if not sep or not container or not match:
        return None
    return _azure_id(match.group(1), unquote(container), parts.path), "azure"


def _azure_https(parts: SplitResult) -> tuple[str, str] | None:
    """`https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH` (and the dfs endpoint)."""
    match = _AZURE_HOST.match((parts.hostname or "").lower())
    container, _, path = unquote(parts.path).lstrip("/").partition("/")
    if not match or not container:
        return None
    return _azure_id(match.group(1), container, path), "azure"


def _azure_id(account: str, container: str, path: str) -> str:
    path = unquote(path).strip("/")
    return f"azure://{account}/{container}" + (f"/{path}" if path else "/")


# ---- Google Cloud Storage --------------------------------------------------------------


def _gcs(parts: SplitResult) -> tuple[str, str] | None:
    """`gs://BUCKET/PREFIX`, the id the gcs: source gives the model directory there (MLflow
    and Vertex AI `artifactUri` spell it the same way; only the trailing slash goes)."""
    if not parts.netloc:
        return None
    prefix = parts.path.strip("/")
    return (f"gs://{parts.netloc}/{prefix}" if prefix else f"gs://{parts.netloc}/"), "gcs"


Converter = Callable[[SplitResult], tuple[str, str] | None]

CONVERTERS: list[tuple[str, Converter]] = [
    # Azure
    ("wasbs", _azure_user_at_host),
    ("wasb", _azure_user_at_host),
    ("abfss", _azure_user_at_host),
    ("abfs", _azure_user_at_host),
    ("https", _azure_https),
    # Google Cloud Storage
    ("gs", _gcs),
]


def canonical(uri: str) -> tuple[str, str] | None:
    """(the storage source's id for `uri`, its provider), or None when no provider claims it.

    A model directory at a container's root keeps a trailing slash (`azure://a/c/`), since
    `azure://a/c` is the storage's own id."""
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    for claimed, convert in CONVERTERS:
        if claimed == scheme:
            found = convert(parts)
            if found is not None:
                return found
    return None
