"""What the AWS collectors read: per region (`AwsCollected`) and per account (`AccountScan`).

Every regional collector (`sagemaker`, `apigateway`, `ec2`, `guardduty`) exposes
`collect(ctx: AwsContext, region: str, source: str) -> AwsCollected`, where `source` is the
configured name of the `aws:` source every resource it builds carries. The orchestrator
(`source.py`) gathers an account's answers into an `AccountScan`, and `build.py` turns those
into resources. A collector never raises for a denied or failed call: the value becomes
`Unknown` and, when the user should hear about it, a line in `problems`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scanner.inventory import Gap, Resource, Unknown
from scanner.sources.aws import cloudtrail, iam, s3
from scanner.sources.aws.context import AwsContext


@dataclass(frozen=True)
class AwsCollected:
    resources: tuple[Resource, ...] = ()
    problems: tuple[str, ...] = ()
    gaps: tuple[Gap, ...] = ()  # what it could not list (`scanner.inventory.Gap`)


@dataclass
class AccountScan:
    """Everything read from one account, filled in as the account's calls complete."""

    ctx: AwsContext
    regions: list[str]
    buckets: list[s3.BucketFacts] = field(default_factory=list)
    iam: iam.IamAccount | Unknown | None = None
    account_pab: dict[str, bool] | Unknown | None = None
    trails: list[cloudtrail.Trail] = field(default_factory=list)
    trails_denied: Unknown | None = None
    collected: list[AwsCollected] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def unlisted(self, types: frozenset[str], reason: str, region: str | None = None) -> None:
        """Resources of `types` in this account (and region) may exist unreported."""
        self.gaps.append(
            Gap(types, reason, account=self.ctx.account, region=region, provider="aws")
        )

    def unlisted_any(self, rtype: str) -> Unknown | None:
        """The reason resources of `rtype` of this account may be missing, if they may."""
        gap = next((g for g in self.gaps if g.covers(rtype)), None)
        return None if gap is None else Unknown(gap.reason)
