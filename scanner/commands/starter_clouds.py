"""Where `modelward init` finds Azure, Google Cloud and container registry settings.

Each CLI keeps what its last login chose in a file: the Azure CLI its subscriptions in
`azureProfile.json`, gcloud its active configuration's project and regions, Docker the
registries it holds credentials for. Reading those files (and the environment variables that
override them) tells which subscription, project or registry a scan would be about, without
calling any service, so `init` stays instant, offline and free of side effects. Nothing here
reads a token or a secret: only identifiers go into the starter file, which is meant to be
committed.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Azure subscription ids are GUIDs; anything else in these places is not one.
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Google Cloud project ids: 6-30 lowercase letters, digits and hyphens, starting with a letter
# (older "domain:project" ids are left for the user to write).
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
# Registry host names as Docker records them (`https://index.docker.io/v1/` is Docker Hub).
_DOCKER_HUB = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")


@dataclass(frozen=True)
class Subscription:
    id: str
    why: str


@dataclass(frozen=True)
class Project:
    id: str
    why: str
    location: str | None  # the Vertex AI region, where gcloud or the environment names one
    credentials: bool  # application default credentials are there for the client libraries


def azure_subscription(env: Mapping[str, str], home: Path) -> Subscription | None:
    """The subscription the environment names, else the Azure CLI's default one."""
    for name in ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"):
        value = env.get(name, "").strip()
        if _GUID.match(value):
            return Subscription(value.lower(), f"{name} is set")
    directory = Path(env["AZURE_CONFIG_DIR"]) if env.get("AZURE_CONFIG_DIR") else home / ".azure"
    profile = _json(directory / "azureProfile.json")
    subscriptions = profile.get("subscriptions") if isinstance(profile, dict) else None
    if not isinstance(subscriptions, list):
        return None
    for entry in subscriptions:
        if not isinstance(entry, dict) or entry.get("isDefault") is not True:
            continue
        sid = str(entry.get("id", ""))
        if _GUID.match(sid):
            return Subscription(sid.lower(), "the Azure CLI's default subscription (az login)")
    return None


def gcp_project(env: Mapping[str, str], home: Path) -> Project | None:
    """The project the environment or gcloud's active configuration names, with the Vertex AI
    region where one is set, and whether application default credentials are there."""
    directory = Path(env["CLOUDSDK_CONFIG"]) if env.get("CLOUDSDK_CONFIG") else (
        home / ".config" / "gcloud"
    )  # fmt: skip
    settings = _gcloud_settings(directory, env)
    project, why = None, ""
    for name in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT"):
        value = env.get(name, "").strip()
        if _PROJECT.match(value):
            project, why = value, f"{name} is set"
            break
    if project is None:
        value = settings.get(("core", "project"), "")
        if _PROJECT.match(value):
            project, why = value, "gcloud's active configuration (gcloud config set project)"
    if project is None:
        return None
    location = None
    for value in (
        env.get("CLOUDSDK_AI_REGION", ""),
        settings.get(("ai", "region"), ""),
        env.get("GOOGLE_CLOUD_REGION", ""),
        env.get("CLOUDSDK_COMPUTE_REGION", ""),
        settings.get(("compute", "region"), ""),
    ):
        if _REGION.match(value.strip()):
            location = value.strip()
            break
    adc = env.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    credentials = (
        Path(adc).is_file()
        if adc
        else (directory / "application_default_credentials.json").is_file()
    )
    return Project(project, why, location, credentials)


def docker_registries(env: Mapping[str, str], home: Path) -> list[str]:
    """The registries Docker holds credentials (or a credential helper) for, in order."""
    directory = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    config = _json(directory / "config.json")
    if not isinstance(config, dict):
        return []
    names: list[str] = []
    for key in ("auths", "credHelpers"):
        section = config.get(key)
        if isinstance(section, dict):
            names += [_registry(str(name)) for name in section]
    return sorted({n for n in names if n})


def _registry(name: str) -> str:
    if name in _DOCKER_HUB:
        return "docker.io"
    host = name.split("://", 1)[-1].split("/", 1)[0]
    return host if re.match(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$", host) else ""


def _gcloud_settings(directory: Path, env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(section, key) -> value of gcloud's active configuration."""
    name = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "").strip()
    if not name:
        try:
            name = (directory / "active_config").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = "default"
    if not re.match(r"^[a-z][-a-z0-9]*$", name or ""):
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(directory / "configurations" / f"config_{name}", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return {}
    return {(s, k): v.strip() for s in parser.sections() for k, v in parser.items(s)}


def _json(path: Path) -> Any:
    """A small JSON file, or None. The Azure CLI writes its profile with a byte-order mark."""
    try:
        if path.stat().st_size > 4 * 1024 * 1024:
            return None
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def home_of(env: Mapping[str, str]) -> Path:
    """The home directory the CLIs would use (HOME, as they read it)."""
    return Path(env.get("HOME") or os.path.expanduser("~"))
