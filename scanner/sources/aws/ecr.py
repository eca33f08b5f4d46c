"""ECR: each repository as an image-repository `storage` resource, per region.

The same id as the `oci:` source gives the repository (`oci://ACCOUNT.dkr.ecr.REGION.
amazonaws.com/NAME`), so a scan with both merges what each can see: the images and their model
files from the registry API, the settings only the AWS API shows from here.

Who can pull comes from the repository policy: an Allow of a pull action (`ecr:BatchGetImage`,
`ecr:GetDownloadUrlForLayer`) to `*` with no condition that AWS counts as restricting makes the
repository public; a foreign account or a principal of one is a cross-account reader. Pulls
through the identity policies of the account's own principals are IAM's business, which the
storage readers of S3 cover; here only what the repository policy grants is listed. Tag
immutability, scan on push (and the registry's scanning configuration, which overrides it when
enhanced scanning is on), encryption (AES256 or KMS, and whether the key is customer-managed)
and the lifecycle policy are read with the calls that own them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.inventory import Gap, Ref, Resource, Unknown
from scanner.redact import redact
from scanner.sources.aws.collected import AwsCollected
from scanner.sources.aws.context import AwsContext
from scanner.sources.aws.iam_eval import (
    PolicyDocumentError,
    Statement,
    allowed_actions,
    parse_policy,
    restrictions,
    strongly_restricted,
    wildcard_action,
)

PULL_ACTIONS = frozenset({"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"})


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def repository_id(account: str, region: str, name: str) -> str:
    return f"oci://{registry_host(account, region)}/{name}"


def collect(ctx: AwsContext, region: str, source: str) -> AwsCollected:
    repos = ctx.pages(
        "ecr", region, "describe_repositories", "repositories", item_key="repositoryName"
    )
    if isinstance(repos, Unknown):
        # The repositories that exist are not known: no "none of them" about storage here.
        gap = Gap(
            frozenset({"storage"}), f"ECR in {region}: {repos.reason}", ctx.account, region, "aws"
        )
        return AwsCollected(problems=(f"ECR in {region}: {repos.reason}",), gaps=(gap,))
    scanning = ctx.call("ecr", region, "get_registry_scanning_configuration")
    resources = [_repository(ctx, region, repo, scanning, source) for repo in repos or []]
    return AwsCollected(resources=tuple(resources))


def _repository(
    ctx: AwsContext, region: str, repo: Mapping[str, Any], scanning: Any, source: str
) -> Resource:
    name = str(repo["repositoryName"])
    account = str(repo.get("registryId") or ctx.account)
    policy = ctx.call(
        "ecr",
        region,
        "get_repository_policy",
        absent=("RepositoryPolicyNotFoundException",),
        repositoryName=name,
        registryId=account,
    )
    lifecycle = ctx.call(
        "ecr",
        region,
        "get_lifecycle_policy",
        absent=("LifecyclePolicyNotFoundException",),
        repositoryName=name,
        registryId=account,
    )
    access = _access(policy, account)
    encryption = repo.get("encryptionConfiguration") or {}
    kind = str(encryption.get("encryptionType") or "AES256")
    key = encryption.get("kmsKey")
    customer: Any = False
    if kind.startswith("KMS"):
        customer = _customer_managed(ctx, region, key) if key else False
    attributes: dict[str, Any] = {
        "provider": "aws",
        "account": account,
        "region": region,
        "registry": registry_host(account, region),
        "repository": name,
        "arn": repo.get("repositoryArn"),
        "public": access["public"],
        "public_reasons": access["reasons"],
        "readers": access["readers"],
        "reader_count": access["count"],
        "access_grants": access["grants"],
        "tag_immutability": str(repo.get("imageTagMutability", "MUTABLE")).startswith("IMMUTABLE"),
        "scan_on_push": _scan_on_push(repo, scanning, name),
        "encryption": {
            "at_rest": True,  # ECR always encrypts: AES256 unless a KMS key is chosen
            "algorithm": kind.lower(),
            "kms_key": key,
            "customer_managed_key": customer,
        },
        # ECR is reached over HTTPS only (the API and the registry endpoint alike).
        "tls_only": True,
        "lifecycle_policy": lifecycle is not None
        if not isinstance(lifecycle, Unknown)
        else lifecycle,
    }
    raw = {
        "repository": {k: v for k, v in repo.items() if k != "createdAt"},
        "policy": policy.get("policyText") if isinstance(policy, Mapping) else None,
        "lifecycle": lifecycle.get("lifecyclePolicyText")
        if isinstance(lifecycle, Mapping)
        else None,
    }
    return Resource(
        id=repository_id(account, region, name),
        type="storage",
        name=name,
        source=source,
        attributes=attributes,
        raw=redact(raw, mask_keys=True),
    )


def _scan_on_push(repo: Mapping[str, Any], scanning: Any, name: str) -> bool | Unknown:
    """Enhanced scanning (Inspector) replaces the per-repository flag when its rules match;
    when the registry's configuration cannot be read, only a flag that is on is known."""
    if isinstance(scanning, Mapping):
        conf = scanning.get("scanningConfiguration") or {}
        for rule in conf.get("rules") or []:
            if rule.get("scanFrequency") not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
                continue
            for f in rule.get("repositoryFilters") or []:
                pattern = str(f.get("filter", ""))
                from fnmatch import fnmatchcase

                if fnmatchcase(name, pattern):
                    return True
    on = bool((repo.get("imageScanningConfiguration") or {}).get("scanOnPush", False))
    if not on and isinstance(scanning, Unknown):
        return scanning
    return on


def _customer_managed(ctx: AwsContext, region: str, key: str) -> bool | Unknown:
    answer = ctx.call("kms", region, "describe_key", absent=("NotFoundException",), KeyId=key)
    if isinstance(answer, Unknown):
        return answer
    if answer is None:
        return Unknown(f"KMS key {key} not found")
    manager = (answer.get("KeyMetadata") or {}).get("KeyManager")
    if not isinstance(manager, str):
        return ctx.malformed("kms:DescribeKey", "no KeyManager")
    return manager == "CUSTOMER"


def _access(policy: Any, owner: str) -> dict[str, Any]:
    if isinstance(policy, Unknown):
        return {
            "public": policy,
            "reasons": [],
            "readers": policy,
            "count": policy,
            "grants": policy,
        }
    statements: tuple[Statement, ...] = ()
    if isinstance(policy, Mapping):
        try:
            statements = parse_policy(policy.get("policyText", ""), "repository policy")
        except PolicyDocumentError as exc:
            bad = Unknown(f"repository policy cannot be read: {exc}")
            return {"public": bad, "reasons": [], "readers": bad, "count": bad, "grants": bad}
    public = False
    reasons: list[str] = []
    grants: list[dict[str, Any]] = []
    readers: set[str] = set()
    for st in statements:
        if st.effect != "Allow":
            continue
        actions = allowed_actions(st, PULL_ACTIONS)
        if not actions:
            continue
        limited = sorted(restrictions(st))
        for kind, value in st.principals:
            principal = "*" if kind == "*" or value == "*" else _principal(value)
            if principal is None:
                continue
            if principal == "*" and not strongly_restricted(st):
                public = True
                reasons.append(
                    f"repository policy {st.sid} lets anyone pull ({', '.join(sorted(actions))})"
                )
            account = principal.split(":")[4] if principal.startswith("arn:") else None
            foreign = principal == "*" or (account is not None and account != owner)
            readers.add(principal)
            grants.append(
                {
                    "principal": Ref(principal),
                    "via": "repository_policy",
                    "policy": "repository policy",
                    "statement": st.sid,
                    "actions": sorted(actions),
                    "conditions": {k: dict(v) for k, v in st.conditions.items()},
                    "restricted_by": limited,
                    "cross_account": foreign,
                    "wildcard_action": wildcard_action(st),
                    "wildcard_resource": True,
                    "limited_by_denies": [],
                }
            )
    return {
        "public": public,
        "reasons": reasons,
        "readers": [Ref(r) for r in sorted(readers)],
        "count": len(readers),
        "grants": grants,
    }


def _principal(value: str) -> str | None:
    if value.isdigit() and len(value) == 12:
        return f"arn:aws:iam::{value}:root"
    return value if value.startswith("arn:") else None
