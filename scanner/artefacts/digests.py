"""Do the stored files match the digests recorded for them? (MW-INT-04)

A registry records a digest when a version is registered (an MLflow `sha256` tag or logged-model
metadata, SageMaker's `ModelDataETag` or checksums); a verified model signature records one per
file. Comparing them with the files another source reads (`artefact.files`) shows a model
swapped in storage after approval. Comparison is a pure function of the inventory, run in the
linking stage after every source has reported: `link_digests(inventory)` returns the
`model_version` resources with `digest_match` set.

`digest_match` is true when the recorded digest equals a file's digest (a single-file model, or
the archive the registry points at) and every per-file digest of a verified signature manifest
matches; false when a comparison was made and failed; Unknown (with the reason) when it could
not be made: no linked artefact, files whose digests nobody computed, an algorithm with no
counterpart on the files. Versions with nothing recorded get no `digest_match`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from scanner.inventory import Inventory, Ref, Resource, Unknown

# algorithm -> the keys of artefact.files entries that hold a comparable digest, first found
# wins: an MD5 the store lists (Cloud Storage `md5`) before an ETag that is one (S3 single-part).
_FILE_KEYS = {"sha256": ("sha256",), "etag": ("etag",), "md5": ("md5", "etag")}
# Base64 lengths of the digests stores publish that way (S3 ChecksumSHA256, GCS md5Hash).
_BASE64_LENGTHS = {"sha256": 44, "md5": 24}


def normalise_digest(algorithm: str, value: str) -> str:
    """Lower-case hex; `sha256:` prefixes dropped; base64 (S3 ChecksumSHA256, Cloud Storage
    md5Hash) decoded; ETag quotes stripped."""
    text = value.strip().strip('"')
    prefix = f"{algorithm}:"
    if text.lower().startswith(prefix):
        text = text[len(prefix) :]
    if len(text) == _BASE64_LENGTHS.get(algorithm) and text.endswith("="):
        try:
            return base64.b64decode(text, validate=True).hex()
        except (binascii.Error, ValueError):
            return text.lower()
    return text.lower()


def compare_recorded(recorded: Mapping[str, Any], files: Sequence[Mapping[str, Any]]) -> Any:
    """True/False/Unknown: does the recorded digest equal some file's digest?"""
    algorithm = str(recorded.get("algorithm", "")).lower()
    value = recorded.get("value")
    if not isinstance(value, str) or not value:
        return Unknown("the recorded digest has no value")
    keys = _FILE_KEYS.get(algorithm)
    if keys is None:
        return Unknown(f"recorded digest algorithm {algorithm!r} has no counterpart on the files")
    want = normalise_digest(algorithm, value)
    missing = 0
    for entry in files:
        have = next((entry[k] for k in keys if isinstance(entry.get(k), str)), None)
        if isinstance(have, str):
            if normalise_digest(algorithm, have) == want:
                return True
        else:
            missing += 1
    if missing:
        return Unknown(
            f"{missing} file(s) have no {' or '.join(keys)} to compare with the recorded digest"
        )
    return False


def compare_manifest(
    manifest: Sequence[Mapping[str, Any]], files: Sequence[Mapping[str, Any]]
) -> Any:
    """True/False/Unknown: does every file a signature lists have the listed sha256?"""
    by_path = {e.get("path"): e for e in files}
    unknown: list[str] = []
    for item in manifest:
        if str(item.get("algorithm", "")).lower() != "sha256":
            unknown.append(str(item.get("path")))
            continue
        entry = by_path.get(item.get("path"))
        if entry is None:
            return False  # a signed file is missing
        have = entry.get("sha256")
        if not isinstance(have, str):
            unknown.append(str(item.get("path")))
        elif have.lower() != str(item.get("digest", "")).lower():
            return False
    if unknown:
        return Unknown(f"no sha256 to compare for {unknown[0]} (+{len(unknown) - 1} more)")
    return True


def _and(a: Any, b: Any) -> Any:
    """Kleene conjunction: false wins, then Unknown, then true."""
    if a is False or b is False:
        return False
    if isinstance(a, Unknown):
        return a
    if isinstance(b, Unknown):
        return b
    return True


def digest_match(version: Resource, inventory: Inventory) -> Any:
    """The `digest_match` of one model version, or None when it records nothing."""
    recorded = version.attributes.get("recorded_digest")
    ref = version.attributes.get("artefact")
    artefact = inventory.get(ref.id) if isinstance(ref, Ref) else None
    manifest = None
    if artefact is not None:
        signature = artefact.attributes.get("signature")
        if isinstance(signature, Mapping) and signature.get("verified") is True:
            manifest = signature.get("manifest")
    if not isinstance(recorded, Mapping) and not manifest:
        return None
    if isinstance(ref, Unknown):
        return Unknown(f"artefact unknown: {ref.reason}")
    if artefact is None:
        where = ref.id if isinstance(ref, Ref) else "no artefact"
        return Unknown(f"{where}: the version's files are not reported by any configured source")
    files = artefact.attributes.get("files")
    if isinstance(files, Unknown):
        return Unknown(f"files of {artefact.id} unknown: {files.reason}")
    if not isinstance(files, list):
        return Unknown(f"{artefact.id} has no file list to compare")
    result: Any = True
    if isinstance(recorded, Mapping):
        result = compare_recorded(recorded, files)
    if manifest:
        result = _and(result, compare_manifest(manifest, files))
    return result


def link_digests(inventory: Inventory) -> list[Resource]:
    """Model versions with `digest_match` set (only those that change); a value a source
    already reported is kept."""
    out = []
    for version in inventory.of_type("model_version"):
        if "digest_match" in version.attributes:
            continue
        match = digest_match(version, inventory)
        if match is None:
            continue
        out.append(
            Resource(
                id=version.id,
                type=version.type,
                name=version.name,
                source=version.source,
                attributes={**version.attributes, "digest_match": match},
                raw=version.raw,
            )
        )
    return out
