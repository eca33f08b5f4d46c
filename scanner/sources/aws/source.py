"""The `aws:` source: every account and region, every collector, one bounded thread pool.

Order of work per account (independent calls run concurrently, at most `workers` at a time):
1. in parallel: ListBuckets, IAM authorization details, the account public-access block,
   CloudTrail trails, and each region's SageMaker/API Gateway/EC2/GuardDuty collectors;
2. per bucket, in parallel: region, settings, one bounded listing;
3. per object in a candidate model directory, in parallel: a ranged GET to sniff its format
   (and a HeadObject for a listed SHA-256);
then, once every account is read: access evaluation (IAM x bucket policies, across the
scanned accounts), CloudTrail coverage, and the resources (artefacts through the object-store
builder, pickle-based ones scanned within `integrity_max_bytes`).
A collector that fans out (describe every endpoint) does so on the same pool (`ctx.map`).

A failure costs what it touches (docs/design.md, "Fail-closed at the wire"): a failed call is
an Unknown on the attributes it feeds (`AwsContext`); a bucket whose task fails keeps its
storage resource with every setting Unknown; IAM or CloudTrail that cannot be read makes the
readers and read-event coverage Unknown, never empty; a listing that fails (buckets, a
region's endpoints) is a `Gap`, so linking claims nothing negative about what it would have
listed.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType
from typing import Any

from scanner.inventory import Gap, Resource, Unknown
from scanner.sources.aws import (
    apigateway,
    build,
    cloudtrail,
    ec2,
    ecr,
    guardduty,
    iam,
    s3,
    s3_objects,
    sagemaker,
    session,
)
from scanner.sources.aws.access import Scope, evaluate_bucket
from scanner.sources.aws.collected import AccountScan, AwsCollected
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.options import parse_options
from scanner.sources.interface import Collection, Progress, SourceSpec
from scanner.sources.watch import watch_of

# Each exposes `collect(ctx, region, source) -> AwsCollected`. Imported, not looked up by
# name: a collector that cannot be loaded must stop the source, never shrink the scan quietly.
REGIONAL_COLLECTORS: tuple[ModuleType, ...] = (sagemaker, apigateway, ec2, guardduty, ecr)
# What each regional collector reports, for the gap its failure leaves.
REGIONAL_TYPES: dict[str, frozenset[str]] = {
    "sagemaker": frozenset({"model", "model_version", "endpoint"}),
    "apigateway": frozenset({"endpoint"}),
    "ec2": frozenset({"network"}),
    "guardduty": frozenset({"threat_detection"}),
    "ecr": frozenset({"storage"}),
}
STORAGE_TYPES = frozenset({"storage", "artefact"})


class AwsSource:
    """Read-only view of AWS accounts through boto3's standard credential chain."""

    produces = frozenset(
        {
            "storage",
            "artefact",
            "principal",
            "audit_trail",
            "endpoint",
            "model",
            "model_version",
            "network",
            "threat_detection",
        }
    )

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.options = parse_options(spec)  # usage errors before any source runs
        self.calls: dict[str, int] = {}

    def collect(self, progress: Progress) -> Collection:
        text = self.spec.text
        opts = self.options
        watch = watch_of(progress)
        self.calls = {}
        found, problems = session.accounts(text, opts, watch)
        scans: list[AccountScan] = []
        with ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="aws") as pool:
            for acct in found:
                ctx = AwsContext(
                    acct.session,
                    acct.account,
                    max_attempts=opts.max_attempts,
                    max_pool=opts.workers,
                    pool=pool,
                    read_timeout=opts.read_timeout,
                    connect_timeout=opts.connect_timeout,
                    watch=watch,
                )
                regions, region_problems = session.regions(ctx, opts)
                problems.extend(region_problems)
                progress(f"{text}: {acct.label}: regions {', '.join(regions) or 'none'}")
                scans.append(self._scan_account(ctx, regions, pool, progress))
        resources, more = self._assemble(scans)
        problems.extend(more)
        gaps: list[Gap] = []
        for scan in scans:
            problems.extend(scan.problems)
            problems.extend(line for line in scan.ctx.problems() if not _content_read(line))
            gaps.extend(scan.gaps)
            for name, count in scan.ctx.calls.items():
                self.calls[name] = self.calls.get(name, 0) + count
        return Collection(
            resources=tuple(sorted(resources, key=lambda r: (r.type, r.id))),
            problems=tuple(dict.fromkeys(problems)),
            gaps=tuple(dict.fromkeys(gaps)),
        )

    # ---------------------------------------------------------------------------------------

    def _scan_account(
        self, ctx: AwsContext, regions: list[str], pool: ThreadPoolExecutor, progress: Progress
    ) -> AccountScan:
        opts = self.options
        scan = AccountScan(ctx, regions)
        if not regions:
            return scan
        home = regions[0]
        keys = s3.KeyCache(ctx)
        listing = pool.submit(ctx.pages, "s3", None, "list_buckets", "Buckets")
        iam_future = pool.submit(iam.load, ctx, opts)
        pab_future = pool.submit(
            ctx.call,
            "s3control",
            home,
            "get_public_access_block",
            absent=("NoSuchPublicAccessBlockConfiguration",),
            AccountId=ctx.account,
        )
        trails_future = pool.submit(cloudtrail.describe, ctx, regions)
        regional: list[tuple[str, str, Future[AwsCollected]]] = [
            (
                module.__name__.rsplit(".", 1)[-1],
                region,
                pool.submit(module.collect, ctx, region, self.spec.name),
            )
            for region in regions
            for module in REGIONAL_COLLECTORS
        ]

        buckets = self._result(listing, scan, "s3:ListAllMyBuckets")
        if not isinstance(buckets, list):
            reason = buckets if isinstance(buckets, Unknown) else Unknown("bucket listing failed")
            scan.problems.append(f"account {ctx.account}: cannot list buckets ({reason.reason})")
            scan.unlisted(STORAGE_TYPES, f"buckets unlisted: {reason.reason}")
            buckets = []
        listed = [b for b in buckets if isinstance(b, dict) and isinstance(b.get("Name"), str)]
        if len(listed) != len(buckets):
            why = "malformed answer from s3:ListBuckets (a bucket without a name)"
            scan.problems.append(f"account {ctx.account}: {why}")
            scan.unlisted(STORAGE_TYPES, why)
        progress(f"{self.spec.text}: account {ctx.account}: {len(listed)} buckets")
        selected = set(regions) if opts.regions is not None else None
        bucket_futures = [(b, pool.submit(self._bucket, ctx, b, keys, selected)) for b in listed]
        for listed_bucket, f in bucket_futures:
            facts = self._result(f, scan, f"S3 bucket {listed_bucket['Name']}")
            if isinstance(facts, s3.BucketFacts):
                scan.buckets.append(facts)
            elif (failure := f.exception()) is not None:
                # The bucket's task failed: the bucket is still there, and unread.
                scan.buckets.append(s3.unreadable(listed_bucket, ctx, home, failure))
        tasks = [t for facts in scan.buckets for t in s3_objects.read_tasks(facts)]
        reads = [pool.submit(s3_objects.run_read, ctx, t, opts.sniff_bytes) for t in tasks]
        for read in reads:
            self._result(read, scan, "S3 object read")
        progress(f"{self.spec.text}: account {ctx.account}: sniffed {len(tasks)} objects")

        loaded = self._result(iam_future, scan, "IAM")
        scan.iam = (
            loaded
            if isinstance(loaded, iam.IamAccount | Unknown)
            else Unknown("IAM could not be read: its collector failed")
        )
        if isinstance(scan.iam, Unknown):
            scan.problems.append(f"account {ctx.account}: IAM unreadable ({scan.iam.reason})")
        else:
            scan.problems.extend(scan.iam.problems)
        pab = self._result(pab_future, scan, "account public-access block")
        failed_pab = pab_future.exception() is not None
        scan.account_pab = (
            Unknown("the account public-access block could not be read")
            if (failed_pab)
            else _pab(pab)
        )
        described = self._result(trails_future, scan, "CloudTrail")
        if isinstance(described, tuple):
            scan.trails, trail_problems, scan.trails_denied = described
            scan.problems.extend(trail_problems)
        else:
            scan.trails_denied = Unknown("CloudTrail could not be read: its collector failed")
        for name, region, collecting in regional:
            got = self._result(collecting, scan, f"{name} collector in {region}")
            if isinstance(got, AwsCollected):
                scan.collected.append(got)
                scan.gaps.extend(got.gaps)
            else:
                failed = f"the {name} collector failed in {region}"
                scan.unlisted(REGIONAL_TYPES[name], failed, region)
        return scan

    def _bucket(
        self,
        ctx: AwsContext,
        listed: dict[str, Any],
        keys: s3.KeyCache,
        selected: set[str] | None,
    ) -> s3.BucketFacts | None:
        name = listed["Name"]
        region = s3.bucket_region(ctx, name, listed)
        if isinstance(region, Unknown):
            region_name = ctx.session.region_name or session.DEFAULT_REGION
            facts = s3.BucketFacts(name, ctx.account, region_name)
            facts.problems.append(f"s3://{name}: region unknown ({region.reason})")
        else:
            if selected is not None and region not in selected:
                return None
            facts = s3.BucketFacts(name, ctx.account, region)
        s3.read_settings(ctx, facts, keys)
        s3_objects.list_objects(ctx, facts, self.options.max_objects_per_bucket)
        return facts

    @staticmethod
    def _result(future: Future[Any], scan: AccountScan, what: str) -> Any:
        """A task's result; a task that raised is a problem line, never a crashed scan (calls
        themselves never raise: `AwsContext`)."""
        try:
            return future.result()
        except Exception as exc:  # a bug in one collector must not hide the others' results
            scan.problems.append(
                f"account {scan.ctx.account}: {what}: internal error: {type(exc).__name__}: {exc}"
            )
        return None

    # ---------------------------------------------------------------------------------------

    def _assemble(self, scans: list[AccountScan]) -> tuple[list[Resource], list[str]]:
        source = self.spec.name
        scope = Scope(
            iam={s.ctx.account: s.iam for s in scans if s.iam is not None},
            account_pab={s.ctx.account: s.account_pab for s in scans},
        )
        resources: list[Resource] = []
        problems: list[str] = []
        accesses = {}
        for scan in scans:
            for facts in scan.buckets:
                accesses[facts.id] = evaluate_bucket(facts, scope)
                problems.extend(facts.problems)
        builder = build.Builder(source, self.options)
        for scan in scans:
            coverage = build.TrailCoverage(
                scan.trails, scan.trails_denied, scan.unlisted_any("storage")
            )
            for facts in scan.buckets:
                access = accesses[facts.id]
                resources.append(builder.storage(facts, access, scan.account_pab, coverage))
                resources.extend(
                    s3_objects.artefacts(scan.ctx, facts, source, self.options.integrity_max_bytes)
                )
            resources.extend(coverage.trail_resources(scan.buckets, source))
            for got in scan.collected:
                resources.extend(got.resources)
                problems.extend(got.problems)
        resources.extend(builder.principals(scans, accesses))
        return resources, problems


def _pab(answer: Any) -> dict[str, bool] | Unknown | None:
    if answer is None or isinstance(answer, Unknown):
        return answer
    conf = answer.get("PublicAccessBlockConfiguration", {})
    return {flag: bool(conf.get(flag, False)) for flag in s3.PAB_FLAGS}


def _content_read(problem: str) -> bool:
    """A denied read of a model file's bytes is the bucket's own policy at work (a VPC-endpoint
    or TLS-only Deny), not a gap in the account's configuration: it is recorded on each affected
    artefact (its serialization and signature are Unknown, so the policies that need the bytes
    error), not as a failure of the whole source."""
    return "denied: s3:GetObject " in problem or problem.endswith("denied: s3:GetObject")
