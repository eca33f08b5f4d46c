"""What a BOM is made of, as frozen data: models, their artefacts, datasets, findings.

`scanner.bom.estate` builds these from results.json; the format modules render them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class SignatureState:
    present: bool | None
    kind: str | None
    verified: bool | None
    identity: str | None
    error: str | None
    file: str | None  # the signature file, when the artefact's listing holds one

    @property
    def known(self) -> bool:
        """Whether the state is established: present or not, and if present, verified or not."""
        return self.present is False or (self.present is True and self.verified is not None)


@dataclass(frozen=True)
class Artefact:
    id: str
    uri: str | None
    files: tuple[FileEntry, ...]
    listed: bool  # the file listing was read
    truncated: bool  # the listing is cut short or its completeness is unknown
    signature: SignatureState | None
    formats: tuple[str, ...]
    pickle_based: bool | None

    @property
    def fully_hashed(self) -> bool:
        return (
            self.listed
            and not self.truncated
            and bool(self.files)
            and all(f.sha256 is not None for f in self.files)
        )


@dataclass(frozen=True)
class Dataset:
    ref: str
    name: str
    digest: str | None
    source: str | None
    location: str | None  # a URL found in `source`


@dataclass(frozen=True)
class DatasetUse:
    ref: str
    context: str | None


@dataclass(frozen=True)
class BaseModel:
    name: str
    ref: str | None  # the base's bom-ref when it is a model in this BOM


@dataclass(frozen=True)
class Considerations:
    users: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    tradeoffs: tuple[str, ...] = ()
    ethical: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.users, self.use_cases, self.limitations, self.tradeoffs, self.ethical))


@dataclass(frozen=True)
class Model:
    ref: str  # the resource id, used as bom-ref
    kind: str  # "model_version" or "artefact"
    name: str
    version: str | None
    description: str | None
    provider: str | None
    owner: str | None
    classification: str | None
    ip_value: str | None
    stage: str | None
    status: str | None
    aliases: tuple[str, ...]
    created_by: str | None
    created_at: str | None
    run: str | None
    datasets: tuple[DatasetUse, ...]
    code_repo: str | None
    code_commit: str | None
    artefact: Artefact | None
    location: str | None  # where the files are: the artefact URI or the registry's source URI
    recorded_digest: tuple[str, str] | None  # (algorithm, value) the registry records
    purl: str | None
    task: str | None
    architecture: str | None
    approach: str | None
    license: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    base_models: tuple[BaseModel, ...]
    considerations: Considerations


@dataclass(frozen=True)
class Finding:
    policy_id: str
    title: str
    severity: str
    status: str
    message: str
    resource_id: str
    controls: tuple[str, ...]
    affects: tuple[str, ...]  # bom-refs of the models it is about


@dataclass(frozen=True)
class SourceStatus:
    name: str
    type: str
    status: str
    error: str | None


@dataclass(frozen=True)
class Estate:
    scan_id: str
    created: str  # when the inventory was complete (scan.finished_at)
    tool_version: str
    sources: tuple[SourceStatus, ...]
    models: tuple[Model, ...]
    datasets: tuple[Dataset, ...]
    findings: tuple[Finding, ...]
