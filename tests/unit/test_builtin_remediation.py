"""The built-in pack's remediation per provider: no policy about cloud resources is left with one
provider's steps only, and each provider's steps are written for that provider.

A new policy about storage, principals, networks, endpoints, models or artefacts fails the first
test until it gives AWS, Azure and Google Cloud steps, or says in `providers_note` why one has
none (no source reports that resource type there, or the steps are the same everywhere).
"""

from __future__ import annotations

import re

import pytest

from scanner.bundled import bundled_dir
from scanner.outputs.remediation import LABELS
from scanner.policy.loader import load_policy_dirs
from scanner.policy.model import Policy

CLOUDS = ("aws", "azure", "gcp")
# Evidence a team attests, not a resource of any provider.
PROVIDER_NEUTRAL_TYPES = {"attestation"}
SAME_EVERYWHERE = "same on every provider"
# How each provider's own tools start a command line, and name their Terraform resources.
COMMANDS = {
    "aws": ("aws ",),
    "azure": ("az ",),
    "gcp": ("gcloud ", "curl "),
    "oci": ("curl ",),
}
TERRAFORM = {"aws": "aws_", "azure": "azurerm_", "gcp": "google_", "oci": "harbor_"}
OTHER_CLOUDS_WORDS = {
    "aws": re.compile(r"\b(az|gcloud|gsutil)\s|azurerm_|google_"),
    "azure": re.compile(r"\b(aws|gcloud|gsutil)\s|\baws_|google_"),
    "gcp": re.compile(r"\b(aws|az)\s|\baws_|azurerm_"),
    "oci": re.compile(r"\b(aws|az|gcloud)\s|\baws_|azurerm_|google_"),
}


def _pack() -> list[Policy]:
    return list(load_policy_dirs([bundled_dir("policies")]).policies)


PACK = _pack()


@pytest.mark.parametrize(
    "policy", [p for p in PACK if p.resource not in PROVIDER_NEUTRAL_TYPES], ids=lambda p: p.id
)
def test_every_cloud_policy_has_steps_for_each_cloud_or_says_why_not(policy: Policy) -> None:
    providers = policy.remediation.get("providers", {})
    missing = [p for p in CLOUDS if p not in providers]
    if not missing:
        return
    note = policy.remediation.get("providers_note", "")
    assert note, (
        f"{policy.id} ({policy.file}) has no steps for {', '.join(missing)}: write them under "
        f"remediation.providers, or say why in remediation.providers_note"
    )
    if SAME_EVERYWHERE in note:
        assert not providers, f"{policy.id}: steps differ by provider yet the note says they do not"
        return
    for provider in missing:
        assert LABELS[provider] in note, (
            f"{policy.id}: providers_note must say why {LABELS[provider]} has no steps: {note!r}"
        )


PROVIDER_BLOCKS = [
    pytest.param(p.id, name, steps, id=f"{p.id}-{name}")
    for p in PACK
    for name, steps in p.remediation.get("providers", {}).items()
]


@pytest.mark.parametrize(("pid", "provider", "steps"), PROVIDER_BLOCKS)
def test_each_providers_steps_use_that_providers_tools(
    pid: str, provider: str, steps: dict[str, str]
) -> None:
    for line in steps.get("cli", "").splitlines():
        if not line.strip() or line.startswith(("#", " ", "\t")):
            continue  # comments, and the continuation lines of a command
        assert line.startswith(COMMANDS[provider]), f"{pid} {provider}: {line}"
    if "terraform" in steps:
        assert f'resource "{TERRAFORM[provider]}' in steps["terraform"], pid
    for key in ("cli", "terraform", "other"):
        assert not OTHER_CLOUDS_WORDS[provider].search(steps.get(key, "")), (pid, provider, key)


def test_the_aws_steps_moved_under_providers_leave_neutral_text_on_top() -> None:
    """The neutral summary applies to every provider: it names no AWS-only service."""
    aws_only = re.compile(r"\b(S3|SageMaker|CloudTrail|GuardDuty|ECR|API Gateway|IAM user)\b")
    for policy in PACK:
        if "providers" not in policy.remediation:
            continue
        summary = policy.remediation["summary"]
        assert not aws_only.search(summary), f"{policy.id}: {summary}"
        for key in ("cli", "terraform", "other"):
            assert not re.search(r"^\s*aws ", policy.remediation.get(key, ""), re.M), policy.id
