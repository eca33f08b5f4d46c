"""Normalised resources from what the collectors read: `storage`, `principal`, `audit_trail`.

Attribute names and types follow docs/resource-model.md; the provider's answers go to `raw`
(redacted, secret-sounding keys masked).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.aws import cloudtrail
from scanner.sources.aws.access import BucketAccess, pab_attribute
from scanner.sources.aws.collected import AccountScan
from scanner.sources.aws.iam import IamAccount
from scanner.sources.aws.options import AwsOptions
from scanner.sources.aws.s3 import BucketFacts
from scanner.sources.aws.s3_objects import holds_models, model_prefixes
from scanner.sources.tri import Tri, t_and, t_or


class TrailCoverage:
    """Which of an account's buckets an enabled trail records object reads for."""

    def __init__(
        self,
        trails: list[cloudtrail.Trail],
        denied: Unknown | None,
        unlisted: Unknown | None = None,
    ) -> None:
        self.trails = trails
        self.denied = denied
        # Buckets the account has that were not listed: a trail may cover them too.
        self.unlisted = unlisted
        self.covered: dict[str, list[str]] = defaultdict(list)  # trail ARN -> storage ids

    def read_events(self, facts: BucketFacts) -> Tri:
        space = model_prefixes(facts)
        values: list[Tri] = []
        for trail in self.trails:
            if not trail.regions_cover(facts.region):
                continue
            covers = trail.covers(space)
            if covers is True:
                self.covered[trail.arn].append(facts.id)
            values.append(t_and(trail.enabled, covers))
        if self.denied is not None:
            values.append(self.denied)
        return t_or(*values) if values else False

    def trail_resources(self, buckets: list[BucketFacts], source: str) -> list[Resource]:
        return [
            cloudtrail.audit_trail_resource(
                t, self.covered.get(t.arn, []), cloudtrail.all_buckets(t), source, self.unlisted
            )
            for t in self.trails
        ]


class Builder:
    def __init__(self, source: str, options: AwsOptions) -> None:
        self.source = source
        self.options = options

    def storage(
        self, facts: BucketFacts, access: BucketAccess, account_pab: Any, trails: TrailCoverage
    ) -> Resource:
        grants = access.grants
        readers: Any
        if isinstance(grants, Unknown):
            readers = grants
            count: Any = grants
            grant_attr: Any = grants
        else:
            ids = sorted({g.principal for g in grants if not _is_group(g.principal)})
            readers = [Ref(i) for i in ids]
            count = len(ids)
            grant_attr = [g.as_attr("principal", Ref(g.principal)) for g in grants]
        objects = facts.contents.objects
        attributes: dict[str, Any] = {
            "provider": "aws",
            "account": facts.account,
            "region": facts.region,
            "holds_models": holds_models(facts, self.options.max_objects_per_bucket),
            "listing_truncated": facts.contents.truncated,
            "object_count": objects if isinstance(objects, Unknown) else len(objects),
            "public": access.public,
            "public_reasons": sorted(access.public_reasons),
            "public_access_block": pab_attribute(facts, account_pab),
            "encryption": facts.encryption,
            "versioning": facts.versioning,
            "object_lock": facts.object_lock,
            "tls_only": access.tls_only,
            "network_restricted": access.network_restricted,
            "network_restricted_reasons": access.network_restricted_reasons,
            "access_logging": {
                "server_access": facts.server_access,
                "read_events": trails.read_events(facts),
            },
            "readers": readers,
            "reader_count": count,
            "access_grants": grant_attr,
        }
        raw = {
            "policy": facts.policy_raw,
            "acl": facts.acl if not isinstance(facts.acl, Unknown) else None,
            "public_access_block": facts.pab if isinstance(facts.pab, dict) else None,
            "versioning": facts.versioning_raw,
            "logging": facts.logging_raw,
        }
        return Resource(
            id=facts.id,
            type="storage",
            name=facts.name,
            source=self.source,
            attributes=attributes,
            raw=redact(raw, mask_keys=True),
        )

    def principals(self, scans: list[AccountScan]) -> list[Resource]:
        """Every IAM principal of the scanned accounts. What each can read (`can_read`,
        `grants`), and the anonymous and external readers bucket policies name, are joined
        from every storage's `access_grants` by the linking stage (`scanner/linking.py`),
        which sees every account, also those another shard of the scan read."""
        out: list[Resource] = []
        for scan in scans:
            if not isinstance(scan.iam, IamAccount):
                continue
            for p in scan.iam.principals.values():
                attrs: dict[str, Any] = {
                    "provider": "aws",
                    "kind": p.kind,
                    "principal_type": p.type,
                    "account": p.account,
                    "arn": p.arn,
                    "admin": p.admin,
                    "cross_account": p.cross_account,
                }
                if p.just_in_time is not None:
                    attrs["just_in_time"] = p.just_in_time
                if p.type == "role":
                    attrs["max_session_seconds"] = p.max_session
                if p.type == "user":
                    attrs["groups"] = sorted(p.groups)
                if p.tags:
                    attrs["tags"] = redact(p.tags, mask_keys=True)
                out.append(
                    Resource(
                        id=p.arn,
                        type="principal",
                        name=p.name,
                        source=self.source,
                        attributes=attrs,
                        raw=redact(p.raw, mask_keys=True),
                    )
                )
        return out


def _is_group(pid: str) -> bool:
    return ":group/" in pid
