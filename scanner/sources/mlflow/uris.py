"""Ids and artefact URIs: what a registry entry is called, and where its files are.

Ids follow docs/resource-model.md: `mlflow+TRACKING_URI/models/NAME[/versions/N]` with NAME
percent-quoted and no credentials; an artefact is the URI of the model directory without a
trailing slash, in the form other sources report it (`s3://b/p`, `file:///abs/dir`), so that
linking can meet them. Files the MLflow server proxies (`mlflow-artifacts:/p`) are only
meaningful relative to that server, so their id names it: `mlflow-artifacts://HOST:PORT/p`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from scanner.redact import redact_uri
from scanner.sources import store_uris
from scanner.sources.mlflow.settings import Target

_LOGGED_MODEL = re.compile(r"^models:/(m-[0-9a-fA-F]+)/?$")
_RUNS = re.compile(r"^runs:/([^/]+)/?(.*)$")
# Schemes whose "user@host" part is a credential; in others (wasbs://container@account) it is not.
_USERINFO_SCHEMES = frozenset({"http", "https", "ftp", "sftp", "mlflow-artifacts"})


def model_id(target: Target, name: str) -> str:
    return f"mlflow+{target.public}/models/{quote(name, safe='')}"


def version_id(target: Target, name: str, version: str) -> str:
    return f"{model_id(target, name)}/versions/{quote(str(version), safe='')}"


@dataclass(frozen=True)
class Location:
    """Where a version's files are: the artefact id and how to list it (None: not by us)."""

    uri: str
    provider: str  # local, mlflow-artifacts, s3, gs, azure, ...
    list_uri: str | None  # what the artifact repository is given to list it
    path: str | None = None  # local path


def logged_model_of(source: str) -> str | None:
    """The logged-model id of a `models:/m-…` source (MLflow 3), else None."""
    m = _LOGGED_MODEL.match(source.strip())
    return m.group(1) if m else None


def run_path_of(source: str) -> tuple[str, str] | None:
    """(run id, path inside the run's artifacts) of a `runs:/ID/PATH` source."""
    m = _RUNS.match(source.strip())
    return (m.group(1), m.group(2).strip("/")) if m else None


def locate(uri: str, target: Target) -> Location:
    """The canonical artefact location of a storage URI (already resolved from runs:/, models:/).

    A plain path is a local directory. `mlflow-artifacts:` is qualified with the tracking
    server's host. An object-store URI a storage source reports under another spelling
    (`wasbs://c@acct.blob.core.windows.net/p`) becomes that source's id
    (`azure://acct/c/p`, `scanner.sources.store_uris`). Everything else (s3, gs, hdfs, ...) is
    kept as the registry wrote it, without a trailing slash and without credentials."""
    uri = uri.strip()
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme or (len(scheme) == 1 and os.name == "nt"):
        path = os.path.normpath(os.path.abspath(os.path.expanduser(uri)))
        return Location(Path(path).as_uri(), "local", path, path)
    if scheme == "file":
        path = os.path.normpath(unquote(parts.path)) or "/"
        return Location(Path(path).as_uri(), "local", path, path)
    if scheme == "mlflow-artifacts":
        server = urlsplit(target.public)
        netloc = parts.netloc.rpartition("@")[2] or server.netloc
        path = "/" + parts.path.strip("/")
        public = urlunsplit(("mlflow-artifacts", netloc, path.rstrip("/") or "/", "", ""))
        listing = f"mlflow-artifacts:{path}" if not parts.netloc else public
        return Location(public.rstrip("/"), "mlflow-artifacts", listing)
    stored = store_uris.canonical(uri)
    if stored is not None:  # the id the object store's own source reports (azure://...)
        canonical_id, store = stored
        return Location(canonical_id, store, None)
    netloc = parts.netloc
    if scheme in _USERINFO_SCHEMES and "@" in netloc:
        netloc = netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))
    provider = {"s3a": "s3", "s3n": "s3", "wasbs": "azure", "wasb": "azure", "abfss": "azure"}
    # `container@account` in wasbs:// is no credential: only the query is redacted there.
    safe = redact_uri(clean) if "@" not in netloc else _redact_query(clean)
    return Location(safe, provider.get(scheme, scheme), None)


def _redact_query(uri: str) -> str:
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    masked = urlsplit(redact_uri(urlunsplit(("https", "h", "/", parts.query, "")))).query
    return urlunsplit(parts._replace(query=masked))


def join(base: str, sub: str) -> str:
    """`base/sub` for artifact URIs and paths, without doubled or trailing slashes."""
    base = base.rstrip("/")
    sub = sub.strip("/")
    return f"{base}/{sub}" if sub else base


def artefact_name(uri: str, versions: Sequence[str] = ()) -> str:
    """What a person calls the files: the registry versions that use them (`fraud/3`), else
    where they are (`b/fraud/3` for s3://b/fraud/3), never a bare last segment like `model`."""
    if versions:
        shown = sorted(set(versions))
        return ", ".join(shown[:3]) + (f" (+{len(shown) - 3} more)" if len(shown) > 3 else "")
    parts = urlsplit(uri)
    pieces = [p for p in unquote(parts.path).split("/") if p]
    return "/".join([parts.netloc, *pieces] if parts.netloc else pieces) or uri
