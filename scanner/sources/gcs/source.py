"""The `gcs:` source: one project's Cloud Storage buckets, on one bounded thread pool.

Order of work (independent calls concurrently, at most `workers` at a time):
1. in parallel: the project (number, ancestry, the IAM policies of the project, its folders
   and organisation, the public-access-prevention organisation policy, the organisation's
   VPC Service Controls perimeters) and the buckets (every bucket of the project, or the ones
   named by `buckets=`);
2. per bucket, in parallel: its IAM policy and one bounded object listing, then, while
   uniform bucket-level access is off, the ACLs of its model objects;
3. per object in a candidate model directory, in parallel: a ranged read to sniff its format;
4. the custom roles the policies name (`roles.get`), then access evaluation, audit coverage
   and the resources (artefacts through the shared object-store builder).

Cloud Storage is read through google-cloud-storage with the credentials it finds itself
(Application Default Credentials, or none against `STORAGE_EMULATOR_HOST`, exactly as that
library decides); the other APIs through `scanner.sources.gcp.rest` with ADC.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from scanner.inventory import Resource, Unknown
from scanner.sources.gcp.calls import Calls, GcpSourceFailure
from scanner.sources.gcp.credentials import api_root
from scanner.sources.gcp.source import FanOut, GcpSource
from scanner.sources.gcs import build
from scanner.sources.gcs.access import BucketAccess, evaluate
from scanner.sources.gcs.buckets import BucketFacts, facts_from, list_objects, read_acls, read_iam
from scanner.sources.gcs.members import Scope
from scanner.sources.gcs.options import GcsOptions, parse_options
from scanner.sources.gcs.project import ProjectFacts, read_project
from scanner.sources.gcs.reader import GcsReader
from scanner.sources.gcs.roles import PREDEFINED, RoleBook
from scanner.sources.interface import Progress, SourceSpec
from scanner.sources.objectstore import Container, StoredObject, build_artefacts, read_object

PAGE_SIZE = 1000
# A denied read of a model file's bytes is the bucket's own protection at work (a VPC Service
# Controls perimeter, an IAM condition), recorded on each affected artefact: not a failure of
# the whole source (docs/design.md, the same rule as the aws: source).
CONTENT_DENIED = "denied: storage.objects.get"


class GcsSource(GcpSource[GcsOptions]):
    """Read-only view of one Google Cloud project's Cloud Storage."""

    thread_name = "gcs"
    provider = build.PROVIDER  # `Source.provider`

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec, parse_options(spec))

    def where(self) -> str:
        return f"gcs:{self.options.project}"

    def keep_problem(self, line: str) -> bool:
        return CONTENT_DENIED not in line

    def read(
        self, progress: Progress, calls: Calls, pool: ThreadPoolExecutor, fan_out: FanOut
    ) -> tuple[list[Resource], list[str]]:
        opts = self.options
        client = _storage_client(opts.project, calls.where)
        rest = self.rest(calls)
        problems: list[str] = []
        project_future = pool.submit(read_project, rest, opts.project, fan_out)
        buckets = self._buckets(client, calls, problems)
        progress(f"{self.spec.text}: {len(buckets)} bucket(s)")

        def per_bucket(facts: BucketFacts) -> None:
            read_iam(client, facts, calls)
            list_objects(client, facts, calls, opts.max_objects_per_bucket)
            read_acls(client, facts, calls)

        fan_out(per_bucket, buckets)
        tasks = [(facts, obj) for facts in buckets for obj in facts.contents.to_read()]

        def sniff(task: tuple[BucketFacts, StoredObject]) -> None:
            facts, obj = task
            reader = GcsReader(client, facts.name, calls)
            facts.contents.record(obj, read_object(reader, obj, opts.sniff_bytes))

        fan_out(sniff, tasks)
        progress(f"{self.spec.text}: sniffed {len(tasks)} object(s)")
        project = _result(project_future)
        roles = RoleBook(rest, api_root("iam"))
        fan_out(roles.reads_objects, _roles_to_read(buckets, project))
        resources = self._assemble(client, calls, buckets, project, roles)
        for facts in buckets:
            problems.extend(facts.problems)
        return resources, problems

    def _buckets(self, client: Any, calls: Calls, problems: list[str]) -> list[BucketFacts]:
        project = self.options.project
        if self.options.buckets is not None:
            found = []
            for name in self.options.buckets:
                got = calls.run(
                    partial(client.get_bucket, name, retry=None, timeout=60),
                    permission="storage.buckets.get",
                    what=f"gs://{name}",
                    absent=True,
                )
                if got is None:
                    problems.append(f"gs://{name}: no such bucket (or not visible to the scanner)")
                elif isinstance(got, Unknown):
                    facts = BucketFacts(name=name, project=project, settings=got, location=got)
                    facts.problems.append(f"gs://{name}: settings unreadable ({got.reason})")
                    found.append(facts)
                else:
                    found.append(facts_from(got, project))
            return found
        listed: list[Any] = []
        token: str | None = None
        while True:
            page = calls.run(
                partial(_bucket_page, client, project, token),
                permission="storage.buckets.list",
                what=f"buckets of project {project}",
            )
            if isinstance(page, Unknown) or page is None:
                # Nothing at all can be said about the project's storage without the list.
                raise GcpSourceFailure(
                    f"cannot list the buckets of project {project} "
                    f"({page.reason if isinstance(page, Unknown) else 'no answer'})"
                )
            items, token = page
            listed.extend(items)
            if not token:
                return [facts_from(b, project) for b in listed]

    def _assemble(
        self,
        client: Any,
        calls: Calls,
        buckets: list[BucketFacts],
        project: ProjectFacts,
        roles: RoleBook,
    ) -> list[Resource]:
        opts = self.options
        source = self.spec.name
        number = project.number if isinstance(project.number, str) else None
        number = number or next((b.project_number for b in buckets if b.project_number), None)
        scope = Scope(opts.project, number, opts.org_domains)
        accesses: dict[str, BucketAccess] = {
            facts.id: evaluate(facts, project, roles, scope) for facts in buckets
        }
        audit = build.AuditCoverage(project)
        resources: list[Resource] = []
        for facts in buckets:
            network = project.network(facts.project_number)
            resources.append(
                build.storage(
                    facts,
                    accesses[facts.id],
                    project,
                    network,
                    audit,
                    source,
                    opts.max_objects_per_bucket,
                )
            )
            reader = GcsReader(client, facts.name, calls)
            for artefact in build_artefacts(
                facts.contents,
                _container(facts),
                source,
                reader,
                opts.integrity_max_bytes,
                opts.trust,
            ):
                resources.append(build.artefact_governance(artefact, facts, facts.object_metadata))
        resources.extend(build.principals(accesses, project, source))
        resources.append(audit.resource(opts.project, source))
        return resources


def _storage_client(project: str, where: str) -> Any:
    """google-cloud-storage's client, left to find its own credentials and endpoint."""
    from google.auth import exceptions
    from google.cloud import storage

    try:
        return storage.Client(project=project)
    except exceptions.DefaultCredentialsError as exc:
        raise GcpSourceFailure(
            f"{where}: no Google Cloud credentials found; run "
            "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from exc


def _bucket_page(client: Any, project: str, token: str | None) -> tuple[list[Any], str | None]:
    iterator = client.list_buckets(
        project=project, page_token=token, page_size=PAGE_SIZE, retry=None, timeout=60
    )
    page = next(iterator.pages, None)
    return (list(page) if page is not None else []), iterator.next_page_token


def _result(future: Future[ProjectFacts]) -> ProjectFacts:
    return future.result()  # GcpSourceFailure propagates: the project could not be read


def _roles_to_read(buckets: list[BucketFacts], project: ProjectFacts) -> list[str]:
    """Roles the table does not know, each read once (on the pool) before evaluation."""
    names: set[str] = set()
    policies = [b.iam for b in buckets] + [p for _, p in project.policies]
    for policy in policies:
        if isinstance(policy, Unknown):
            continue
        names.update(b.role for b in policy.bindings if b.role not in PREDEFINED)
    return sorted(names)


def _container(facts: BucketFacts) -> Container:
    location = facts.location if isinstance(facts.location, str) else None
    return Container(
        provider="gcs",
        kind="bucket",
        name=facts.name,
        uri=facts.id,
        label="Cloud Storage",
        source_kind="gcs",
        storage=facts.id,
        location={"region": location, "project": facts.project},
    )
