"""Image references: `REGISTRY[/REPOSITORY[:TAG|@DIGEST]]`, as `docker` and the OCI spec write them.

The registry is always named (no implicit Docker Hub): a scan must say where it looks. Names
follow the distribution spec's grammar (repository path components in lower case, tags of at
most 128 word characters, `.` and `-`, digests `ALGORITHM:HEX`), so a typo is a usage error
before any request, not a 404 later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")


class ReferenceError(ValueError):
    """Not a valid image reference; the message says which part."""


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port]
    repository: str | None = None  # None: the whole registry (its catalog)
    tag: str | None = None
    digest: str | None = None

    @property
    def repo_uri(self) -> str:
        """The repository as a `storage` id: `oci://REGISTRY/REPOSITORY`."""
        return f"oci://{self.registry}/{self.repository}"

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        out = self.registry
        if self.repository:
            out += f"/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str) -> Reference:
    text = text.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    if not text:
        raise ReferenceError("no registry given (oci:REGISTRY[/REPOSITORY[:TAG]])")
    registry, _, rest = text.partition("/")
    if not _HOST.match(registry):
        raise ReferenceError(f"{registry!r} is not a registry host[:port]")
    if not rest:
        return Reference(registry)
    digest = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not DIGEST.match(digest):
            raise ReferenceError(f"{digest!r} is not a digest (sha256:64 hex digits)")
    tag = None
    last = rest.rpartition("/")[2]
    if ":" in last:
        rest, _, tag = rest.rpartition(":")
        if not TAG.match(tag):
            raise ReferenceError(f"{tag!r} is not a tag (letters, digits, _ . -, at most 128)")
    rest = rest.rstrip("/")
    if not REPOSITORY.match(rest):
        raise ReferenceError(
            f"{rest!r} is not a repository name (lower-case path components: a-z 0-9 . _ -)"
        )
    return Reference(registry, rest, tag, digest)


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry
    host = host.strip("[]").split("]")[0]
    return host == "localhost" or host.startswith("127.") or host == "::1"
