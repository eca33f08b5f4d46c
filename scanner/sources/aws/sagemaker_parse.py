"""Pure rules that turn SageMaker answers into resource-model values (no calls here).

Kept apart from the collectors so every rule the docs state (the artefact directory of a model
data URL, the stage of a model package, which metadata keys mean what) is unit-tested on plain
dicts, including shapes the emulator never produces (network isolation on, ETags, prefixes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from scanner.inventory import Unknown
from scanner.redact import redact_uri

PROVIDER = "sagemaker"

# Keys read from CustomerMetadataProperties (model packages) and tags (groups, endpoints),
# besides the governance vocabulary every source reads (`scanner.sources.tags`).
SHA256, DIGEST = "sha256", "digest"
EXPOSURE, DECISION_API = "exposure", "decision-api"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(text: str) -> str:
    """Provider enumerations lower-cased: `InService` → `in_service`."""
    return _CAMEL.sub("_", text.strip()).replace(" ", "_").lower()


def model_directory(uri: str, *, is_prefix: bool) -> str:
    """The artefact id of a model data location: the directory the files are in.

    `ModelDataUrl` names one object (`s3://b/p/model.tar.gz`), so its directory is the parent
    (`s3://b/p`; an object at the bucket root gives `s3://b`). An `S3Prefix` data source
    (uncompressed model data) already names the directory (`s3://b/p/` → `s3://b/p`).
    """
    uri = redact_uri(uri.strip())
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri.rstrip("/")
    rest = rest.rstrip("/")
    if not is_prefix and "/" in rest:
        rest = rest.rsplit("/", 1)[0]
    return f"{scheme}://{rest}"


def container_data(container: Mapping[str, Any]) -> tuple[str, bool] | None:
    """(model data URI, is a prefix) of one container, or None when it names no data."""
    url = container.get("ModelDataUrl")
    if isinstance(url, str) and url:
        return url, False
    source = container.get("ModelDataSource") or {}
    s3 = source.get("S3DataSource") or {} if isinstance(source, Mapping) else {}
    uri = s3.get("S3Uri") if isinstance(s3, Mapping) else None
    if isinstance(uri, str) and uri:
        return uri, s3.get("S3DataType") == "S3Prefix" or uri.endswith("/")
    return None


def containers(description: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A model's containers (primary or pipeline), or a package's inference containers."""
    found: list[Mapping[str, Any]] = []
    primary = description.get("PrimaryContainer")
    if isinstance(primary, Mapping):
        found.append(primary)
    for key in ("Containers",):
        found.extend(c for c in description.get(key) or () if isinstance(c, Mapping))
    spec = description.get("InferenceSpecification")
    if isinstance(spec, Mapping):
        found.extend(c for c in spec.get("Containers") or () if isinstance(c, Mapping))
    return found


def image_refs(description: Mapping[str, Any]) -> list[str]:
    """The container images a model or package runs, as image-artefact references
    (`oci://REGISTRY/REPO:TAG` or `@DIGEST`), which linking resolves to the images the `oci:`
    source read."""
    out: list[str] = []
    for container in containers(description):
        image = container.get("Image")
        if isinstance(image, str) and image.strip() and f"oci://{image.strip()}" not in out:
            out.append(f"oci://{image.strip()}")
    return out


def artefact_dirs(description: Mapping[str, Any]) -> list[str]:
    """Artefact ids of every container's model data, in order, without repeats."""
    dirs: list[str] = []
    for container in containers(description):
        data = container_data(container)
        if data is not None:
            directory = model_directory(data[0], is_prefix=data[1])
            if directory not in dirs:
                dirs.append(directory)
    return dirs


def package_arn(name: str, region: str, account: str) -> str:
    """A `ModelPackageName` as an ARN: versioned packages are named by ARN already; a bare
    name is an unversioned package of this account and region (SageMaker ARNs are lower-case)."""
    if name.startswith("arn:"):
        return name
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{name.lower()}"


def package_refs(description: Mapping[str, Any], region: str, account: str) -> list[str]:
    """The model package ARNs a model's containers are built from."""
    arns: list[str] = []
    for container in containers(description):
        name = container.get("ModelPackageName")
        if isinstance(name, str) and name:
            arn = package_arn(name, region, account)
            if arn not in arns:
                arns.append(arn)
    return arns


def tag_map(tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {
        str(t.get("Key")): str(t.get("Value", ""))
        for t in tags
        if isinstance(t, Mapping) and t.get("Key") is not None
    }


def recorded_digest(
    props: Mapping[str, Any], description: Mapping[str, Any]
) -> dict[str, str] | None:
    """The digest the registry records for the version's files, or None.

    A content digest in the metadata beats the S3 ETag SageMaker stores: `sha256` or `digest`
    (`ALGORITHM:VALUE`, or 64 hex digits alone, read as sha256). Otherwise the first
    container's `ModelDataETag` (an S3 ETag, algorithm `s3-etag`, quotes removed) so it can be
    compared with the `etag` the S3 listing reports for the file.
    """
    for key in (SHA256, DIGEST):
        value = props.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        algorithm, sep, rest = value.strip().partition(":")
        if sep and rest:
            algorithm, digest = algorithm.strip().lower(), rest.strip()
        elif _HEX64.match(value.strip()) or key == SHA256:
            algorithm, digest = "sha256", value.strip()
        else:
            algorithm, digest = "unknown", value.strip()
        return {
            "algorithm": algorithm,
            "value": digest.lower() if _HEX64.match(digest) else digest,
            "source": f"CustomerMetadataProperties.{key}",
        }
    for container in containers(description):
        etag = container.get("ModelDataETag")
        if isinstance(etag, str) and etag.strip('"'):
            return {"algorithm": "s3-etag", "value": etag.strip('"'), "source": "ModelDataETag"}
    return None


def version_stage(approval: str, served: bool | Unknown, retired: bool | Unknown) -> str | Unknown:
    """`production` when Approved and served by an endpoint; `archived` when Rejected or
    retired; `staging` when Approved; `none` otherwise. Production wins over retirement, as in
    the MLflow source: a retired version still served must meet the production policies."""
    if approval == "Rejected":
        return "archived"
    if approval == "Approved":
        if isinstance(served, Unknown):
            return served
        if served:
            return "production"
    if isinstance(retired, Unknown):
        return retired
    if retired:
        return "archived"
    return "staging" if approval == "Approved" else "none"


def data_capture(endpoint: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict[str, Any]:
    """`data_capture` {enabled, destination, captures, sampling_percentage}.

    DescribeEndpoint reports the capture in force (it can be stopped after deployment); the
    endpoint config adds what is captured. `enabled` is EnableCapture and not stopped.
    """
    current = endpoint.get("DataCaptureConfig") or {}
    configured = (config or {}).get("DataCaptureConfig") or {}
    enabled = bool(current.get("EnableCapture", configured.get("EnableCapture", False)))
    if str(current.get("CaptureStatus", "")).lower() == "stopped":
        enabled = False
    out: dict[str, Any] = {"enabled": enabled}
    destination = current.get("DestinationS3Uri") or configured.get("DestinationS3Uri")
    if destination:
        out["destination"] = redact_uri(str(destination))
    options = configured.get("CaptureOptions")
    if isinstance(options, list):
        out["captures"] = sorted(
            {str(o.get("CaptureMode", "")).lower() for o in options if isinstance(o, Mapping)}
        )
    percent = current.get("CurrentSamplingPercentage", configured.get("InitialSamplingPercentage"))
    if isinstance(percent, int | float):
        out["sampling_percentage"] = percent
    return out
