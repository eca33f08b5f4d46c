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

from scanner.inventory import Gap, Ref, Resource, Unknown
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
from scanner.sources.aws.organization import Candidate
from scanner.sources.interface import (
    AccountStatus,
    Collection,
    Narrowing,
    Progress,
    SourceSpec,
    combined_problems,
)
from scanner.sources.shards import Shard, account_unit
from scanner.sources.watch import CallWatch, watch_of

# Each exposes `collect(ctx, region, source) -> AwsCollected`. Imported, not looked up by
# name: a collector that cannot be loaded must stop the source, never shrink the scan quietly.
REGIONAL_COLLECTORS: tuple[ModuleType, ...] = (sagemaker, apigateway, ec2, guardduty, ecr)
# The resource types each regional collector reports: a scan whose policies read none of them
# skips the collector's API family (scanner/targeting.py says which types policies read), and
# a collector that fails leaves a gap over them.
FAMILY_TYPES: dict[ModuleType, tuple[str, ...]] = {
    sagemaker: ("model", "model_version", "endpoint"),
    apigateway: ("endpoint",),
    ec2: ("network",),
    guardduty: ("threat_detection",),
    ecr: ("storage",),
}
COLLECTOR_TYPES = {
    module.__name__.rsplit(".", 1)[-1]: frozenset(types) for module, types in FAMILY_TYPES.items()
}
STORAGE_TYPES = frozenset({"storage", "artefact"})


class AwsSource:
    """Read-only view of AWS accounts through boto3's standard credential chain."""

    provider = "aws"  # `Source.provider`: a failure here hides no other cloud's resources
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
    # A targeted scan names the buckets to read once registries have reported the model.
    needs_seeds = True

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.options = parse_options(spec)  # usage errors before any source runs
        self.calls: dict[str, int] = {}
        self.shard: Shard | None = None
        self.narrowing = Narrowing()

    def divide(self, shard: Shard) -> None:
        """Read only the accounts `shard` owns (every shard lists them, then picks)."""
        self.shard = shard

    def narrow(self, narrowing: Narrowing) -> None:
        self.narrowing = narrowing

    def collect(self, progress: Progress) -> Collection:
        text = self.spec.text
        opts = self.options
        watch = watch_of(progress)
        self.calls = {}
        base = session.base_session(text, opts)
        found, own = session.candidates(text, opts, base, watch)
        if self.shard is not None:
            found = [c for c in found if self.shard.owns(account_unit("aws", c.account))]
        progress(f"{text}: {len(found)} account(s) to read")
        with (
            ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="aws") as pool,
            ThreadPoolExecutor(
                max_workers=max(1, min(opts.accounts_in_parallel, len(found) or 1)),
                thread_name_prefix="aws-account",
            ) as accounts,
        ):
            # Accounts run on their own small pool: each waits on calls it submitted to the
            # shared call pool, so their waiting never takes a call worker.
            opened = list(accounts.map(lambda c: self._open(c, base, pool, progress, watch), found))
            early: dict[str, AccountScan] = {}
            named: set[str] | None = None
            if self.narrowing.targeted:
                # The target's files may sit in another account than its registry entry or
                # endpoint: every account's registry and endpoints are read first, and the
                # buckets they name are then looked for in every account.
                ready = [o for o in opened if not isinstance(o, str)]
                first = list(accounts.map(lambda o: self._regional(o[0], o[1]), ready))
                early = {o[0].account: got for o, got in zip(ready, first, strict=True)}
                found_early = [g for got in early.values() for g in got.collected]
                named = _target_buckets(self.narrowing, found_early)
            outcomes = list(
                accounts.map(
                    lambda o: (
                        o
                        if isinstance(o, str)
                        else (
                            self._scan_account(
                                o[0], o[1], pool, progress, early.get(o[0].account), named
                            ),
                            o[2],
                        )
                    ),
                    opened,
                )
            )
            failed = [o for o in outcomes if isinstance(o, str)]
            if found and len(failed) == len(found) and not opts.org:
                raise session.all_failed(text, failed)
            scans = [o[0] for o in outcomes if not isinstance(o, str)]
            # Still on the pool: the artefacts' integrity checks read objects concurrently.
            assembled = self._assemble(scans, pool)
        resources: list[Resource] = []
        statuses: list[AccountStatus] = []
        gaps: list[Gap] = []
        for candidate, outcome in zip(found, outcomes, strict=True):
            if isinstance(outcome, str):
                statuses.append(_status(candidate, [outcome], 0))
                continue
            scan, region_problems = outcome
            mine, problems = assembled[scan.ctx.account]
            problems = [*region_problems, *problems, *scan.problems]
            problems += [line for line in scan.ctx.problems() if not _content_read(line)]
            resources.extend(mine)
            statuses.append(_status(candidate, problems, len(mine)))
            gaps.extend(scan.gaps)
            for name, count in scan.ctx.calls.items():
                self.calls[name] = self.calls.get(name, 0) + count
        several = opts.org or len(opts.role_arns) > 1
        return Collection(
            resources=tuple(sorted(resources, key=lambda r: (r.type, r.id))),
            problems=tuple(combined_problems(own, [list(a.problems) for a in statuses])),
            gaps=tuple(dict.fromkeys(gaps)),
            accounts=tuple(statuses) if several else (),
        )

    def _open(
        self,
        candidate: Candidate,
        base: Any,
        pool: ThreadPoolExecutor,
        progress: Progress,
        watch: CallWatch,
    ) -> tuple[AwsContext, list[str], list[str]] | str:
        """The account's context and regions; the reason, when its role cannot be assumed."""
        opts = self.options
        acct = session.assume(candidate, opts, base, watch)
        if isinstance(acct, str):
            progress(f"{self.spec.text}: {acct}")
            return acct
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
        progress(f"{self.spec.text}: {acct.label}: regions {', '.join(regions) or 'none'}")
        return ctx, regions, region_problems

    def _regional(self, ctx: AwsContext, regions: list[str]) -> AccountScan:
        """The regional collectors whose families some selected policy reads, run and awaited
        (their resources in `collected`, their failures in `problems`)."""
        assert ctx.pool is not None
        scan = AccountScan(ctx, regions)
        pool = ctx.pool
        running = [
            (module.__name__.rsplit(".", 1)[-1], region,
             pool.submit(module.collect, ctx, region, self.spec.name))
            for region in regions
            for module in REGIONAL_COLLECTORS
            if self.narrowing.needs(*FAMILY_TYPES[module])
        ]  # fmt: skip
        for name, region, collecting in running:
            got = self._result(collecting, scan, f"{name} collector in {region}")
            if isinstance(got, AwsCollected):
                scan.collected.append(got)
                scan.gaps.extend(got.gaps)
            else:
                scan.unlisted(
                    COLLECTOR_TYPES[name], f"the {name} collector failed in {region}", region
                )
        return scan

    # ---------------------------------------------------------------------------------------

    def _scan_account(
        self,
        ctx: AwsContext,
        regions: list[str],
        pool: ThreadPoolExecutor,
        progress: Progress,
        early: AccountScan | None = None,
        named: set[str] | None = None,
    ) -> AccountScan:
        opts = self.options
        scan = AccountScan(ctx, regions)
        if not regions:
            return scan
        home = regions[0]
        keys = s3.KeyCache(ctx)
        wanted = self.narrowing
        idle: Future[Any] = Future()
        idle.set_result(None)

        def maybe(needed: bool, fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
            """A family no selected policy reads is not called at all."""
            return pool.submit(fn, *args, **kwargs) if needed else idle

        reads_storage = wanted.needs("storage", "artefact")
        listing = maybe(reads_storage, ctx.pages, "s3", None, "list_buckets", "Buckets")
        iam_future = maybe(wanted.needs("principal", "storage"), iam.load, ctx, opts)
        pab_future = maybe(
            wanted.needs("storage"),
            ctx.call,
            "s3control",
            home,
            "get_public_access_block",
            absent=("NoSuchPublicAccessBlockConfiguration",),
            AccountId=ctx.account,
        )
        trails_future = maybe(
            wanted.needs("audit_trail", "storage"), cloudtrail.describe, ctx, regions
        )
        regional: list[tuple[str, str, Future[AwsCollected]]] = []
        if early is not None:  # read before, to learn the target's buckets
            scan.collected.extend(early.collected)
            scan.problems.extend(early.problems)
            scan.gaps.extend(early.gaps)
        else:
            regional = [
                (
                    module.__name__.rsplit(".", 1)[-1],
                    region,
                    pool.submit(module.collect, ctx, region, self.spec.name),
                )
                for region in regions
                for module in REGIONAL_COLLECTORS
                if wanted.needs(*FAMILY_TYPES[module])
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
        if wanted.targeted and listed:
            if named is None:
                named = _target_buckets(wanted, scan.collected)
            listed = [b for b in listed if b["Name"] in named]
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
                scan.unlisted(COLLECTOR_TYPES[name], failed, region)
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

    def _assemble(
        self, scans: list[AccountScan], pool: ThreadPoolExecutor
    ) -> dict[str, tuple[list[Resource], list[str]]]:
        """Each account's resources and problems. Bucket access is evaluated against every
        scanned account's IAM (a bucket policy naming a role of another scanned account).
        Signatures a SageMaker package records travel to the S3 artefacts of every scanned
        account, since a registry in one account may sign models stored in another."""
        source = self.spec.name
        scope = Scope(
            iam={s.ctx.account: s.iam for s in scans if s.iam is not None},
            account_pab={s.ctx.account: s.account_pab for s in scans},
        )
        builder = build.Builder(source, self.options)
        recorded = s3_objects.recorded_signatures(
            r for scan in scans for got in scan.collected for r in got.resources
        )
        out: dict[str, tuple[list[Resource], list[str]]] = {}
        for scan in scans:
            resources: list[Resource] = []
            problems: list[str] = []
            coverage = build.TrailCoverage(
                scan.trails, scan.trails_denied, scan.unlisted_any("storage")
            )
            for facts in scan.buckets:
                access = evaluate_bucket(facts, scope)
                problems.extend(facts.problems)
                resources.append(builder.storage(facts, access, scan.account_pab, coverage))
                resources.extend(
                    s3_objects.artefacts(
                        scan.ctx,
                        facts,
                        source,
                        self.options.integrity_max_bytes,
                        self.options.trust,
                        recorded,
                        pool=pool,
                        workers=self.options.workers,
                    )
                )
            resources.extend(coverage.trail_resources(scan.buckets, source))
            for got in scan.collected:
                resources.extend(got.resources)
                problems.extend(got.problems)
            resources.extend(self._principals(builder, scan, resources))
            out[scan.ctx.account] = (resources, problems)
        return out

    def _principals(
        self, builder: build.Builder, scan: AccountScan, resources: list[Resource]
    ) -> list[Resource]:
        """The account's principals; in a targeted scan, only the readers of its buckets."""
        principals = builder.principals([scan])
        if not self.narrowing.targeted:
            return principals
        storage = [r for r in resources if r.type == "storage"]
        if any(isinstance(r.attributes.get("readers"), Unknown) for r in storage):
            return principals  # a bucket's readers are not known: any principal may be one
        readers = {
            ref.id
            for r in resources
            if r.type == "storage" and isinstance(r.attributes.get("readers"), list)
            for ref in r.attributes["readers"]
        }
        return [p for p in principals if p.id in readers]


def _status(candidate: Candidate, problems: list[str], count: int) -> AccountStatus:
    return AccountStatus(
        id=candidate.account,
        problems=tuple(dict.fromkeys(problems)),
        resource_count=count,
        name=candidate.name,
        ou=candidate.ou,
    )


def _target_buckets(wanted: Narrowing, collected: list[AwsCollected]) -> set[str]:
    """The buckets a targeted scan reads: those its ids name (`--resource s3://b`, artefact
    URIs other registries reported) and those the target's SageMaker versions and the
    endpoints serving them load files from."""
    uris = set(wanted.ids)
    for got in collected:
        for r in got.resources:
            if r.type == "model_version" and wanted.names_version(r.name):
                uris.update(_ref_ids(r.attributes.get("artefact")))
            if r.type == "endpoint" and (
                r.id in wanted.ids
                or any(
                    v in wanted.ids or wanted.names_version(v.rsplit("/", 1)[-1])
                    for v in _ref_ids(r.attributes.get("model_versions"))
                )
            ):
                uris.update(_ref_ids(r.attributes.get("artefacts")))
    return {u[len("s3://") :].split("/", 1)[0] for u in uris if u.startswith("s3://")}


def _ref_ids(value: Any) -> list[str]:
    if isinstance(value, Ref):
        return [value.id]
    if isinstance(value, list):
        return [v.id for v in value if isinstance(v, Ref)]
    return []


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
