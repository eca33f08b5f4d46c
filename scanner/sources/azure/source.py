"""The `azure:` source: storage accounts, their blob containers, who can read them, read logging
and Defender for Storage, on one bounded thread pool.

Order of work (independent calls run concurrently, at most `workers` at a time):
- `subscription=ID`: list the storage accounts (the opening call: unreachable or
  unauthenticated fails the source); then in parallel the role assignments (and their role
  definitions, PIM activations, managed identities), the subscription's Defender plan, and per
  account its Blob service, containers, diagnostic settings, Defender setting and data plane
  (containers' metadata, the Blob service properties, each container's listing);
- `account=NAME`: list the account's containers on the data plane (the opening call), then
  the Blob service properties and each container's listing, and an anonymous request to each
  container that calls itself public;
then per blob in a candidate model directory, a ranged read to sniff its format; and the
resources (artefacts through the object-store builder, pickle-based ones scanned within
`integrity_max_bytes`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scanner.inventory import Gap, Resource, Unknown
from scanner.sources.azure import build, clients, dataplane, management, rbac
from scanner.sources.azure.blob_reader import AzureBlobReader
from scanner.sources.azure.facts import AccountFacts, ContainerFacts, data_plane_only
from scanner.sources.azure.faults import AzureSourceFailed, Calls
from scanner.sources.azure.options import AzureOptions, parse_options
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec
from scanner.sources.objectstore import Listing, StoreContents, StoredObject, read_object
from scanner.sources.pool import shared_map
from scanner.sources.watch import watch_of

# What an account's unlisted containers leave unreported (containers and the blobs in them).
CONTAINER_TYPES = frozenset({"storage", "artefact"})


class AzureSource:
    """Read-only view of Azure Blob Storage through the Azure SDKs."""

    # The types a failure of the whole source leaves unreported (`Source.produces`).
    produces = frozenset({"storage", "artefact", "principal", "audit_trail", "threat_detection"})
    provider = build.PROVIDER

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.options: AzureOptions = parse_options(spec)  # usage errors before any source runs
        self.calls = Calls()

    def collect(self, progress: Progress) -> Collection:
        self.calls = calls = Calls(watch_of(progress))
        self._services: dict[str, Any] = {}
        opts = self.options
        problems: list[str] = []
        with ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="azure") as pool:
            self._pool = pool
            try:
                if opts.management:
                    accounts, access, plan = self._subscription(progress)
                else:
                    accounts, access, plan = self._account(progress), None, None
            except AzureSourceFailed as exc:
                raise SourceError(f"source {self.spec.text!r}: {exc}") from None
            readers = self._sniff(accounts, progress)
            resources = self._resources(accounts, access, plan, readers)
        for facts in accounts:
            problems.extend(facts.problems)
        problems.extend(calls.problems)
        problems.extend(calls.failure_summary(self.spec.text))
        return Collection(
            resources=tuple(sorted(resources, key=lambda r: (r.type, r.id))),
            problems=tuple(dict.fromkeys(problems)),
            gaps=tuple(_unlisted(accounts)),
        )

    def _map(self, fn: Any, items: list[Any]) -> list[Any]:
        return shared_map(self._pool, self.options.workers, fn, items)

    # -- subscription mode -------------------------------------------------------------------

    def _subscription(
        self, progress: Progress
    ) -> tuple[list[AccountFacts], rbac.Rbac | Unknown, Any]:
        opts, calls = self.options, self.calls
        cred = clients.credential()
        arm = clients.Arm(cred, opts)
        accounts = management.list_accounts(arm, calls, opts)
        progress(f"{self.spec.text}: {len(accounts)} storage account(s)")
        access_future = self._pool.submit(rbac.load, arm, calls, self._map)
        plan_future = self._pool.submit(management.defender_plan, arm, calls)
        self._map(lambda facts: self._guarded(facts, self._read_account, arm, cred), accounts)
        access = self._result(access_future, "role assignments")
        plan = self._result(plan_future, "Defender plan")
        return accounts, access, plan

    def _guarded(self, facts: AccountFacts, fn: Any, *args: Any) -> None:
        """One account's reads; a bug or an unforeseen failure there costs that account's
        attributes (a problem line, the scan exits 3), not the other accounts'."""
        try:
            fn(facts, *args)
        except AzureSourceFailed:
            raise
        except Exception as exc:
            reason = f"{facts.name}: {type(exc).__name__}: {exc}"
            facts.problems.append(reason)
            facts.unreadable(Unknown(f"not read after a failure: {reason}"))

    def _read_account(self, facts: AccountFacts, arm: clients.Arm, cred: Any) -> None:
        management.read_account(arm, self.calls, facts)
        if facts.blob_url is None:
            reason = Unknown(f"{facts.name} has no https blob endpoint to read")
            facts.service_properties = reason
            for container in facts.containers if isinstance(facts.containers, list) else []:
                container.data = reason
                container.contents = StoreContents(Listing(reason))
            return
        service = clients.blob_service(facts.blob_url, cred, self.options)
        self._services[facts.name] = service
        listed = dataplane.list_containers(service, self.calls, facts, fatal=False)
        if isinstance(facts.containers, list):
            by_name = {c["name"]: c for c in listed} if isinstance(listed, list) else {}
            for container in facts.containers:
                container.data = (
                    listed if isinstance(listed, Unknown) else by_name.get(container.name)
                )
        dataplane.service_properties(service, self.calls, facts)
        self._list_blobs(service, facts)

    # -- account mode --------------------------------------------------------------------------

    def _account(self, progress: Progress) -> list[AccountFacts]:
        opts, calls = self.options, self.calls
        assert opts.account is not None
        name = opts.account
        unread = data_plane_only(name)
        conn = clients.connection_string()
        url = None if conn else opts.blob_endpoint or f"https://{name}.blob.{opts.endpoint_suffix}"
        cred = None if conn else clients.credential()
        service = clients.blob_service(url, cred, opts)
        facts = AccountFacts(
            name=name,
            subscription=unread,
            resource_group=unread,
            region=unread,
            arm_id=None,
            blob_url=url,
            properties=unread,
            tags=unread,
            blob_service=unread,
            diagnostics=unread,
            defender=unread,
        )
        self._services = {name: service}
        listed = dataplane.list_containers(service, calls, facts, fatal=True)
        if isinstance(listed, Unknown):  # nothing else can be read without the list
            raise AzureSourceFailed(f"cannot list the containers of {name} ({listed.reason})")
        facts.containers = [
            ContainerFacts(name, c["name"], arm=unread, data=c) for c in listed or []
        ]
        progress(f"{self.spec.text}: {len(facts.containers)} container(s)")
        dataplane.service_properties(service, calls, facts)
        self._list_blobs(service, facts)
        self._map(lambda c: dataplane.probe_anonymous(service, c, opts), list(facts.containers))
        return [facts]

    # -- both --------------------------------------------------------------------------------

    def _list_blobs(self, service: Any, facts: AccountFacts) -> None:
        if not isinstance(facts.containers, list):
            return
        cap = self.options.max_objects_per_container
        self._map(
            lambda c: dataplane.list_blobs(service, self.calls, c, cap), list(facts.containers)
        )

    def _sniff(
        self, accounts: list[AccountFacts], progress: Progress
    ) -> dict[str, AzureBlobReader]:
        readers: dict[str, AzureBlobReader] = {}
        tasks: list[tuple[ContainerFacts, StoredObject]] = []
        for facts in accounts:
            service = self._services.get(facts.name)
            for container in facts.containers if isinstance(facts.containers, list) else []:
                if service is None:
                    continue
                readers[container.id] = dataplane.reader(service, self.calls, container)
                tasks.extend((container, obj) for obj in container.contents.to_read())

        def read(task: tuple[ContainerFacts, StoredObject]) -> None:
            container, obj = task
            reader = readers[container.id]
            container.contents.record(obj, read_object(reader, obj, self.options.sniff_bytes))

        self._map(read, tasks)
        progress(f"{self.spec.text}: sniffed {len(tasks)} blob(s)")
        return readers

    def _resources(
        self,
        accounts: list[AccountFacts],
        access: rbac.Rbac | Unknown | None,
        plan: Any,
        readers: dict[str, AzureBlobReader],
    ) -> list[Resource]:
        source = self.spec.name
        builder = build.Builder(source, self.options, self.calls)
        access_or_unknown: rbac.Rbac | Unknown = (
            access if access is not None else data_plane_only(self.options.account or "")
        )
        out: list[Resource] = []
        for facts in accounts:
            containers = facts.containers if isinstance(facts.containers, list) else []
            if isinstance(facts.containers, Unknown):
                facts.problems.append(
                    f"{facts.name}: containers unreadable ({facts.containers.reason})"
                )
            for container in containers:
                out.append(builder.storage(facts, container, access_or_unknown))
                reader = readers.get(container.id)
                if reader is not None:
                    out.extend(builder.artefacts(facts, container, reader, self._pool))
            out.extend(build.audit_trails(facts, source))
            out.append(build.threat_detection(facts, plan, source))
        out.extend(builder.principals(access_or_unknown))
        return out

    def _result(self, future: Any, what: str) -> Any:
        try:
            return future.result()
        except AzureSourceFailed:
            raise
        except Exception as exc:  # a bug in one reader must not hide the others' results
            reason = f"{what}: {type(exc).__name__}: {exc}"
            self.calls.problems.append(reason)
            return Unknown(reason)


def _unlisted(accounts: list[AccountFacts]) -> list[Gap]:
    """An account whose containers could not be listed reports none of them: its storage and
    artefacts may exist unreported, so linking must not conclude that the account holds no
    models (its Defender setting would read as not applicable)."""
    gaps = []
    for facts in accounts:
        if isinstance(facts.containers, Unknown):
            region = facts.region if isinstance(facts.region, str) else None
            reason = f"the containers of {facts.name} are unreadable: {facts.containers.reason}"
            gaps.append(
                Gap(
                    CONTAINER_TYPES,
                    reason,
                    account=facts.name,
                    region=region,
                    provider=build.PROVIDER,
                )
            )
    return gaps
