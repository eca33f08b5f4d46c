"""Normalised resources from what the Azure readers found (docs/resource-model.md).

- one `storage` per blob container (`azure://ACCOUNT/CONTAINER`): the container is what
  holds model files and has a public access level; the account's settings (shared key, TLS,
  network rules, encryption, versioning, logging) are copied onto each of its containers, so
  the built-in storage policies apply unchanged;
- `artefact`s through the shared object-store builder, with the governance facts of their
  blobs' metadata over their container's;
- one `principal` per role-assignment principal that can read a container
  (`azure-principal://OBJECT_ID`), and `*` when a container is public;
- one `audit_trail` per diagnostic setting that logs blob reads;
- one `threat_detection` per storage account (`azure-defender://ACCOUNT`).
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.azure import access, rbac, settings
from scanner.sources.azure.access import ANYONE, Grant
from scanner.sources.azure.facts import AccountFacts, ContainerFacts
from scanner.sources.azure.faults import Calls
from scanner.sources.azure.options import AzureOptions
from scanner.sources.objectstore import Container, build_artefacts
from scanner.sources.tags import AZURE_METADATA, governance_facts, layered

PROVIDER = "azure"


def container_of(account: AccountFacts, container: ContainerFacts) -> Container:
    return Container(
        provider=PROVIDER,
        kind="container",
        name=container.name,
        uri=container.id,
        label="Azure Blob",
        source_kind="azure",
        storage=container.id,
        location={"account": account.name, "region": account.region},
    )


def public_level(container: ContainerFacts) -> str | Unknown:
    """`none`, `blob` or `container`: from ARM when read, else from the data plane."""
    for source in (container.arm, container.data):
        if isinstance(source, dict) and "publicAccess" in source:
            level = source.get("publicAccess")
            text = "none" if level is None else str(level).lower()
            if text not in ("none", "blob", "container"):
                return Unknown(f"unknown public access level {level!r}")
            return text
    for source in (container.arm, container.data):
        if isinstance(source, Unknown):
            return source
    return "none"  # ARM omits publicAccess when it is None


def public(
    account: settings.AccountSettings, container: ContainerFacts, management: bool
) -> tuple[bool | Unknown, list[str], str | Unknown]:
    level = public_level(container)
    if isinstance(level, Unknown):
        return level, [], level
    if level == "none":
        return False, [], level
    what = "read and list its blobs" if level == "container" else "read any blob by name"
    opened = f"container public access level '{level}': anyone can {what}"
    if not management:
        anonymous = container.anonymous
        if anonymous is True:
            return True, [opened, container.anonymous_reason], level
        if anonymous is False:
            return False, [container.anonymous_reason], level
        return anonymous or Unknown("not probed"), [opened], level
    allowed = account.allow_public()
    if isinstance(allowed, Unknown):
        return allowed, [opened], level
    if allowed is False:
        return (
            False,
            [
                f"public access level '{level}' does not take effect: the account forbids "
                "anonymous access (allowBlobPublicAccess: false)"
            ],
            level,
        )
    how = (
        "the account allows anonymous access (allowBlobPublicAccess: true)"
        if allowed
        else "allowBlobPublicAccess is not set: accounts created before November 2023 then "
        "allow anonymous access"
    )
    return True, [opened, how], level


class Builder:
    def __init__(self, source: str, options: AzureOptions, calls: Calls) -> None:
        self.source = source
        self.options = options
        self.calls = calls
        # principal id -> (its grants, the assignment that made it) for `principals()`
        self.grants: dict[str, list[Grant]] = defaultdict(list)
        self.assignments: dict[str, rbac.Assignment] = {}

    # -- storage ---------------------------------------------------------------------------

    def storage(
        self, account: AccountFacts, container: ContainerFacts, access_rbac: rbac.Rbac | Unknown
    ) -> Resource:
        management = self.options.management
        conf = settings.AccountSettings(account, self.calls)
        is_public, reasons, level = public(conf, container, management)
        grants = self._grants(account, container, access_rbac, conf)
        if not isinstance(grants, Unknown):
            if is_public is True:
                anyone = access.anonymous_grant(container.id, str(level))
                self.grants[ANYONE].append(anyone)
                grants = [*grants, anyone]
            elif isinstance(is_public, Unknown):
                grants = Unknown(f"whether anyone can read it is unknown ({is_public.reason})")
        readers, count, grant_attrs = access.readers(grants)
        tls_only, minimum_tls, https_only = conf.tls()
        restricted, network_reasons, network = conf.network()
        lock, immutability = settings.immutability(conf, container)
        read_events, _ = settings.read_logs(account)
        objects = container.contents.objects
        attributes: dict[str, Any] = {
            "provider": PROVIDER,
            "account": account.name,
            "region": account.region,
            "subscription": account.subscription,
            "resource_group": account.resource_group,
            "container": container.name,
            "holds_models": container.contents.holds_models(
                self.options.max_objects_per_container, "blobs", "max_objects_per_container"
            ),
            "listing_truncated": container.contents.truncated,
            "object_count": objects if isinstance(objects, Unknown) else len(objects),
            "public": is_public,
            "public_reasons": reasons,
            "public_access_level": level,
            "allow_blob_public_access": conf.allow_public(),
            "shared_key_access": conf.shared_key(),
            "sas": conf.sas(),
            "encryption": conf.encryption(container),
            "versioning": settings.versioning(account, self.calls),
            "soft_delete": settings.soft_delete(account, self.calls),
            "object_lock": lock,
            "immutability": immutability,
            "tls_only": tls_only,
            "minimum_tls_version": minimum_tls,
            "https_only": https_only,
            "network_restricted": restricted,
            "network_reasons": network_reasons,
            "network_restricted_reasons": network_reasons,
            "network": network,
            "access_logging": {
                "server_access": settings.classic_read_logging(account),
                "read_events": read_events,
            },
            "readers": readers,
            "reader_count": count,
            "access_grants": grant_attrs,
        }
        attributes.update(self._governance(account, container))
        raw = {
            "container": container.arm if isinstance(container.arm, dict) else None,
            "data_plane": container.data if isinstance(container.data, dict) else None,
        }
        return Resource(
            id=container.id,
            type="storage",
            name=f"{account.name}/{container.name}",
            source=self.source,
            attributes=attributes,
            raw=redact(raw, mask_keys=True),
        )

    def _grants(
        self,
        account: AccountFacts,
        container: ContainerFacts,
        access_rbac: rbac.Rbac | Unknown,
        conf: settings.AccountSettings,
    ) -> list[Grant] | Unknown:
        if isinstance(access_rbac, Unknown):
            return access_rbac
        container_arm_id = account.container_arm_id(container)
        assert account.arm_id is not None and container_arm_id is not None
        grants = access.container_grants(
            access_rbac, account.arm_id, container_arm_id, container.id, conf.shared_key()
        )
        if isinstance(grants, Unknown):
            return grants
        listed = access_rbac.assignments if isinstance(access_rbac.assignments, list) else []
        assignments = {access.principal_id(a.principal): a for a in listed}
        for g in grants:
            self.grants[g.principal].append(g)
            if g.principal in assignments:
                self.assignments.setdefault(g.principal, assignments[g.principal])
        return grants

    def _governance(self, account: AccountFacts, container: ContainerFacts) -> dict[str, Any]:
        metadata = _metadata(container)
        tags = account.tags if isinstance(account.tags, dict) else {}
        out: dict[str, Any] = {}
        if isinstance(metadata, Unknown):
            out["metadata"] = metadata
            return out
        out["metadata"] = redact(metadata, mask_keys=True)
        out.update(governance_facts(layered(metadata, tags), dialect=AZURE_METADATA))
        return out

    # -- artefacts ---------------------------------------------------------------------------

    def artefacts(
        self,
        account: AccountFacts,
        container: ContainerFacts,
        reader: Any,
        pool: Executor | None = None,
    ) -> list[Resource]:
        """The container's model directories; their signatures are verified against the
        config's trust within `integrity_max_bytes` (the Blob service keeps no SHA-256, so
        signed files are read once), concurrently on the source's `pool`."""
        built = build_artefacts(
            container.contents,
            container_of(account, container),
            self.source,
            reader,
            self.options.integrity_max_bytes,
            self.options.trust,
            pool=pool,
            workers=self.options.workers,
        )
        container_meta = _metadata(container)
        base = container_meta if isinstance(container_meta, dict) else {}
        out: list[Resource] = []
        for resource in built:
            keys = resource.raw.get("keys", []) if isinstance(resource.raw, dict) else []
            blobs = [
                container.blob_metadata[k] for k in sorted(keys) if k in container.blob_metadata
            ]
            facts = governance_facts(layered(*blobs, base), dialect=AZURE_METADATA)
            if facts:
                resource = replace(resource, attributes={**resource.attributes, **facts})
            out.append(resource)
        return out

    # -- principals --------------------------------------------------------------------------

    def principals(self, access_rbac: rbac.Rbac | Unknown) -> list[Resource]:
        out: list[Resource] = []
        if isinstance(access_rbac, Unknown):
            return out
        for pid, grants in sorted(self.grants.items()):
            mine = sorted(grants, key=lambda g: (g.storage, g.via, g.scope))
            attrs: dict[str, Any] = {
                "provider": PROVIDER,
                "can_read": [Ref(s) for s in sorted({g.storage for g in mine})],
                "grants": [g.as_attr("storage", Ref(g.storage)) for g in mine],
            }
            if pid == ANYONE:
                attrs.update(kind="anonymous", admin=False, cross_account=True, account=None)
                out.append(
                    Resource(
                        id=ANYONE,
                        type="principal",
                        name="anyone",
                        source=self.source,
                        attributes=attrs,
                    )
                )
                continue
            assignment = self.assignments[pid]
            kind = rbac.kind(assignment)
            attrs.update(
                kind=kind,
                principal_type=rbac.principal_type(assignment, access_rbac),
                object_id=assignment.principal,
                account=self.options.subscription,
                admin=self._admin(pid, access_rbac),
                cross_account=kind == "external",
            )
            if kind == "human":
                attrs["just_in_time"] = _just_in_time(mine, access_rbac)
            out.append(
                Resource(
                    id=pid,
                    type="principal",
                    name=assignment.principal,
                    source=self.source,
                    attributes=attrs,
                )
            )
        return out

    @staticmethod
    def _admin(pid: str, access_rbac: rbac.Rbac) -> bool | Unknown:
        """Can it grant itself anything (`roleAssignments/write`), anywhere in scope?"""
        assert isinstance(access_rbac.assignments, list)
        for a in access_rbac.assignments:
            if access.principal_id(a.principal) != pid:
                continue
            role = access_rbac.role(a)
            if isinstance(role, Unknown):
                return role
            if role.allows(rbac.ASSIGN_ROLES, data=False):
                return True
        return False


def _just_in_time(grants: list[Grant], access_rbac: rbac.Rbac) -> bool | Unknown:
    """Every read grant comes from an assignment activated through PIM (time-bound)."""
    activated = access_rbac.activated
    if isinstance(activated, Unknown):
        return Unknown(f"PIM activations unreadable ({activated.reason})")
    ids = {g.assignment.lower() for g in grants}
    return bool(ids) and ids <= activated


def _metadata(container: ContainerFacts) -> dict[str, str] | Unknown:
    data = container.data
    if isinstance(data, Unknown):
        return Unknown(f"container metadata unreadable ({data.reason})")
    if not isinstance(data, dict):
        return {}
    meta = data.get("metadata")
    return dict(meta) if isinstance(meta, dict) else {}


# -- audit trails and threat detection ------------------------------------------------------


def audit_trails(account: AccountFacts, source: str) -> list[Resource]:
    if isinstance(account.diagnostics, Unknown) or not isinstance(account.containers, list):
        return []
    out = []
    for setting in account.diagnostics:
        sid, name = setting.get("id"), setting.get("name")
        props = setting.get("properties")
        if not isinstance(sid, str) or not isinstance(props, dict):
            continue
        reads = settings.reads_logged(props)
        out.append(
            Resource(
                id=sid,
                type="audit_trail",
                name=f"{account.name}/{name}",
                source=source,
                attributes={
                    "provider": PROVIDER,
                    "account": account.name,
                    "region": account.region,
                    "enabled": reads,
                    "read_events_on": [Ref(c.id) for c in account.containers] if reads else [],
                    "all_buckets_read_events": False,
                    "destinations": {
                        d: props.get(d) for d in settings.DESTINATIONS if props.get(d)
                    },
                    "categories": sorted(
                        str(log.get("category") or log.get("categoryGroup"))
                        for log in props.get("logs") or []
                        if isinstance(log, dict) and log.get("enabled") is True
                    ),
                },
                raw=redact(setting, mask_keys=True),
            )
        )
    return out


def threat_detection(
    account: AccountFacts, plan: dict[str, Any] | Unknown | None, source: str
) -> Resource:
    enabled, details = settings.defender(account, plan)
    return Resource(
        id=f"azure-defender://{account.name}",
        type="threat_detection",
        name=f"defender for storage {account.name}",
        source=source,
        attributes={
            "provider": PROVIDER,
            "account": account.name,
            "region": account.region,
            "subscription": account.subscription,
            "enabled": enabled,
            # Defender for Storage is storage protection itself (activity monitoring of the
            # account's data plane); malware scanning is reported beside it.
            "storage_protection": enabled,
            **details,
        },
        raw=redact(account.defender, mask_keys=True)
        if isinstance(account.defender, dict)
        else None,
    )
