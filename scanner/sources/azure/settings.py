"""A storage account's and a container's settings, read into the resource model's attributes.

Each function takes the answers as the APIs document them (`facts.py`) and returns attribute
values; an Unknown input gives an Unknown output with its reason, never a default. Where
Azure documents what an unset property means, that meaning is used (and said in the reason):
`allowBlobPublicAccess` unset allows anonymous access on accounts created before November
2023; `allowSharedKeyAccess` unset is true; `minimumTlsVersion` unset is TLS 1.0;
`supportsHttpsTrafficOnly` unset is true (the default since API version 2019-04-01).
"""

from __future__ import annotations

from typing import Any

from scanner.inventory import Unknown
from scanner.sources.azure.facts import AccountFacts, ContainerFacts
from scanner.sources.azure.faults import Calls

STRONG_TLS = ("TLS1_2", "TLS1_3")
READ_LOG_CATEGORIES = frozenset({"storageread"})
READ_LOG_GROUPS = frozenset({"alllogs"})  # the `audit` group holds StorageWrite/Delete only
DESTINATIONS = (
    "workspaceId",
    "storageAccountId",
    "eventHubAuthorizationRuleId",
    "marketplacePartnerId",
)


class AccountSettings:
    """Typed reads of one account's ARM properties (`Storage Accounts - List`)."""

    def __init__(self, facts: AccountFacts, calls: Calls) -> None:
        self.facts = facts
        self.calls = calls
        self.operation = f"Storage Accounts - List ({facts.name})"

    def get(self, key: str, kinds: type | tuple[type, ...], props: Any = None) -> Any:
        source = self.facts.properties if props is None else props
        if isinstance(source, Unknown):
            return source
        return self.calls.field(source, key, kinds, self.operation)

    def obj(self, key: str, props: Any = None) -> dict[str, Any] | Unknown:
        value = self.get(key, dict, props)
        return {} if value is None else value

    # -- public access -----------------------------------------------------------------

    def allow_public(self) -> bool | Unknown | None:
        value: bool | Unknown | None = self.get("allowBlobPublicAccess", bool)
        return value

    def shared_key(self) -> bool | Unknown:
        value = self.get("allowSharedKeyAccess", bool)
        return True if value is None else value

    def sas(self) -> dict[str, Any] | Unknown:
        shared = self.shared_key()
        policy = self.obj("sasPolicy")
        if isinstance(policy, Unknown):
            return policy
        return {
            # With shared keys allowed, anyone holding a key (or allowed to list the keys)
            # can sign account and service SAS tokens the account cannot list or revoke
            # one by one; without, only user-delegation SAS (Entra ID) are possible.
            "key_signed": shared,
            "expiration_period": policy.get("sasExpirationPeriod"),
            "expiration_action": policy.get("expirationAction"),
        }

    # -- transport and network ----------------------------------------------------------

    def tls(self) -> tuple[bool | Unknown, Any, Any]:
        """(tls_only, minimum version, https only)."""
        https = self.get("supportsHttpsTrafficOnly", bool)
        minimum = self.get("minimumTlsVersion", str)
        https = True if https is None else https
        minimum = "TLS1_0" if minimum is None else minimum
        for value in (https, minimum):
            if isinstance(value, Unknown):
                return value, minimum, https
        return bool(https) and minimum in STRONG_TLS, minimum, https

    def network(self) -> tuple[bool | Unknown, list[str], dict[str, Any] | Unknown]:
        """(network_restricted, reasons, the rules as read)."""
        public = self.get("publicNetworkAccess", str)
        acls = self.obj("networkAcls")
        endpoints = self.get("privateEndpointConnections", list)
        for value in (public, acls, endpoints):
            if isinstance(value, Unknown):
                return value, [], value
        assert isinstance(acls, dict)
        default = acls.get("defaultAction", "Allow")
        ip_rules = acls.get("ipRules") or []
        vnet_rules = acls.get("virtualNetworkRules") or []
        private = [e for e in endpoints or [] if _endpoint_state(e) == "approved"]
        rules = {
            "public_network_access": public or "Enabled",
            "default_action": default,
            "bypass": acls.get("bypass"),
            "ip_rules": len(ip_rules),
            "virtual_network_rules": len(vnet_rules),
            "private_endpoints": len(private),
        }
        if public in ("Disabled", "SecuredByPerimeter"):
            reason = (
                "public network access is disabled: only private endpoints reach it"
                if public == "Disabled"
                else "public network access is limited by a network security perimeter"
            )
            return True, [reason], rules
        if str(default).lower() != "deny":
            return (
                False,
                [f"the firewall's default action is {default}: any network reaches it"],
                rules,
            )
        if ip_rules:
            return False, [f"the firewall allows {len(ip_rules)} public IP range(s)"], rules
        return (
            True,
            [
                "the firewall denies by default and allows only virtual networks and private "
                f"endpoints ({len(vnet_rules)} network rule(s), {len(private)} private endpoint(s))"
            ],
            rules,
        )

    # -- encryption ---------------------------------------------------------------------

    def encryption(self, container: ContainerFacts) -> dict[str, Any] | Unknown:
        enc = self.obj("encryption")
        if isinstance(enc, Unknown):
            return enc
        source = str(enc.get("keySource") or "Microsoft.Storage")
        vault = enc.get("keyvaultproperties") or {}
        customer: bool | Unknown = source.lower() == "microsoft.keyvault"
        key = None
        if customer is True and isinstance(vault, dict):
            key = (
                "/".join(
                    str(v).rstrip("/")
                    for v in (vault.get("keyvaulturi"), vault.get("keyname"))
                    if v
                )
                or None
            )
        out = {
            "at_rest": True,  # Azure Storage encrypts every blob (AES-256); it cannot be off
            "algorithm": "aes256",
            "key_source": source.lower(),
            "kms_key": key,
            "customer_managed_key": customer,
            "infrastructure_encryption": bool(enc.get("requireInfrastructureEncryption")),
        }
        scope = container.encryption_scope
        if scope is not None:
            arm = container.arm if isinstance(container.arm, dict) else {}
            out["scope"] = arm.get("defaultEncryptionScope")
            if isinstance(scope, Unknown):
                out["customer_managed_key"] = Unknown(
                    f"the container's default encryption scope is unreadable ({scope.reason})"
                )
            else:
                scope_source = str((scope.get("properties") or {}).get("source") or "")
                out["customer_managed_key"] = scope_source.lower() == "microsoft.keyvault"
        return out


def _endpoint_state(connection: Any) -> str:
    if not isinstance(connection, dict):
        return ""
    props = connection.get("properties") or {}
    state = (props.get("privateLinkServiceConnectionState") or {}).get("status", "")
    return str(state).lower()


# -- the Blob service: versioning, soft delete, logging -----------------------------------


def blob_service(facts: AccountFacts, calls: Calls) -> dict[str, Any] | Unknown:
    service = facts.blob_service
    if isinstance(service, Unknown):
        return service
    props = (service or {}).get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        return calls.malformed(
            f"Blob Services - Get Service Properties ({facts.name})", "properties"
        )
    return props


def versioning(facts: AccountFacts, calls: Calls) -> bool | Unknown:
    props = blob_service(facts, calls)
    if isinstance(props, Unknown):
        return props
    value = calls.field(props, "isVersioningEnabled", bool, f"Blob Services ({facts.name})")
    return False if value is None else value


def soft_delete(facts: AccountFacts, calls: Calls) -> dict[str, Any] | Unknown:
    """{blobs, containers}: each {enabled, days}. From the management plane when read, else
    the data plane's delete retention (which has no container soft delete)."""
    props = blob_service(facts, calls)
    if not isinstance(props, Unknown):
        return {
            "blobs": _retention(props.get("deleteRetentionPolicy")),
            "containers": _retention(props.get("containerDeleteRetentionPolicy")),
        }
    data = facts.service_properties
    if isinstance(data, dict):
        return {"blobs": _retention(data.get("deleteRetentionPolicy")), "containers": props}
    return props


def _retention(policy: Any) -> dict[str, Any]:
    if not isinstance(policy, dict):
        return {"enabled": False, "days": None}
    return {"enabled": policy.get("enabled") is True, "days": policy.get("days")}


def immutability(
    account: AccountSettings, container: ContainerFacts
) -> tuple[bool | Unknown, dict[str, Any] | Unknown]:
    """(object_lock, details): a time-based retention policy or legal hold on the container,
    version-level immutability (WORM) on it or on the whole account."""
    source = container.arm if not isinstance(container.arm, Unknown) else container.data
    if not isinstance(source, dict):
        unknown = source if isinstance(source, Unknown) else Unknown("container not listed")
        return unknown, unknown
    worm = source.get("immutableStorageWithVersioning")
    if isinstance(worm, dict):
        worm = worm.get("enabled") is True
    whole = account.obj("immutableStorageWithVersioning")
    account_worm: bool | Unknown = (
        whole if isinstance(whole, Unknown) else whole.get("enabled") is True
    )
    details = {
        "retention_policy": source.get("hasImmutabilityPolicy") is True,
        "legal_hold": source.get("hasLegalHold") is True,
        "version_level": worm is True,
        "account_level": account_worm,
    }
    locked = details["retention_policy"] or details["legal_hold"] or details["version_level"]
    if locked:
        return True, details
    return account_worm, details


def read_logs(facts: AccountFacts) -> tuple[bool | Unknown, list[dict[str, Any]]]:
    """Whether a diagnostic setting on the Blob service sends `StorageRead` logs somewhere,
    and which settings do."""
    settings = facts.diagnostics
    if isinstance(settings, Unknown):
        return settings, []
    on: list[dict[str, Any]] = []
    for setting in settings:
        props = setting.get("properties") if isinstance(setting, dict) else None
        if isinstance(props, dict) and reads_logged(props):
            on.append(setting)
    return bool(on), on


def reads_logged(props: dict[str, Any]) -> bool:
    if not any(isinstance(props.get(d), str) and props.get(d) for d in DESTINATIONS):
        return False
    for log in props.get("logs") or []:
        if not isinstance(log, dict) or log.get("enabled") is not True:
            continue
        category = str(log.get("category") or "").lower()
        group = str(log.get("categoryGroup") or "").lower()
        if category in READ_LOG_CATEGORIES or group in READ_LOG_GROUPS:
            return True
    return False


def classic_read_logging(facts: AccountFacts) -> bool | Unknown:
    """Storage Analytics logging (the `$logs` container) with reads on."""
    data = facts.service_properties
    if isinstance(data, Unknown):
        return data
    if data is None:
        return Unknown("the Blob service properties were not read")
    logging = data.get("logging") or {}
    return logging.get("read") is True


def defender(
    facts: AccountFacts, plan: dict[str, Any] | Unknown | None
) -> tuple[bool | Unknown, dict[str, Any]]:
    """Defender for Storage on the account: its own setting when it overrides the
    subscription's, else the subscription plan (`pricingTier: Standard`), else its setting."""
    setting = facts.defender
    props = setting.get("properties") if isinstance(setting, dict) else None
    props = props if isinstance(props, dict) else {}
    details: dict[str, Any] = {
        "malware_scanning": ((props.get("malwareScanning") or {}).get("onUpload") or {}).get(
            "isEnabled"
        )
        is True,
        "sensitive_data_discovery": (props.get("sensitiveDataDiscovery") or {}).get("isEnabled")
        is True,
        "override_subscription": props.get("overrideSubscriptionLevelSettings") is True,
    }
    if isinstance(setting, Unknown):
        return setting, details
    own = props.get("isEnabled")
    if details["override_subscription"] and isinstance(own, bool):
        details["decided_by"] = "account"
        return own, details
    if own is True:
        details["decided_by"] = "account"
        return True, details
    if isinstance(plan, Unknown):
        return Unknown(f"the subscription's Defender plan is unreadable ({plan.reason})"), details
    plan_props = (plan or {}).get("properties") or {}
    tier = str(plan_props.get("pricingTier") or "Free")
    details["decided_by"] = "subscription"
    details["subscription_plan"] = tier.lower()
    return tier.lower() == "standard", details
