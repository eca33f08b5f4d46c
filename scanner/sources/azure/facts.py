"""What the Azure readers found, per storage account and per blob container.

`management.py` fills the management-plane fields (ARM), `dataplane.py` the data-plane ones
(the Blob service), `rbac.py` who can read; `build.py` turns them into resources. A field is
the provider's answer in its documented REST shape (camelCase keys), `None` when the provider
has no such setting, or `Unknown` with the reason it could not be read. In account mode
(`azure:account=NAME`) every management-plane field is `Unknown(DATA_PLANE_ONLY)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Unknown
from scanner.sources.objectstore import Listing, StoreContents


def data_plane_only(account: str) -> Unknown:
    return Unknown(
        f"not read: azure:account={account} reads the Blob data plane only (scan "
        "azure:subscription=ID for the storage account's management-plane settings)"
    )


@dataclass
class ContainerFacts:
    account: str
    name: str
    # Management plane (ARM `blobServices/default/containers`): publicAccess, immutability,
    # default encryption scope.
    arm: dict[str, Any] | Unknown
    # Data plane (List Containers): public access level, metadata, immutability flags.
    data: dict[str, Any] | Unknown | None = None
    contents: StoreContents = field(default_factory=lambda: StoreContents(Listing(())))
    blob_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    # What an anonymous request answered (account mode): True public, False refused.
    anonymous: bool | Unknown | None = None
    anonymous_reason: str = ""
    encryption_scope: dict[str, Any] | Unknown | None = None

    @property
    def id(self) -> str:
        return f"azure://{self.account}/{self.name}"

    @property
    def arm_id_suffix(self) -> str:
        return f"/blobServices/default/containers/{self.name}"


@dataclass
class AccountFacts:
    name: str
    subscription: str | Unknown
    resource_group: str | Unknown
    region: str | Unknown
    arm_id: str | None  # `/subscriptions/.../storageAccounts/NAME`; None in account mode
    blob_url: str | None  # the data-plane endpoint; None: from the connection string
    properties: dict[str, Any] | Unknown
    tags: dict[str, Any] | Unknown
    blob_service: dict[str, Any] | Unknown | None = None  # ARM blobServices/default
    diagnostics: list[dict[str, Any]] | Unknown = field(default_factory=list)
    defender: dict[str, Any] | Unknown | None = None  # defenderForStorageSettings/current
    service_properties: dict[str, Any] | Unknown | None = None  # data plane: logging, retention
    containers: list[ContainerFacts] | Unknown = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def unreadable(self, reason: Unknown) -> None:
        """After an unforeseen failure part-way through the account's reads: every setting it
        may not have reached is `reason`, never the default ("none", "not configured"); the
        containers already listed stay, their contents unknown."""
        self.blob_service = self.diagnostics = self.defender = reason
        self.service_properties = reason
        if not isinstance(self.containers, list) or not self.containers:
            self.containers = reason
            return
        for container in self.containers:
            container.contents = StoreContents(Listing(reason))
            if container.data is None:
                container.data = reason

    def container_arm_id(self, container: ContainerFacts) -> str | None:
        return f"{self.arm_id}{container.arm_id_suffix}" if self.arm_id else None
