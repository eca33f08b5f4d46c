"""What `modelward init` finds on this machine, and the starter `modelward.yaml` it writes.

Detection reads the environment and the file system only: it never calls AWS, MLflow or
anything else, so `init` is instant, works offline and has no side effect. What it finds
becomes an active source; what it does not find is written as a commented example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scanner.commands import starter_clouds as clouds

MODEL_DIRS = ("models", "model")
EVIDENCE_FILES = ("evidence.yaml", "attestations.yaml")
MLFLOW_STORE = "mlruns"


@dataclass(frozen=True)
class Found:
    """One source to scan, and how `init` knew it was there (for the comment above it)."""

    spec: str
    name: str
    why: str


@dataclass(frozen=True)
class Hints:
    """What was found but is not enough for an active source: written into the commented
    examples, so the user completes a line rather than looks an identifier up."""

    gcp_project: str | None = None  # the project gcloud or the environment names
    gcp_credentials: bool = False  # and whether the client libraries would find credentials
    registries: tuple[str, ...] = ()  # registries Docker holds credentials for


def detect(base: Path, env: Mapping[str, str]) -> list[Found]:
    """The sources of the directory `base` (where the config will live: its relative paths
    are relative to it) and of this environment."""
    found: list[Found] = []
    uri = env.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        shown, had_credentials = _without_credentials(uri)
        why = "MLFLOW_TRACKING_URI is set"
        if had_credentials:  # the file is meant to be committed
            why += "; its user:password is left out (MLFLOW_TRACKING_USERNAME, _PASSWORD)"
        found.append(Found(f"mlflow:{shown}", "mlflow-registry", why))
    elif (base / MLFLOW_STORE).is_dir():
        found.append(Found(f"mlflow:./{MLFLOW_STORE}", "mlflow-registry", "a local MLflow store"))
    aws = aws_credentials(env)
    if aws:
        found.append(Found("aws:", "aws-account", f"AWS credentials: {aws}"))
    home = clouds.home_of(env)
    subscription = clouds.azure_subscription(env, home)
    if subscription is not None:
        found.append(
            Found(f"azure:subscription={subscription.id}", "azure-subscription", subscription.why)
        )
    project = clouds.gcp_project(env, home)
    if project is not None and project.credentials:
        found.append(Found(f"gcs:project={project.id}", "gcs-project", project.why))
        if project.location:
            found.append(
                Found(
                    f"vertex:project={project.id},location={project.location}",
                    "vertex-registry",
                    f"{project.why}; Vertex AI region {project.location}",
                )
            )
    for name in MODEL_DIRS:
        if (base / name).is_dir():
            found.append(Found(f"path:./{name}", "model-files", f"a ./{name} directory"))
            break
    for name in EVIDENCE_FILES:
        if (base / name).is_file():
            found.append(Found(f"attestations:./{name}", "evidence", f"./{name}"))
            break
    return found


def hints(env: Mapping[str, str]) -> Hints:
    """Identifiers found without the credentials to use them, for the commented examples."""
    home = clouds.home_of(env)
    project = clouds.gcp_project(env, home)
    return Hints(
        gcp_project=project.id if project is not None else None,
        gcp_credentials=project is not None and project.credentials,
        registries=tuple(clouds.docker_registries(env, home)),
    )


def _without_credentials(uri: str) -> tuple[str, bool]:
    """A tracking URI fit to commit: `https://user:pass@host` loses its `user:pass@`."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, False
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), True


def aws_credentials(env: Mapping[str, str]) -> str | None:
    """Where boto3's credential chain would find credentials, in words, or None.

    Only the links of the chain that read the environment and the AWS config files are asked
    (botocore's own providers for them); those that would call a service (STS for a role,
    SSO, the container and instance metadata endpoints) are recognised from their settings,
    never run. Credentials that only an instance's metadata would give are not seen.
    """
    import botocore.exceptions
    import botocore.session

    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return "AWS_ACCESS_KEY_ID in the environment"
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
        return "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)"
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return "the container's credentials endpoint"
    session = botocore.session.Session()
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    try:
        resolver = session.get_component("credential_provider")
        for method in ("shared-credentials-file", "config-file"):
            if resolver.get_provider(method).load() is not None:
                return f"profile '{profile}' in the AWS credentials or config file"
        settings = session.get_scoped_config()
    except botocore.exceptions.BotoCoreError:  # e.g. AWS_PROFILE names no profile
        return None
    for key, what in (
        ("role_arn", "a role to assume"),
        ("sso_session", "AWS SSO"),
        ("sso_start_url", "AWS SSO"),
        ("credential_process", "a credential process"),
        ("web_identity_token_file", "a web identity token"),
    ):
        if settings.get(key):
            return f"profile '{profile}' ({what})"
    return None


def render(found: list[Found], hint: Hints | None = None) -> str:
    """The starter file: what was found as active sources, the rest as commented examples."""
    hint = hint or Hints()
    kinds = {f.spec.partition(":")[0] for f in found}
    lines = [
        "# modelward.yaml: what `modelward scan` reads when run in this directory.",
        "# Written by `modelward init` from what it found here; edit freely. Every key is",
        "# described in docs/configuration.md; relative paths are relative to this file.",
        "version: 1",
        "",
    ]
    if found:
        lines.append("sources:")
    else:
        lines += [
            "# Nothing was found to scan here: list sources in place of [] (examples below).",
            "sources: []",
        ]
    for item in found:
        lines += [f"  # {item.why}", f"  - spec: {_quoted(item.spec)}", f"    name: {item.name}"]
    project = hint.gcp_project or "PROJECT"
    gcs = [f"  # - spec: gcs:project={project}          # Cloud Storage buckets, IAM, audit logs"]
    if hint.gcp_project and not hint.gcp_credentials:
        gcs.insert(
            0, f"  # project {project} is gcloud's; first: gcloud auth application-default login"
        )
    registries = ", ".join(hint.registries)
    oci = ["  # - spec: oci:REGISTRY/REPOSITORY:TAG    # container images that bundle models"]
    if registries:
        oci.insert(0, f"  # Docker can log in to: {registries}")
    examples = {
        "path": ["  # - spec: path:./models               # model files on disk"],
        "mlflow": ["  # - spec: mlflow:https://mlflow.example.com   # an MLflow registry"],
        "aws": [
            '  # - spec: "aws:"                       # S3, IAM, CloudTrail, SageMaker, ...',
            "  #   options: {regions: [eu-west-1]}    # read-only; docs/iam-policy.json",
        ],
        "azure": [
            "  # - spec: azure:subscription=SUBSCRIPTION-ID   # Blob Storage, RBAC, Defender",
        ],
        "gcs": gcs,
        "vertex": [
            f"  # - spec: vertex:project={project},location=REGION   # Vertex AI Model Registry",
        ],
        "oci": oci,
        "attestations": [
            "  # - spec: attestations:./evidence.yaml  # threat models, assessments, playbooks"
        ],
        "logs": ["  # - spec: logs:./logs                  # inference logs (modelward[logs])"],
        "access-logs": [
            "  # - spec: access-logs:s3://TRAIL-BUCKET/AWSLogs/   # who read the models "
            "(modelward[logs])",
        ],
    }
    missing = [line for kind, block in examples.items() if kind not in kinds for line in block]
    if missing:
        other = "Other sources" if found else "Sources"
        lines += ["", f"  # {other} modelward reads (see docs/configuration.md#sources):"]
        lines += missing
    lines += [
        "",
        "policies:",
        "  builtin: true                  # the built-in pack; your own policies add to it:",
        "  # dirs: [./policies]",
        "",
        "output:",
        "  dir: out",
        "  formats: [json, html, md]      # also: csv, sarif, junit, cyclonedx, spdx",
        "",
        "gate:",
        "  fail_on: high                  # exit 1 when a finding this severe or worse fails",
        "",
    ]
    return "\n".join(lines)


def _quoted(spec: str) -> str:
    """`aws:` alone would read as a YAML mapping key: quote what YAML would misread."""
    return f'"{spec}"' if spec.endswith(":") or ": " in spec or " #" in spec else spec
