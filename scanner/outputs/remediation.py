"""Which remediation steps a failing resource gets: its provider, and that provider's steps.

A policy's remediation has provider-neutral text (`summary`, `console`, `cli`, `terraform`,
`other`) and, under `providers`, steps that only make sense on one provider: the AWS CLI for an
S3 bucket, `az` for an Azure container, `gcloud` for a Cloud Storage bucket. The neutral text
applies everywhere; a resource of a provider with steps of its own gets those as well. A
resource whose provider is unknown (an MLflow registry can run anywhere), local, or a provider
the policy has no steps for, gets the neutral text alone.

Every writer asks this module, so a resource's provider is decided in one place, from what the
results document says about it (no writer imports a source):

1. its id: the schemes and hosts each source uses (docs/resource-model.md, "Ids");
2. its attributes: `provider` (storage, models, endpoints) or `location.provider` (artefacts);
3. the kind of the source that reported it (`scan.sources[].type`), e.g. a GCP IAM member
   such as `user:a@example.com`, whose id names no provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The keys of `remediation.providers` (the policy schema lists the same; a test keeps them
# equal). `oci` is a container registry that is none of the three clouds' own (Harbor,
# Distribution, GitHub or Docker Hub): ECR, ACR and Artifact Registry belong to their cloud.
PROVIDERS = ("aws", "azure", "gcp", "oci")
LABELS = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "Container registry"}
# A resource on a local disk: known, but no provider's steps apply.
LOCAL = "local"
STEP_KEYS = ("console", "cli", "terraform", "other")
STEP_LABELS = {"console": "Console", "cli": "CLI", "terraform": "Terraform", "other": "Other"}

# Id prefixes, longest first where one is a prefix of another.
_ID_PREFIXES: tuple[tuple[str, str], ...] = (
    ("s3://", "aws"),
    ("arn:aws:", "aws"),
    ("arn:aws-cn:", "aws"),
    ("arn:aws-us-gov:", "aws"),
    ("aws-guardduty://", "aws"),
    ("gs://", "gcp"),
    ("//aiplatform.googleapis.com/", "gcp"),
    ("gcp-audit-logs://", "gcp"),
    ("azure://", "azure"),
    ("azure-principal://", "azure"),
    ("azure-defender://", "azure"),
    # An Azure Resource Manager id (a diagnostic setting is the Azure source's audit trail).
    ("/subscriptions/", "azure"),
    ("file://", LOCAL),
    ("oci-layout:", LOCAL),
    ("docker-archive:", LOCAL),
)
# IAM members of Google Cloud (the gcs: source's principals are named by them).
_GCP_MEMBER = re.compile(
    r"^(deleted:)?(user|group|domain|serviceAccount|projectOwner|projectEditor|projectViewer):"
    r"|^(principal|principalSet)://iam\.googleapis\.com/"
    r"|^(allUsers|allAuthenticatedUsers)$"
)
# Registries that belong to a cloud, by host (the `oci://HOST/REPOSITORY` ids).
_REGISTRY_HOSTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"), "aws"),
    (re.compile(r"^public\.ecr\.aws$"), "aws"),
    (re.compile(r"^[a-z0-9-]+\.azurecr\.(io|cn|us)$"), "azure"),
    (re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)$"), "gcp"),
)
# `provider` attribute values (and `location.provider` of artefacts) → provider.
_ATTRIBUTE_PROVIDERS = {
    "aws": "aws",
    "s3": "aws",
    "sagemaker": "aws",
    "ecr": "aws",
    "azure": "azure",
    "gcp": "gcp",
    "gcs": "gcp",
    "vertex": "gcp",
    "oci": "oci",
    "local": LOCAL,
}
# Source kinds (`scan.sources[].type`) → provider; a kind not here (mlflow, attestations,
# logs) says nothing about where its resources live.
_SOURCE_PROVIDERS = {
    "aws": "aws",
    "azure": "azure",
    "gcs": "gcp",
    "vertex": "gcp",
    "oci": "oci",
    "path": LOCAL,
    "oci-layout": LOCAL,
    "docker-archive": LOCAL,
}


def _registry_provider(resource_id: str) -> str:
    host = resource_id.removeprefix("oci://").split("/", 1)[0].lower()
    for pattern, provider in _REGISTRY_HOSTS:
        if pattern.match(host):
            return provider
    return "oci"


def _from_id(resource_id: str) -> str | None:
    if resource_id.startswith("oci://"):
        return _registry_provider(resource_id)
    for prefix, provider in _ID_PREFIXES:
        if resource_id.startswith(prefix):
            return provider
    if _GCP_MEMBER.match(resource_id):
        return "gcp"
    return None


def _from_attributes(attributes: Mapping[str, Any]) -> str | None:
    for value in (attributes.get("provider"), _location_provider(attributes)):
        if isinstance(value, str) and value.lower() in _ATTRIBUTE_PROVIDERS:
            return _ATTRIBUTE_PROVIDERS[value.lower()]
    return None


def _location_provider(attributes: Mapping[str, Any]) -> Any:
    location = attributes.get("location")
    return location.get("provider") if isinstance(location, Mapping) else None


def resource_provider(
    resource_id: str,
    resource: Mapping[str, Any] | None = None,
    source_kind: str | None = None,
) -> str | None:
    """`aws`, `azure`, `gcp`, `oci`, `local`, or None when nothing says where it lives.

    `resource` is the resource as results.json holds it (`attributes`), `source_kind` the
    type of the source that reported it."""
    found = _from_id(resource_id)
    if found is None and resource is not None:
        attributes = resource.get("attributes")
        if isinstance(attributes, Mapping):
            found = _from_attributes(attributes)
    if found is None and source_kind is not None:
        found = _SOURCE_PROVIDERS.get(source_kind)
    return found


class ProviderIndex:
    """The provider of every resource of one results document, looked up by id."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._resources = {r["id"]: r for r in document.get("resources", ())}
        self._kinds = {s["name"]: s["type"] for s in document["scan"]["sources"]}
        self._cache: dict[str, str | None] = {}

    def of(self, resource_id: str) -> str | None:
        if resource_id not in self._cache:
            resource = self._resources.get(resource_id)
            kind = self._kinds.get(resource["source"]) if resource else None
            self._cache[resource_id] = resource_provider(resource_id, resource, kind)
        return self._cache[resource_id]

    def specific_steps(
        self, remediation: Mapping[str, Any] | None, resource_ids: Iterable[str]
    ) -> list[tuple[Steps, int]]:
        """For a policy failing on `resource_ids`: each provider's own steps, with how many of
        those resources are that provider's, for the providers that have steps (in the order
        of PROVIDERS). The neutral steps apply to all of them and are not repeated here."""
        counts: dict[str, int] = {}
        for rid in resource_ids:
            provider = self.of(rid)
            if provider is not None:
                counts[provider] = counts.get(provider, 0) + 1
        out = []
        for provider in PROVIDERS:
            steps = for_provider(remediation, provider) if provider in counts else None
            if steps is not None:
                out.append((steps, counts[provider]))
        return out


@dataclass(frozen=True)
class Steps:
    """One set of steps: the provider-neutral ones (`provider` None) or one provider's."""

    provider: str | None
    summary: str = ""
    console: str = ""
    cli: str = ""
    terraform: str = ""
    other: str = ""

    @property
    def label(self) -> str:
        return LABELS.get(self.provider, self.provider) if self.provider else ""

    def blocks(self) -> list[tuple[str, str]]:
        """(label, text) of each step given, in reading order: console, CLI, Terraform, other."""
        return [(STEP_LABELS[k], getattr(self, k)) for k in STEP_KEYS if getattr(self, k)]

    def __bool__(self) -> bool:
        return bool(self.summary or self.blocks())


def _steps(provider: str | None, given: Any) -> Steps:
    if not isinstance(given, Mapping):
        return Steps(provider)
    values = {k: given.get(k) for k in ("summary", *STEP_KEYS)}
    return Steps(provider, **{k: v for k, v in values.items() if isinstance(v, str)})


def general(remediation: Mapping[str, Any] | None) -> Steps:
    """The provider-neutral steps (everything but `providers`)."""
    return _steps(None, remediation or {})


def for_provider(remediation: Mapping[str, Any] | None, provider: str | None) -> Steps | None:
    """The steps the policy gives for `provider` only, or None when it gives none."""
    providers = (remediation or {}).get("providers")
    if provider is None or not isinstance(providers, Mapping) or provider not in providers:
        return None
    steps = _steps(provider, providers[provider])
    return steps or None


def all_providers(remediation: Mapping[str, Any] | None) -> list[Steps]:
    """Every provider's steps, in the order of PROVIDERS (for a rule's help, which covers
    resources of any provider)."""
    return [s for p in PROVIDERS if (s := for_provider(remediation, p)) is not None]


def as_text(steps: Steps, *, summary: bool = True) -> str:
    """Plain text of one set of steps: the summary (a provider's prefixed with `On LABEL:`),
    then each step as `LABEL:` and its text on the following lines."""
    lines = []
    if summary and steps.summary:
        lines.append(f"On {steps.label}: {steps.summary}" if steps.provider else steps.summary)
    elif steps.provider:
        lines.append(f"On {steps.label}:")
    for label, text in steps.blocks():
        lines.append(f"{label}:\n{text}")
    return "\n".join(lines)


def text_for(remediation: Mapping[str, Any] | None, provider: str | None) -> str:
    """What to do about a resource of `provider`, as plain text (CSV cells, JUnit bodies):
    the neutral steps, then the provider's own when the policy has them."""
    parts = [as_text(general(remediation), summary=False)]
    specific = for_provider(remediation, provider)
    if specific is not None:
        parts.append(as_text(specific))
    return "\n\n".join(p for p in parts if p)


def one_provider(document: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """A policy document with only `provider`'s steps under `remediation.providers` (for
    `policies show --provider`); the neutral text and the note are kept."""
    out = dict(document)
    fix = out.get("remediation")
    if isinstance(fix, Mapping) and isinstance(fix.get("providers"), Mapping):
        kept = {k: v for k, v in fix["providers"].items() if k == provider}
        out["remediation"] = {k: v for k, v in fix.items() if k != "providers"}
        if kept:
            out["remediation"]["providers"] = kept
    return out
