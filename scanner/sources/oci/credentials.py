"""Registry credentials as `docker` and `oras` find them: the Docker config file and its helpers.

Order, as docker's own client resolves it (docker/cli `config/configfile`): a `credHelpers`
entry for the registry runs `docker-credential-NAME get`; else an `auths` entry's inline
`auth` (base64 `user:secret`), `username`/`password` or `identitytoken`; else the default
`credsStore` helper. The helper gets the registry host on stdin and answers JSON
(`Username`, `Secret`; the user `<token>` means the secret is an identity token, exchanged
for an access token with OAuth2's refresh grant). Nothing here is ever written to results or
problems: errors name the helper and the registry, never a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELPER_TIMEOUT = 30


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    secret: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    origin: str = "none"  # where they came from, for messages: `credHelpers[...]`, `auths`

    @property
    def anonymous(self) -> bool:
        return self.secret is None and self.identity_token is None


ANONYMOUS = Credentials()


class CredentialsError(Exception):
    """The config file or a credential helper could not be used; the message names which."""


def config_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    base = os.environ.get("DOCKER_CONFIG")
    path = Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"
    return path if path.is_file() else None


def load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read the Docker config {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise CredentialsError(f"the Docker config {path} is not a JSON object")
    return doc


def credentials_for(config: dict[str, Any], registry: str) -> Credentials:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(registry), str):
        return _from_helper(helpers[registry], registry)
    auths = config.get("auths")
    if isinstance(auths, dict):
        for key, entry in auths.items():
            if _host_of(key) == registry and isinstance(entry, dict):
                found = _from_auth_entry(entry, registry)
                if found is not None:
                    return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _from_helper(store, registry, required=False)
    return ANONYMOUS


def _host_of(key: str) -> str:
    key = key.split("://", 1)[-1]
    return key.split("/", 1)[0]


def _from_auth_entry(entry: dict[str, Any], registry: str) -> Credentials | None:
    if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
        return Credentials(
            username=entry.get("username"),
            identity_token=entry["identitytoken"],
            origin=f"auths[{registry}].identitytoken",
        )
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, secret = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(
                f"auths[{registry}].auth in the Docker config is not base64 of user:password"
            ) from None
        if not sep:
            raise CredentialsError(f"auths[{registry}].auth in the Docker config has no ':'")
        return Credentials(user, secret, origin=f"auths[{registry}]")
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(entry["username"], entry["password"], origin=f"auths[{registry}]")
    return None


def _from_helper(name: str, registry: str, required: bool = True) -> Credentials:
    binary = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [binary, "get"],
            input=registry.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        if not required:
            return ANONYMOUS
        raise CredentialsError(
            f"credential helper {binary} (for {registry}) is not installed"
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"credential helper {binary} timed out for {registry}") from None
    if done.returncode != 0:
        message = done.stdout.decode("utf-8", "replace").strip()
        if "credentials not found" in message.lower():  # the helper's own "no entry" answer
            return ANONYMOUS
        raise CredentialsError(f"credential helper {binary} failed for {registry}")
    try:
        answer = json.loads(done.stdout)
        user, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise CredentialsError(f"credential helper {binary} answered no credentials") from None
    if user == "<token>":
        return Credentials(identity_token=secret, origin=binary)
    return Credentials(user, secret, origin=binary)
