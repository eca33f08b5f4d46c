"""A bucket's model files: the S3 side of `scanner.sources.objectstore`.

The object-store builder does the listing's grouping, sniffing, digests and the serialization
scan; this module says where a bucket is (`container`), runs one object's read through the
S3 reader, and answers the two questions only the S3 resources ask: whether a bucket holds
models (`holds_models`, for its `storage` resource) and which object-ARN prefixes are model
directories (`model_prefixes`, for the access and CloudTrail evaluation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Executor

from scanner.artefacts.signatures.trust import TrustPolicy
from scanner.inventory import Ref, Resource, Unknown
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.s3 import BucketFacts
from scanner.sources.aws.s3_reader import S3Reader
from scanner.sources.objectstore import (
    Container,
    StoreContents,
    StoredObject,
    build_artefacts,
    read_object,
)


def container(facts: BucketFacts) -> Container:
    return Container(
        provider="s3",
        kind="bucket",
        name=facts.name,
        uri=facts.id,
        label="S3",
        source_kind="aws",
        storage=facts.id,
        location={"region": facts.region, "account": facts.account},
    )


def list_objects(ctx: AwsContext, facts: BucketFacts, cap: int) -> None:
    facts.contents = StoreContents(S3Reader(ctx, facts.region, facts.name).list_objects(cap))


def read_tasks(facts: BucketFacts) -> list[tuple[BucketFacts, StoredObject]]:
    """The objects to sniff: every object of a candidate model directory (by names)."""
    return [(facts, obj) for obj in facts.contents.to_read()]


def run_read(ctx: AwsContext, task: tuple[BucketFacts, StoredObject], sniff_bytes: int) -> None:
    """Sniff one object (and read its listed SHA-256). Never raises."""
    facts, obj = task
    reader = S3Reader(ctx, facts.region, facts.name)
    facts.contents.record(obj, read_object(reader, obj, sniff_bytes))


def artefacts(
    ctx: AwsContext,
    facts: BucketFacts,
    source: str,
    integrity_max_bytes: int,
    trust: TrustPolicy | None = None,
    recorded: Mapping[str, tuple[str, str]] | None = None,
    *,
    pool: Executor | None = None,
    workers: int = 1,
) -> list[Resource]:
    reader = S3Reader(ctx, facts.region, facts.name)
    return build_artefacts(
        facts.contents,
        container(facts),
        source,
        reader,
        integrity_max_bytes,
        trust,
        recorded,
        pool=pool,
        workers=workers,
    )


def recorded_signatures(resources: Iterable[Resource]) -> dict[str, tuple[str, str]]:
    """Artefact URI -> (signature URI, where recorded), from the model versions a registry
    collector reported (SageMaker model packages): the S3 artefacts read the signature there."""
    out: dict[str, tuple[str, str]] = {}
    for r in resources:
        pointer = r.attributes.get("recorded_signature")
        artefact = r.attributes.get("artefact")
        if r.type == "model_version" and isinstance(pointer, Mapping) and isinstance(artefact, Ref):
            out.setdefault(artefact.id, (str(pointer["uri"]), str(pointer["source"])))
    return out


def holds_models(facts: BucketFacts, cap: int) -> bool | Unknown:
    return facts.contents.holds_models(cap, "objects", "max_objects_per_bucket")


def model_prefixes(facts: BucketFacts) -> list[str]:
    """Object-ARN prefixes of the bucket's model directories; the whole bucket when it has
    none (or the listing is unknown): readers of *model* objects are what policies ask about."""
    base = f"arn:aws:s3:::{facts.name}/"
    if isinstance(facts.contents.objects, Unknown):
        return [base]
    owners = sorted(facts.contents.model_dirs())
    if not owners or "" in owners or facts.contents.truncated:
        return [base]
    return [f"{base}{o}/" for o in owners]
