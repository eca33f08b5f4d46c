"""SageMaker: model registry → `model`/`model_version`; models, configs, endpoints → `endpoint`.

The endpoint attributes this collector owns are listed in `ENDPOINT_ATTRIBUTES`; the API
Gateway collector reports the others for the same ids (`apigateway.GATEWAY_ATTRIBUTES`) and
the Inventory merges the two. No attribute is set by both, so the merge order never matters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.inventory import Gap, Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.aws.collected import AwsCollected
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.sagemaker_calls import Reader, region_disabled, strip_metadata
from scanner.sources.aws.sagemaker_endpoints import EndpointFacts, region_endpoints
from scanner.sources.aws.sagemaker_parse import (
    DECISION_API,
    EXPOSURE,
    PROVIDER,
    artefact_dirs,
    data_capture,
    image_refs,
    package_refs,
    snake,
    tag_map,
)
from scanner.sources.aws.sagemaker_registry import Served, collect_registry
from scanner.sources.tags import governance_facts

ENDPOINT_ATTRIBUTES = frozenset(
    {
        "provider", "account", "region", "status", "endpoint_config", "variants", "tags",
        "output_mode", "decision_api", "model_versions", "artefacts", "network_isolation",
        "in_private_network", "vpc", "vpcs", "data_capture", "encryption", "images",
    }
)  # fmt: skip

ENDPOINT_TYPES = frozenset({"endpoint"})
# ec2:DescribeSubnets takes at most this many values in one filter.
SUBNET_CHUNK = 200

Described = Mapping[str, Any] | Unknown


def collect(ctx: AwsContext, region: str, source: str) -> AwsCollected:
    shared = region_endpoints(ctx, region)
    if region_disabled(shared.endpoints, region):
        return AwsCollected(problems=shared.problems)
    reader = Reader(ctx, "sagemaker", region)
    endpoints = shared.endpoints if isinstance(shared.endpoints, tuple) else ()

    model_names = sorted(
        {n for e in endpoints if isinstance(names := e.model_names(), list) for n in names}
    )
    models = _describe_all(reader, "describe_model", "ModelName", model_names)
    served = _served(shared.endpoints, models, region, ctx.account)
    registry = collect_registry(reader, ctx.account, served, source)
    # Packages an endpoint serves that the registry listing did not show (another account's).
    missing = sorted(served.arns - registry.packages.keys())
    packages = {
        **registry.packages,
        **_describe_all(reader, "describe_model_package", "ModelPackageName", missing),
    }
    subnets = _subnet_vpcs(reader, models.values(), ctx.account)
    tags = reader.map(
        lambda e: (
            e.tags
            if e.tags is not None
            else reader.pages("sagemaker", "list_tags", "Tags", ResourceArn=e.arn)
        ),
        endpoints,
    )
    resources = list(registry.resources)
    for facts, endpoint_tags in zip(endpoints, tags, strict=True):
        resources.append(
            _endpoint(facts, endpoint_tags, models, packages, subnets, ctx.account, region, source)
        )
    problems = tuple(dict.fromkeys((*shared.problems, *reader.problems())))
    # Endpoints that could not be listed may run anywhere in the region: linking must not
    # conclude that a VPC there hosts no model (endpoints other collectors name stay).
    gaps = (
        (Gap(ENDPOINT_TYPES, f"SageMaker endpoints in {region}: {shared.endpoints.reason}",
             ctx.account, region),)
        if isinstance(shared.endpoints, Unknown)
        else ()
    )  # fmt: skip
    return AwsCollected(tuple(resources), problems, gaps)


def _describe_all(
    reader: Reader, method: str, parameter: str, names: list[str]
) -> dict[str, Described]:
    """One describe call per name, on the bounded pool."""

    def describe(name: str) -> Described:
        params: dict[str, Any] = {parameter: name}
        answer = reader.call("sagemaker", method, **params)
        if isinstance(answer, dict):
            return strip_metadata(answer)
        return answer if isinstance(answer, Unknown) else Unknown("no answer")

    return dict(zip(names, reader.map(describe, names), strict=True))


def _served(
    listing: Sequence[EndpointFacts] | Unknown,
    models: Mapping[str, Described],
    region: str,
    account: str,
) -> Served:
    """Which packages the region's endpoints serve; unknown if any endpoint's models are."""
    if isinstance(listing, Unknown):
        return Served(frozenset(), listing)
    arns: set[str] = set()
    unknown: Unknown | None = None
    for facts in listing:
        names = facts.model_names()
        if isinstance(names, Unknown):
            unknown = names if unknown is None else unknown
            continue
        for name in names:
            model = models[name]
            if isinstance(model, Unknown):
                unknown = model if unknown is None else unknown
            else:
                arns.update(a.lower() for a in package_refs(model, region, account))
    return Served(frozenset(arns), unknown)


def network_id(region: str, owner: str, vpc_id: str) -> str:
    return f"arn:aws:ec2:{region}:{owner}:vpc/{vpc_id}"


def _subnet_vpcs(reader: Reader, models: Any, account: str) -> Mapping[str, str] | Unknown:
    """Subnet id → network id for every subnet a model's VpcConfig names (one call per 200)."""
    ids = sorted(
        {
            s
            for m in models
            if isinstance(m, Mapping)
            for s in (m.get("VpcConfig") or {}).get("Subnets") or ()
            if isinstance(s, str)
        }
    )
    found: dict[str, str] = {}
    for start in range(0, len(ids), SUBNET_CHUNK):
        chunk = ids[start : start + SUBNET_CHUNK]
        subnets = reader.pages(
            "ec2",
            "describe_subnets",
            "Subnets",
            item_key=("SubnetId", "VpcId"),
            Filters=[{"Name": "subnet-id", "Values": chunk}],
        )
        if isinstance(subnets, Unknown):
            return subnets
        for subnet in subnets or ():
            if subnet.get("SubnetId") and subnet.get("VpcId"):
                owner = str(subnet.get("OwnerId") or account)
                found[subnet["SubnetId"]] = network_id(reader.region, owner, subnet["VpcId"])
    return found


def _endpoint(
    facts: EndpointFacts,
    tags: list[Any] | Unknown | None,
    models: Mapping[str, Described],
    packages: Mapping[str, Described],
    subnets: Mapping[str, str] | Unknown,
    account: str,
    region: str,
    source: str,
) -> Resource:
    attributes: dict[str, Any] = {
        "provider": PROVIDER,
        "account": account,
        "region": region,
        "status": snake(facts.status) if facts.status else "unknown",
    }
    values = tag_map(tags) if isinstance(tags, list) else {}
    if isinstance(tags, list):
        attributes["tags"] = redact(values, mask_keys=True)
        output_mode = governance_facts(values).get("output_mode")
        if output_mode is not None:
            attributes["output_mode"] = output_mode
        attributes["decision_api"] = values.get(EXPOSURE, "").strip().lower() == DECISION_API
    else:
        reason = tags if isinstance(tags, Unknown) else Unknown("no answer")
        attributes.update(tags=reason, output_mode=reason, decision_api=reason)

    description, config = facts.description, facts.config
    if isinstance(description, Mapping):
        attributes["endpoint_config"] = str(description.get("EndpointConfigName", ""))
        capture_config = config if isinstance(config, Mapping) else None
        attributes["data_capture"] = data_capture(description, capture_config)
    else:
        attributes["endpoint_config"] = description
        attributes["data_capture"] = description
    if isinstance(config, Mapping):
        attributes["encryption"] = {"kms_key": config["KmsKeyId"]} if config.get("KmsKeyId") else {}
        attributes["variants"] = [
            {"name": str(v.get("VariantName", "")), "model": str(v.get("ModelName", ""))}
            for key in ("ProductionVariants", "ShadowProductionVariants")
            for v in config.get(key) or ()
            if isinstance(v, Mapping)
        ]
    else:
        attributes["encryption"] = config
        attributes["variants"] = config
    attributes.update(model_facts(facts, models, packages, subnets, region, account))
    raw = {
        "endpoint": description if isinstance(description, Mapping) else None,
        "endpoint_config": config if isinstance(config, Mapping) else None,
        "tags": values,
    }
    return Resource(
        id=facts.arn,
        type="endpoint",
        name=facts.name,
        source=source,
        attributes=attributes,
        raw=redact(raw, mask_keys=True),
    )


def model_facts(
    facts: EndpointFacts,
    models: Mapping[str, Described],
    packages: Mapping[str, Described],
    subnets: Mapping[str, str] | Unknown,
    region: str,
    account: str,
) -> dict[str, Any]:
    """Attributes that depend on every model the endpoint runs: unknown if any model is."""
    keys = (
        "network_isolation", "in_private_network", "vpcs", "model_versions", "artefacts", "images",
    )  # fmt: skip
    names = facts.model_names()
    if isinstance(names, Unknown):
        return dict.fromkeys(keys, names)
    if not names:
        return dict.fromkeys(keys, Unknown("the endpoint config names no model"))
    unknown = next((models[n] for n in names if isinstance(models[n], Unknown)), None)
    if unknown is not None:
        return dict.fromkeys(keys, unknown)
    described = [m for m in (models[n] for n in names) if not isinstance(m, Unknown)]
    out: dict[str, Any] = {
        # moto drops EnableNetworkIsolation (always false): see docs/sources/aws-services.md.
        "network_isolation": all(m.get("EnableNetworkIsolation") is True for m in described),
        "in_private_network": all(
            bool((m.get("VpcConfig") or {}).get("Subnets")) for m in described
        ),
    }
    out["vpcs"] = _vpcs(described, subnets)
    if isinstance(out["vpcs"], list) and out["vpcs"]:
        out["vpc"] = out["vpcs"][0]
    elif isinstance(out["vpcs"], Unknown):
        out["vpc"] = out["vpcs"]
    versions = [a for m in described for a in package_refs(m, region, account)]
    out["model_versions"] = [Ref(a) for a in dict.fromkeys(versions)]
    dirs = [d for m in described for d in artefact_dirs(m)]
    images = [i for m in described for i in image_refs(m)]
    for arn in versions:
        package = packages.get(arn.lower(), Unknown(f"model package {arn} was not described"))
        if isinstance(package, Unknown):
            out["artefacts"] = out["images"] = package
            return out
        dirs.extend(artefact_dirs(package))
        images.extend(image_refs(package))
    # The served images are artefacts too: weights baked into an image are loaded like
    # model data, and the image is checked (signature, unsafe files) like any artefact.
    out["images"] = [Ref(i) for i in dict.fromkeys(images)]
    out["artefacts"] = [Ref(d) for d in dict.fromkeys([*dirs, *images])]
    return out


def _vpcs(described: Sequence[Mapping[str, Any]], subnets: Mapping[str, str] | Unknown) -> Any:
    ids: list[str] = []
    for model in described:
        for subnet in (model.get("VpcConfig") or {}).get("Subnets") or ():
            if isinstance(subnets, Unknown):
                return subnets
            if subnet not in subnets:
                return Unknown(f"subnet {subnet} not found by ec2:DescribeSubnets")
            ids.append(subnets[subnet])
    return [Ref(i) for i in sorted(set(ids))]
