"""The demo's Azure and Google Cloud estates: emulators and shape servers, seeded, for the scan.

Azure is Azurite (the Blob data plane, over HTTPS with OAuth, so the scanner reads blobs with a
token as it does in Azure) behind the ARM shape server (the management plane, which no
emulator serves), seeded with `azure_estate`: a storage account with a public container
holding a model and every other misconfiguration, and its well-kept twin. Google Cloud is
fake-gcs-server behind the GCP shape server (bucket IAM, project IAM and audit configs,
VPC Service Controls, Vertex AI), seeded with `gcp_estate`: a public bucket holding models,
its well-kept twin, and Vertex AI models and endpoints.

Each estate is optional: when its emulator is not installed here, the demo scans the other
clouds and says in one line which it skipped and why, instead of failing. A source that was
started and then fails still fails the demo (exit 3), as it would fail a scan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scanner.demo.servers import environment

# Variables of the user's own Azure and Google Cloud set-ups that would steer the demo's
# credential chains away from the local servers (to a real tenant or project).
AZURE_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_AUTHORITY_HOST",
    "AZURE_STORAGE_CONNECTION_STRING",
    "MSI_ENDPOINT",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
)
GCP_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")


@dataclass(frozen=True)
class CloudEstate:
    """A seeded cloud: the sources that scan it and the environment they need (None: unset)."""

    cloud: str
    sources: tuple[tuple[str, str], ...]  # (spec, name)
    env: dict[str, str | None] = field(default_factory=dict)


@contextlib.contextmanager
def azure(workdir: Path, say: Callable[[str], None]) -> Iterator[CloudEstate | None]:
    """Azurite + the ARM shape server, seeded; None (and one line said) when Azurite is not
    installed."""
    from scanner.demo import azure_estate
    from scanner.demo.arm_shapes import arm_shape_server
    from scanner.demo.azurite import azurite, make_tls, missing

    reason = missing()
    if reason is not None:
        say(f"demo: skipped Azure: {reason}")
        yield None
        return
    tls = make_tls(workdir / "tls")
    with azurite(workdir / "azurite", tls, azure_estate.KEYS) as blobs:
        say(
            f"demo: Azurite storage accounts {azure_estate.BAD} and {azure_estate.GOOD} at "
            f"https://127.0.0.1:{blobs.port}; seeding containers and models ..."
        )
        with _trusting(tls.cert):
            azure_estate.seed(blobs.connection_string)
        with arm_shape_server(azure_estate.arm_estate(blobs.url), tls) as arm:
            spec = f"azure:subscription={azure_estate.SUBSCRIPTION},arm_endpoint={arm.base}"
            env: dict[str, str | None] = {name: None for name in AZURE_VARIABLES}
            env.update(arm.env())
            yield CloudEstate("Azure", ((spec, "azure-subscription"),), env)


@contextlib.contextmanager
def gcp(workdir: Path, say: Callable[[str], None]) -> Iterator[CloudEstate | None]:
    """fake-gcs-server + the GCP shape server (Vertex AI included), seeded; None (and one line
    said) when fake-gcs-server is not installed."""
    from scanner.demo import gcp_estate
    from scanner.demo.gcp_shapes import GcpShapeServer, fake_gcs_server, missing

    reason = missing()
    if reason is not None:
        say(f"demo: skipped Google Cloud: {reason}")
        yield None
        return
    with fake_gcs_server() as emulator, GcpShapeServer(emulator.url) as shapes:
        say(
            f"demo: fake-gcs-server at {emulator.url}, Vertex AI shape server at {shapes.url}; "
            f"seeding project {gcp_estate.PROJECT} ..."
        )
        gcp_estate.seed_estate(emulator, shapes)
        gcp_estate.seed_vertex(shapes)
        workdir.mkdir(parents=True, exist_ok=True)
        env: dict[str, str | None] = {name: None for name in GCP_VARIABLES}
        env.update(shapes.env(shapes.write_adc(workdir / "adc.json")))
        # Never the user's own gcloud login or project.
        env["CLOUDSDK_CONFIG"] = str(workdir / "no-gcloud")
        project, location = gcp_estate.PROJECT, gcp_estate.LOCATION
        sources = (
            (f"gcs:project={project},org_domains=acme.example", "gcs-project"),
            (f"vertex:project={project},location={location}", "vertex-registry"),
        )
        yield CloudEstate("Google Cloud", sources, env)


@contextlib.contextmanager
def _trusting(cert: Path) -> Iterator[None]:
    """The seeding client trusts Azurite's certificate (made for this run) while it seeds."""
    with environment({"REQUESTS_CA_BUNDLE": str(cert)}):
        yield
