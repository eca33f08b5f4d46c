"""Model files in a bucket: which objects to read, how to read them, and the artefacts.

Reading every object of a data lake to find models would cost a GET per object, so the listing
is narrowed in two steps:
1. names first: a directory is a candidate model directory when it holds an object named like
   a model file (`.safetensors`, `.pt`, `saved_model.pb`, ...) or a marker (`MLmodel`,
   `model.sig`) - the same grouping as the `path:` source (`scanner.sources.local._group`);
2. content then: every object inside a candidate directory is sniffed through a ranged GET of
   its first bytes (bounded by `sniff_bytes`), so a pickle renamed `config.bin` beside the
   weights is still caught, and a `.bin` that holds no model drops out. Objects outside
   candidate directories are never fetched (documented limit: a model with no model-like
   name anywhere in its directory is not found).
A `ChecksumSHA256` listed for an object (ListObjectsV2 `ChecksumAlgorithm`) is fetched with
one HeadObject; only full-object checksums are kept (a multipart composite is not a sha256).
"""

from __future__ import annotations

import base64
import io
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scanner.artefacts.formats import sniff_stream
from scanner.artefacts.integrity import SniffedFile, serialization_summary
from scanner.inventory import Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.aws.context import AwsCallError, AwsContext
from scanner.sources.aws.s3 import BucketFacts, S3Object
from scanner.sources.aws.s3_reader import ObjectReadError, RangedObject
from scanner.sources.local import MARKER_FILES
from scanner.sources.local import _group as group_model_dirs

SIGNATURE_SUFFIXES = (".sigstore", ".intoto.jsonl", ".sigstore.json")
SIGNATURE_NAMES = frozenset({"model.sig"})


def candidate_groups(objects: list[S3Object]) -> dict[str, list[S3Object]]:
    return group_model_dirs(objects)  # type: ignore[arg-type]


def groups(facts: BucketFacts) -> dict[str, list[S3Object]]:
    """The model directories after sniffing, computed once per bucket."""
    if facts.groups is None:
        facts.groups = {} if isinstance(facts.objects, Unknown) else candidate_groups(facts.objects)
    return facts.groups


@dataclass(frozen=True)
class ReadTask:
    """One object to sniff (and maybe HEAD for its checksum)."""

    facts: BucketFacts
    obj: S3Object


def read_tasks(facts: BucketFacts) -> list[ReadTask]:
    if isinstance(facts.objects, Unknown):
        return []
    return [
        ReadTask(facts, obj)
        for members in candidate_groups(facts.objects).values()
        for obj in members
    ]


def run_read(ctx: AwsContext, task: ReadTask, budget: int) -> None:
    """Sniff one object and fetch its full-object SHA-256 if S3 keeps one. Never raises."""
    facts, obj = task.facts, task.obj
    if obj.size == 0 or obj.name in MARKER_FILES:
        # Markers are YAML/JSON by definition; an empty object is judged by its name.
        obj.sniffed = sniff_stream(io.BytesIO(), 0, obj.name) if obj.size == 0 else None
    else:
        reader = RangedObject(
            ctx, facts.region, facts.name, obj.key, obj.size, budget, etag=obj.etag
        )
        try:
            obj.sniffed = sniff_stream(reader, obj.size, obj.name)  # type: ignore[arg-type]
        except ObjectReadError as exc:
            obj.error = str(exc)
        except AwsCallError as exc:
            obj.error = f"cannot read: {exc.code}"
    if "SHA256" in obj.checksum_algorithms:
        obj.sha256 = _sha256(ctx, facts, obj)


def _sha256(ctx: AwsContext, facts: BucketFacts, obj: S3Object) -> str | Unknown | None:
    try:
        head = ctx.call(
            "s3",
            facts.region,
            "head_object",
            Bucket=facts.name,
            Key=obj.key,
            ChecksumMode="ENABLED",
        )
    except AwsCallError as exc:
        return Unknown(f"HeadObject failed: {exc.code}")
    if isinstance(head, Unknown) or head is None:
        return head
    value = head.get("ChecksumSHA256")
    if not value or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT" or "-" in value:
        return None  # a composite (multipart) checksum is not the file's sha256
    try:
        return base64.b64decode(value).hex()
    except ValueError:
        return None


def _format(obj: S3Object) -> str | Unknown | None:
    if obj.error is not None:
        return Unknown(obj.error)
    if obj.sniffed is None:
        return None
    if obj.sniffed.format is None and obj.sniffed.problem is not None:
        return Unknown(obj.sniffed.problem)
    return obj.sniffed.format


def _signature(names: Iterable[str]) -> dict[str, Any]:
    found = sorted(
        n
        for n in names
        if posixpath.basename(n) in SIGNATURE_NAMES or n.lower().endswith(SIGNATURE_SUFFIXES)
    )
    out: dict[str, Any] = {"present": bool(found)}
    if found:
        first = posixpath.basename(found[0])
        out["kind"] = "openssf-model-signing" if first == "model.sig" else "sigstore"
        out["files"] = found
        out["verified"] = Unknown("signature verification of S3 artefacts not implemented yet")
    return out


def artefacts(facts: BucketFacts, source: str) -> list[Resource]:
    if isinstance(facts.objects, Unknown):
        return []
    out: list[Resource] = []
    for owner, members in sorted(groups(facts).items()):
        # A model at the bucket's root keeps the trailing slash: `s3://b` is the storage's id.
        uri = f"s3://{facts.name}/{owner}"
        cut = len(owner) + 1 if owner else 0
        files = sorted(
            (
                {
                    "path": m.key[cut:],
                    "size": m.size,
                    **({"sha256": m.sha256} if m.sha256 is not None else {}),
                    "etag": (m.etag or "").strip('"') or None,
                    "format": _format(m),
                }
                for m in members
            ),
            key=lambda f: f["path"],
        )
        serialization = serialization_summary(
            SniffedFile(
                m.key[cut:], _format(m), m.sniffed is not None and bool(m.sniffed.pickle_based)
            )
            for m in members
        )
        total = sum(m.size for m in members)
        out.append(
            Resource(
                id=redact(uri),
                type="artefact",
                name=owner.rpartition("/")[2] if owner else facts.name,
                source=source,
                attributes={
                    "uri": redact(uri),
                    "location": {
                        "provider": "s3",
                        "bucket": facts.name,
                        "prefix": owner,
                        "region": facts.region,
                        "account": facts.account,
                    },
                    "storage": Ref(facts.id),
                    "files": files,
                    "file_count": len(files),
                    "total_size": total,
                    "listing_truncated": facts.truncated,
                    "serialization": serialization,
                    "signature": _signature(m.key for m in members),
                },
                raw={"bucket": facts.name, "prefix": owner, "keys": sorted(m.key for m in members)},
            )
        )
    return out


def holds_models(facts: BucketFacts, cap: int) -> bool | Unknown:
    if isinstance(facts.objects, Unknown):
        return facts.objects
    if groups(facts):
        return True
    if facts.truncated:
        return Unknown(
            f"no model files among the first {cap} objects; listing capped "
            "(raise max_objects_per_bucket)"
        )
    return False


def model_prefixes(facts: BucketFacts) -> list[str]:
    """Object-ARN prefixes of the bucket's model directories; the whole bucket when it has
    none (or the listing is unknown): readers of *model* objects are what policies ask about."""
    base = f"arn:aws:s3:::{facts.name}/"
    if isinstance(facts.objects, Unknown):
        return [base]
    owners = sorted(groups(facts))
    if not owners or "" in owners or facts.truncated:
        return [base]
    return [f"{base}{o}/" for o in owners]
