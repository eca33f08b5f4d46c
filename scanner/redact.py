"""Secrets out of evidence: credentials in URIs and values under secret-sounding keys.

Results, reports and BOMs are shared with auditors and pasted into pull requests, and the
values they quote come from registries, tags and evidence links that people fill in by hand.
Pre-signed S3/GCS URLs, Azure SAS tokens and `user:password@host` URIs are common there; every
source passes what it keeps as evidence through these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_SECRET_WORDS = ("token", "secret", "password", "passwd", "signature", "credential", "private")
_SECRET_NAMES = frozenset({"sig", "key", "apikey", "api_key", "auth", "code", "authorization"})
_URI = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
# Signed-URL parameters and tokens copied on their own, outside a whole URI ("copied from
# ?X-Amz-Signature=...", "Authorization: Bearer ..."): the query-parameter rule of
# `redact_uri` only sees them inside a URI. A parameter counts where a query could start it
# (start, whitespace, ?, &, ;, a quote or bracket), so words merely ending in "sig" are kept.
_BARE_PARAMETER = re.compile(
    r"(?i)(?:^|(?<=[\s?&;\"'(\[{,]))"
    r"(x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature|x-goog-credential"
    r"|signature|sig|access_token|token)=[^&\s\"'<>]+"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def redact_uri(uri: str) -> str:
    """Mask the userinfo and secret query parameters of one URI; anything else is kept."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}={MASK}" if sep and is_secret_name(name) else f"{name}{sep}{value}"
        for name, sep, value in (pair.partition("=") for pair in parts.query.split("&"))
    )
    if netloc == parts.netloc and query == parts.query:
        return uri
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """Every URI inside free text (a description, a tag value) redacted, and every signed-URL
    parameter, bearer token or JWT wherever it stands."""
    if "://" in text:
        text = _URI.sub(lambda m: redact_uri(m.group()), text)
    if "=" in text:
        text = _BARE_PARAMETER.sub(lambda m: f"{m.group(1)}={MASK}", text)
    lowered = text.lower()
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    if "eyj" in lowered:
        text = _JWT.sub(MASK, text)
    return text


def redact(value: Any, *, mask_keys: bool = False) -> Any:
    """Recursively redact URIs in strings; with `mask_keys`, also mask values under
    secret-sounding keys. Key masking is for provider data (tags, raw answers), never for the
    normalised attributes, whose names (`signature`, `in_private_network`) are ours."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        # Keys are redacted too: tag names and evidence paths can carry a URI.
        return {
            (redact_text(k) if isinstance(k, str) else k): MASK
            if mask_keys and isinstance(k, str) and is_secret_name(k) and v not in (None, "")
            else redact(v, mask_keys=mask_keys)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, mask_keys=mask_keys) for v in value]
    return value
