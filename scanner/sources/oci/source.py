"""The image sources: `oci:REGISTRY[/REPOSITORY[:TAG|@DIGEST]]`, `oci-layout:DIR[:TAG]` and
`docker-archive:FILE.tar`.

`oci:` reads a registry through the distribution API: one image, every tag of a repository,
every repository under a namespace (`oci:REGISTRY/team`), or the whole catalog
(`oci:REGISTRY`). Each image (each platform of an index) whose layers hold model files becomes
an `artefact` (`image.py`), with its cosign signature verified against `integrity.trust`
(`signatures.py`); each repository a `storage` resource (`oci://REGISTRY/REPOSITORY`) that
says whether anyone can pull it. The other two read an image that is on this disk (what a CI
job builds before it pushes): the same artefacts, without a registry and so without a storage
resource or signatures.

Images are read one at a time per worker (`workers`, default 4), each within its own byte
budget; a repository that cannot be read is a problem line and an Unknown on its storage, and
the source fails as a whole only when it could read nothing at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.artefacts.signatures.cosign import summarise
from scanner.artefacts.signatures.trust import TrustPolicy, TrustSet
from scanner.errors import UsageError
from scanner.inventory import Ref, Resource, Unknown
from scanner.sources.interface import Collection, Progress, SourceError, SourceSpec
from scanner.sources.objectstore import Container
from scanner.sources.oci import signatures
from scanner.sources.oci.client import RegistryClient, RegistryError
from scanner.sources.oci.credentials import (
    CredentialsError,
    config_path,
    credentials_for,
    load_config,
)
from scanner.sources.oci.image import ImageResult, ImageTarget, read_image
from scanner.sources.oci.manifests import ImageManifest, ManifestError, resolve
from scanner.sources.oci.options import OciOptions, parse_options
from scanner.sources.oci.reference import Reference, ReferenceError, is_loopback, parse_reference
from scanner.sources.oci.stores import (
    ArchiveStore,
    ImageStore,
    LayoutStore,
    RegistryStore,
    StoreError,
)

PROVIDER = "oci"
NO_SIGNATURES = {
    "present": False,
    "kind": None,
    "verified": False,
    "identity": None,
    "error": "a docker archive carries no signatures",
}


@dataclass
class _Image:
    """One image manifest and every tag that names it."""

    manifest: ImageManifest
    references: list[str] = field(default_factory=list)


@dataclass
class _Repository:
    name: str
    images: dict[str, _Image] = field(default_factory=dict)
    tags_truncated: bool = False
    error: str | None = None
    results: list[ImageResult] = field(default_factory=list)


class OciSource:
    provider = PROVIDER  # `Source.provider`

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.options: OciOptions = parse_options(spec)
        trust = spec.options.get("trust", TrustPolicy())
        if not isinstance(trust, TrustPolicy):
            raise UsageError(f"{spec.text}: trust must come from the config's integrity.trust")
        self.trust = trust
        if spec.kind == "oci":
            try:
                self.reference: Reference | None = parse_reference(spec.target)
            except ReferenceError as exc:
                raise UsageError(f"source {spec.text!r}: {exc}") from None
        else:
            self.reference = None
            if not spec.target.strip():
                raise UsageError(f"source {spec.text!r} names no path")

    def collect(self, progress: Progress) -> Collection:
        if self.spec.kind == "oci":
            return self._registry(progress)
        if self.spec.kind == "oci-layout":
            return self._layout(progress)
        return self._archive(progress)

    # -- a registry ------------------------------------------------------------------------------

    def _registry(self, progress: Progress) -> Collection:
        ref = self.reference
        assert ref is not None
        opts = self.options
        try:
            credentials = credentials_for(
                load_config(config_path(opts.docker_config)), ref.registry
            )
        except CredentialsError as exc:
            raise SourceError(f"{self.spec.text}: {exc}") from None
        plain = opts.plain_http if opts.plain_http is not None else is_loopback(ref.registry)
        client = RegistryClient(
            ref.registry,
            plain_http=plain,
            credentials=credentials,
            ca_bundle=opts.ca_bundle,
            timeout=opts.timeout,
        )
        try:
            client.ping()
        except RegistryError as exc:
            raise SourceError(f"{self.spec.text}: {exc}") from None
        problems: list[str] = []
        repos = self._repositories(client, ref, problems)
        progress(f"{self.spec.text}: {len(repos)} repositor{'y' if len(repos) == 1 else 'ies'}")
        for repo in repos:
            self._list_images(client, ref, repo, problems)
        jobs = [(repo, digest) for repo in repos for digest in repo.images]
        with ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="oci") as pool:
            results = list(
                pool.map(
                    lambda job: self._registry_image(client, ref, job[0], job[1], progress), jobs
                )
            )
        resources: list[Resource] = []
        for (repo, _), (result, more) in zip(jobs, results, strict=True):
            repo.results.append(result)
            problems.extend(result.problems)
            problems.extend(more)
            if result.artefact is not None:
                resources.append(result.artefact)
        anonymous = False
        for repo in repos:
            storage = self._storage(client, ref.registry, repo, plain, problems)
            resources.append(storage)
            anonymous = anonymous or storage.attributes.get("public") is True
        if anonymous:
            public = [
                r.id for r in resources if r.type == "storage" and r.attributes["public"] is True
            ]
            resources.append(_anyone(self.spec.name, public))
        if repos and all(r.error is not None for r in repos):
            raise SourceError(f"{self.spec.text}: {repos[0].error}")
        return Collection(tuple(sorted(resources, key=lambda r: (r.type, r.id))), tuple(problems))

    def _repositories(
        self, client: RegistryClient, ref: Reference, problems: list[str]
    ) -> list[_Repository]:
        opts = self.options
        if ref.repository is not None and (ref.tag or ref.digest):
            return [_Repository(ref.repository)]
        names: list[str] = []
        catalog_error: RegistryError | None = None
        try:
            listed, truncated = client.catalog(opts.max_repositories)
            if truncated:
                problems.append(
                    f"{self.spec.text}: the catalog has more than {opts.max_repositories} "
                    "repositories (max_repositories): the rest were not read"
                )
        except RegistryError as exc:
            listed, catalog_error = [], exc
        if ref.repository is None:
            if catalog_error is not None:
                raise SourceError(f"{self.spec.text}: {catalog_error}")
            return [_Repository(n) for n in listed]
        names = [n for n in listed if n == ref.repository or n.startswith(ref.repository + "/")]
        if ref.repository not in names:
            try:
                client.tags(ref.repository, 1)
                names.insert(0, ref.repository)
            except RegistryError as exc:
                if not names and not exc.missing:
                    return [_Repository(ref.repository, error=str(exc))]
        if not names:
            why = f" (the catalog: {catalog_error})" if catalog_error else ""
            raise SourceError(
                f"{self.spec.text}: no repository {ref.repository} and none below it at "
                f"{ref.registry}{why}"
            )
        return [_Repository(n) for n in sorted(set(names))]

    def _list_images(
        self, client: RegistryClient, ref: Reference, repo: _Repository, problems: list[str]
    ) -> None:
        if repo.error is not None:
            problems.append(f"{self.spec.text}: {repo.name}: {repo.error}")
            return
        store = RegistryStore(client, repo.name)
        if ref.repository == repo.name and (ref.tag or ref.digest):
            tags = [ref.digest or ref.tag or ""]
        else:
            try:
                listed, repo.tags_truncated = client.tags(repo.name, self.options.max_tags)
            except RegistryError as exc:
                repo.error = str(exc)
                problems.append(f"{self.spec.text}: {repo.name}: {exc}")
                return
            if repo.tags_truncated:
                problems.append(
                    f"{self.spec.text}: {repo.name} has more than {self.options.max_tags} "
                    "tags (max_tags): the rest were not read"
                )
            tags = sorted(t for t in listed if not signatures.is_signature_tag(t))
        for tag in tags:
            try:
                resolved = resolve(store.fetch, tag, self.options.platforms)
            except (RegistryError, ManifestError, StoreError) as exc:
                problems.append(f"{self.spec.text}: {repo.name}:{tag}: {exc}")
                if isinstance(exc, RegistryError) and exc.denied and len(tags) == 1:
                    repo.error = str(exc)
                continue
            for manifest in resolved.images:
                image = repo.images.setdefault(manifest.digest, _Image(manifest))
                sep = "@" if tag.startswith("sha256:") else ":"
                image.references.append(f"{ref.registry}/{repo.name}{sep}{tag}")

    def _registry_image(
        self,
        client: RegistryClient,
        ref: Reference,
        repo: _Repository,
        digest: str,
        progress: Progress,
    ) -> tuple[ImageResult, list[str]]:
        image = repo.images[digest]
        store = RegistryStore(client, repo.name)
        repo_uri = f"oci://{ref.registry}/{repo.name}"
        name = _name(repo.name, image.references, image.manifest)
        found, problems = signatures.find(store, digest)
        uri = f"{repo_uri}@{digest}"
        trust = self.trust.for_model(name, uri, *image.references)
        signature, attestations = summarise(found, digest, trust)
        container = Container(
            provider=PROVIDER,
            kind="repository",
            name=repo.name,
            uri=repo_uri,
            label="OCI image",
            source_kind="oci",
            storage=repo_uri,
            location={"registry": ref.registry, "digest": digest},
        )
        target = ImageTarget(uri, name, tuple(image.references), container, self.spec.name)
        progress(f"{self.spec.text}: reading {name}")
        result = read_image(store, image.manifest, target, self.options, signature, progress, trust)
        return _with_attestations(result, attestations), problems

    def _storage(
        self,
        client: RegistryClient,
        registry: str,
        repo: _Repository,
        plain: bool,
        problems: list[str],
    ) -> Resource:
        repo_id = f"oci://{registry}/{repo.name}"
        public: Any
        reasons: list[str] = []
        try:
            probe = client.anonymous_pull(repo.name)
            public = probe is True
            reasons = (
                ["anyone can pull: the registry serves it without credentials"]
                if public
                else [str(probe)]
            )
        except RegistryError as exc:
            public = Unknown(f"the anonymous pull probe failed: {exc}")
        with_models = [r for r in repo.results if r.artefact is not None and r.model_files]
        holds: Any = bool(with_models)
        if repo.error is not None:
            holds = Unknown(f"the repository cannot be read: {repo.error}")
        elif not with_models and any(not r.complete for r in repo.results):
            holds = Unknown("some images were not read completely")
        unknown = "the OCI distribution API does not expose it"
        attributes: dict[str, Any] = {
            "provider": PROVIDER,
            "registry": registry,
            "repository": repo.name,
            "holds_models": holds,
            "public": public,
            "public_reasons": reasons,
            "readers": [Ref("*")]
            if public is True
            else Unknown(
                f"who can pull from {registry} is the registry's own configuration, which "
                "the OCI distribution API does not expose"
            ),
            "reader_count": Unknown(f"{unknown}: who can pull"),
            "access_grants": Unknown(f"{unknown}: who can pull, and how"),
            "encryption": Unknown(f"{unknown}: how the registry stores blobs"),
            "access_logging": {
                "server_access": Unknown(f"{unknown}: access logs"),
                "read_events": Unknown(f"{unknown}: access logs"),
            },
            "network_restricted": Unknown(f"{unknown}: network rules"),
            "tls_only": False if plain else Unknown(f"{unknown}: whether plain HTTP is served"),
            "tag_immutability": Unknown(f"{unknown}: tag immutability"),
            "scan_on_push": Unknown(f"{unknown}: vulnerability scanning"),
            "image_count": len(repo.images),
            "images_with_models": len(with_models),
            "listing_truncated": repo.tags_truncated,
        }
        return Resource(
            id=repo_id,
            type="storage",
            name=repo.name,
            source=self.spec.name,
            attributes=attributes,
            raw={"registry": registry, "repository": repo.name, "error": repo.error},
        )

    # -- an OCI layout and a docker archive --------------------------------------------------

    def _layout(self, progress: Progress) -> Collection:
        target = os.path.abspath(os.path.expanduser(self.spec.target))
        tag = None
        if not os.path.isdir(target) and ":" in os.path.basename(target):
            target, _, tag = target.rpartition(":")
        root = Path(target)
        if not root.is_dir():
            raise SourceError(f"no such directory: {root}")
        try:
            store = LayoutStore(root)
        except StoreError as exc:
            raise SourceError(str(exc)) from None
        names = [
            (n, d)
            for n, d in store.tags()
            if (tag is None or n == tag) and not signatures.is_signature_tag(n)
        ]
        if tag is not None and not names:
            raise SourceError(f"{root}: no image tagged {tag!r} in index.json")
        problems: list[str] = []
        images: dict[str, _Image] = {}
        for name, digest in names:
            try:
                resolved = resolve(store.fetch, digest, self.options.platforms)
            except (ManifestError, StoreError) as exc:
                problems.append(f"{root}: {name}: {exc}")
                continue
            for manifest in resolved.images:
                images.setdefault(manifest.digest, _Image(manifest)).references.append(name)
        if names and not images:
            raise SourceError(f"{root}: no image could be read ({problems[0]})")
        resources = []
        for digest, image in sorted(images.items()):
            uri = f"oci-layout:{root}@{digest}"
            name = _name(root.name, [f"{root.name}:{r}" for r in image.references], image.manifest)
            found, more = signatures.find(store, digest)
            problems.extend(more)
            trust = self.trust.for_model(name, uri, str(root))
            signature, attestations = summarise(found, digest, trust)
            result = self._local_image(
                store, image, uri, name, "oci-layout", str(root), signature, progress, trust
            )
            result = _with_attestations(result, attestations)
            problems.extend(result.problems)
            if result.artefact is not None:
                resources.append(result.artefact)
        return Collection(tuple(resources), tuple(problems))

    def _archive(self, progress: Progress) -> Collection:
        path = Path(os.path.abspath(os.path.expanduser(self.spec.target)))
        if not path.is_file():
            raise SourceError(f"no such file: {path}")
        try:
            store = ArchiveStore(path)
        except StoreError as exc:
            raise SourceError(str(exc)) from None
        resources = []
        problems: list[str] = []
        for archived in store.images:
            manifest = archived.manifest
            uri = f"docker-archive:{path}@{manifest.digest}"
            refs = list(archived.tags) or [manifest.digest]
            name = _name(path.name, refs, manifest)
            result = self._local_image(
                store,
                _Image(manifest, refs),
                uri,
                name,
                "docker-archive",
                str(path),
                NO_SIGNATURES,
                progress,
                self.trust.for_model(name, uri, str(path)),
            )
            problems.extend(result.problems)
            if result.artefact is not None:
                resources.append(result.artefact)
        return Collection(tuple(resources), tuple(problems))

    def _local_image(
        self,
        store: ImageStore,
        image: _Image,
        uri: str,
        name: str,
        kind: str,
        path: str,
        signature: dict[str, Any],
        progress: Progress,
        trust: TrustSet,
    ) -> ImageResult:
        container = Container(
            provider="local",
            kind="image",
            name=name,
            uri=uri,
            label=kind,
            source_kind=kind,
            location={"path": path, "format": kind, "digest": image.manifest.digest},
        )
        target = ImageTarget(uri, name, tuple(image.references), container, self.spec.name)
        return read_image(store, image.manifest, target, self.options, signature, progress, trust)


def _name(repository: str, references: Iterable[str], manifest: ImageManifest) -> str:
    refs = list(references)
    base = refs[0].rpartition("/")[2] if refs else f"{repository}@{manifest.digest[:19]}"
    if "/" in repository and refs:
        base = f"{repository}:{refs[0].rpartition(':')[2]}" if "@" not in refs[0] else refs[0]
    if manifest.platform:
        base += f" ({manifest.platform})"
    return base


def _with_attestations(result: ImageResult, attestations: list[dict[str, Any]]) -> ImageResult:
    if result.artefact is None:
        return result
    attributes = dict(result.artefact.attributes)
    attributes["attestations"] = attestations
    from dataclasses import replace

    return replace(result, artefact=replace(result.artefact, attributes=attributes))


def _anyone(source: str, public: list[str]) -> Resource:
    return Resource(
        id="*",
        type="principal",
        name="anyone",
        source=source,
        attributes={
            "kind": "anonymous",
            "arn": "*",
            "cross_account": True,
            "can_read": [Ref(s) for s in public],
            "grants": [],  # an anonymous pull is no grant of a policy
        },
    )
