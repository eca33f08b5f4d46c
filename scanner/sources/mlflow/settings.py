"""What an `mlflow:` spec and its options mean: the tracking URI and the conventions to read.

Everything here is checked before any request is sent (the scan's `prepare` step builds the
source), so a typo in an option costs an exit 2, not a scan.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scanner.errors import UsageError
from scanner.sources.interface import SourceSpec

# The inventory fields read from tags, and the tag names they are read from by default.
DEFAULT_TAGS: dict[str, str] = {
    "owner": "owner",
    "classification": "classification",
    "ip_value": "ip_value",
    "authorized_deployments": "authorized_deployments",
    "retired": "retired",
    "output_mode": "output_mode",
    "watermark": "watermark",
    "digest": "sha256",
    "signature": "signature",  # where the version's signature is (a URI or a relative path)
}
DEFAULT_PRODUCTION_ALIASES = ("production", "champion")
DEFAULT_STAGING_ALIASES = ("staging", "challenger")
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000  # the registered-model search refuses more per page
DEFAULT_WORKERS = 8
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 2
DEFAULT_MAX_FILES = 10_000


@dataclass(frozen=True)
class Target:
    """Where the registry is. `uri` is what the MLflow client is given (credentials kept, as the
    user wrote them); `public` is the same without credentials, for ids and messages."""

    uri: str
    public: str
    kind: str  # "rest", "sql" or "file"

    @property
    def is_local(self) -> bool:
        return self.kind != "rest"


@dataclass(frozen=True)
class Settings:
    target: Target
    production_aliases: tuple[str, ...] = DEFAULT_PRODUCTION_ALIASES
    staging_aliases: tuple[str, ...] = DEFAULT_STAGING_ALIASES
    tags: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TAGS))
    page_size: int = DEFAULT_PAGE_SIZE
    workers: int = DEFAULT_WORKERS
    timeout: int = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_RETRIES
    max_files: int = DEFAULT_MAX_FILES


def strip_credentials(uri: str) -> str:
    """The URI without `user:password@` (ids must not carry them, masked or not)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def parse_target(text: str) -> Target:
    """`http(s)://host[:port][/prefix]`, `sqlite:///path`, another SQLAlchemy URL, `file:///dir`
    or a plain directory (`./mlruns`). Local paths are made absolute so ids do not depend on
    the working directory."""
    text = text.strip()
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("http", "https"):
        rest_uri = text.rstrip("/")
        if not urlsplit(rest_uri).hostname:
            raise UsageError(f"mlflow:{strip_credentials(text)}: the URL names no host")
        return Target(rest_uri, strip_credentials(rest_uri), "rest")
    if scheme == "sqlite":
        path = text[len("sqlite:///") :] if text.lower().startswith("sqlite:///") else ""
        if not path or path.startswith(":memory:"):
            raise UsageError(f"mlflow:{text}: a sqlite store needs a file (sqlite:///path.db)")
        sql_uri = f"sqlite:///{os.path.abspath(os.path.expanduser(path))}"
        return Target(sql_uri, sql_uri, "sql")
    if (scheme and "+" in scheme) or scheme in ("postgresql", "mysql", "mssql"):
        return Target(text, strip_credentials(text), "sql")
    if scheme == "file":
        path = urlsplit(text).path
    elif scheme:
        raise UsageError(
            f"mlflow:{strip_credentials(text)}: unsupported tracking URI scheme {scheme!r} "
            "(use http://, https://, sqlite:///, file:// or a directory)"
        )
    else:
        path = text
    uri = Path(os.path.abspath(os.path.expanduser(path))).as_uri()
    return Target(uri, uri, "file")


def load_settings(spec: SourceSpec) -> Settings:
    opts = spec.options
    where = f"source 'mlflow:{strip_credentials(spec.target.strip())}'"
    target = parse_target(spec.target)
    tags = dict(DEFAULT_TAGS)
    given_tags = opts.get("tags", {})
    if not isinstance(given_tags, Mapping):
        raise UsageError(f"{where}: option 'tags' must be a mapping of field to tag name")
    for key, value in given_tags.items():
        if key not in DEFAULT_TAGS:
            allowed = ", ".join(sorted(DEFAULT_TAGS))
            raise UsageError(
                f"{where}: option 'tags' has unknown field {key!r} (allowed: {allowed})"
            )
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where}: option 'tags.{key}' must be a tag name, got {value!r}")
        tags[key] = value
    return Settings(
        target=target,
        production_aliases=_names(opts, "production_aliases", DEFAULT_PRODUCTION_ALIASES, where),
        staging_aliases=_names(opts, "staging_aliases", DEFAULT_STAGING_ALIASES, where),
        tags=tags,
        page_size=_positive(opts, "page_size", DEFAULT_PAGE_SIZE, where, MAX_PAGE_SIZE),
        workers=_positive(opts, "workers", DEFAULT_WORKERS, where, 64),
        timeout=_positive(opts, "timeout", DEFAULT_TIMEOUT, where, 3600),
        max_retries=_positive(opts, "max_retries", DEFAULT_RETRIES, where, 10, minimum=0),
        max_files=_positive(opts, "max_files", DEFAULT_MAX_FILES, where, 1_000_000),
    )


def _names(
    opts: Mapping[str, Any], key: str, default: tuple[str, ...], where: str
) -> tuple[str, ...]:
    value = opts.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where}: option {key!r} must be a list of alias names, got {value!r}")
    return tuple(v.lower() for v in value)


def _positive(
    opts: Mapping[str, Any], key: str, default: int, where: str, maximum: int, minimum: int = 1
) -> int:
    value = opts.get(key, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise UsageError(
            f"{where}: option {key!r} must be an integer from {minimum} to {maximum}, got {value!r}"
        )
    return value
