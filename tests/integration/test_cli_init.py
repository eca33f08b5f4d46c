"""`modelward init`: a starter modelward.yaml for what is found here, valid, never clobbering."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from scanner.config import load_config
from scanner.schemas import validator
from tests.helpers import pickle_model, safe_model, write


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No cloud or MLflow settings from the machine running the tests, and a HOME without
    ~/.aws, ~/.azure, gcloud's or Docker's configuration."""
    prefixes = ("AWS_", "MLFLOW_", "AZURE_", "ARM_", "GOOGLE_", "CLOUDSDK_", "GCLOUD_", "DOCKER_")
    for key in list(os.environ):
        if key.startswith(prefixes):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return monkeypatch


def _valid(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    assert list(validator("config.schema.json").iter_errors(document)) == []
    load_config(path)  # and the loader takes it as scan would
    return document


def test_nothing_found_writes_a_valid_file_with_examples(cli, clean_env, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    r = cli("init", cwd=work)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "wrote modelward.yaml: 0 source(s) found"
    document = _valid(work / "modelward.yaml")
    assert document["sources"] == []
    text = (work / "modelward.yaml").read_text()
    assert "  # - spec: path:./models" in text and '  # - spec: "aws:"' in text


def test_what_is_found_becomes_sources_and_scan_runs_with_it(cli, clean_env, tmp_path):
    work = tmp_path / "team"
    safe_model(work / "models", "clean")
    pickle_model(work / "models", "legacy")
    write(
        work / "evidence.yaml",
        """
        version: 1
        attestations:
          - kind: threat_model
            id: tm-1
            statement: Model theft is in the threat model.
            evidence_uri: https://wiki.example.com/tm
            owner: sec@example.com
            date: 2026-01-01
        """,
    )
    r = cli("init", cwd=work)
    assert r.code == 0, r.err
    document = _valid(work / "modelward.yaml")
    assert document["sources"] == [
        {"spec": "path:./models", "name": "model-files"},
        {"spec": "attestations:./evidence.yaml", "name": "evidence"},
    ]
    assert "next: modelward scan" in r.out
    scanned = cli("scan", "-q", cwd=work)
    assert scanned.code == 1, scanned.err  # the pickle fails the gate: the config works
    assert (work / "out" / "report.html").exists()


def test_mlflow_and_aws_from_the_environment_without_credentials_in_the_file(
    cli, clean_env, tmp_path
):
    clean_env.setenv("MLFLOW_TRACKING_URI", "https://bob:s3cret@mlflow.acme.example:8443/")
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "never-written")
    r = cli("init", str(tmp_path / "ci" / "modelward.yaml"))
    assert r.code == 0, r.err
    path = tmp_path / "ci" / "modelward.yaml"
    document = _valid(path)
    assert [s["spec"] for s in document["sources"]] == [
        "mlflow:https://mlflow.acme.example:8443/",
        "aws:",
    ]
    text = path.read_text()
    assert "s3cret" not in text and "bob" not in text and "never-written" not in text
    assert "AKIA" not in text
    assert "# AWS credentials: AWS_ACCESS_KEY_ID in the environment" in text


@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({"credentials": "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"}, True),
        (
            {
                "config": "[profile ops]\nrole_arn = arn:aws:iam::111122223333:role/audit\n"
                "source_profile = base\n"
            },
            True,
        ),
        ({"config": "[profile ops]\nsso_session = corp\n"}, True),
        ({"config": "[profile ops]\nregion = eu-west-1\n"}, False),
        ({}, False),
    ],
)
def test_aws_credentials_are_found_in_the_files_boto3_reads_without_calling_aws(
    cli, clean_env, tmp_path, files, found
):
    """A profile that assumes a role or uses SSO would call STS or SSO to resolve: it is
    recognised from its settings (the test machine has no network to call them anyway)."""
    aws = tmp_path / "home" / ".aws"
    for name, text in files.items():
        write(aws / name, text)
    if "config" in files:
        clean_env.setenv("AWS_PROFILE", "ops")
    work = tmp_path / "w"
    work.mkdir()
    r = cli("init", cwd=work)
    assert r.code == 0, r.err
    specs = [s["spec"] for s in _valid(work / "modelward.yaml")["sources"]]
    assert specs == (["aws:"] if found else [])


def test_an_existing_file_is_kept_unless_forced(cli, clean_env, tmp_path):
    existing = write(tmp_path / "modelward.yaml", "version: 1  # mine\n")
    r = cli("init", cwd=tmp_path)
    assert r.code == 2
    assert r.err.strip() == (
        "modelward: error: modelward.yaml exists: keep it, or overwrite it with --force"
    )
    assert existing.read_text() == "version: 1  # mine\n"
    r = cli("init", "--force", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "# mine" not in existing.read_text()
    _valid(existing)


SUBSCRIPTION = "3f2a8c10-0000-4000-8000-00000000a2e5"


def _specs(work: Path) -> list[str]:
    return [s["spec"] for s in _valid(work / "modelward.yaml")["sources"]]


def _buildable(work: Path) -> None:
    """Every source written is one `scan` accepts (options checked, nothing contacted)."""
    from scanner.sources.registry import build_source, parse_spec

    for spec in _specs(work):
        build_source(parse_spec(spec))


def test_the_azure_cli_default_subscription_becomes_an_azure_source(cli, clean_env, tmp_path):
    profile = {
        "installationId": "x",
        "subscriptions": [
            {"id": "11111111-1111-4111-8111-111111111111", "isDefault": False, "name": "dev"},
            {"id": SUBSCRIPTION.upper(), "isDefault": True, "name": "prod",
             "user": {"name": "alice@acme.example", "type": "user"}},
        ],
    }  # fmt: skip
    # The Azure CLI writes its profile with a byte-order mark.
    azure = tmp_path / "home" / ".azure"
    azure.mkdir(parents=True)
    (azure / "azureProfile.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(profile).encode())
    work = tmp_path / "w"
    work.mkdir()
    r = cli("init", cwd=work)
    assert r.code == 0, r.err
    assert _specs(work) == [f"azure:subscription={SUBSCRIPTION}"]
    text = (work / "modelward.yaml").read_text()
    assert "# the Azure CLI's default subscription (az login)" in text
    assert "alice" not in text  # identifiers only: never who is logged in
    _buildable(work)
    # The environment names another: it wins. Something that is not a GUID is not one.
    clean_env.setenv("AZURE_SUBSCRIPTION_ID", "22222222-2222-4222-8222-222222222222")
    assert cli("init", "--force", cwd=work).code == 0
    assert _specs(work) == ["azure:subscription=22222222-2222-4222-8222-222222222222"]
    clean_env.setenv("AZURE_SUBSCRIPTION_ID", "prod; rm -rf /")
    assert cli("init", "--force", cwd=work).code == 0
    assert _specs(work) == [f"azure:subscription={SUBSCRIPTION}"]


def _gcloud(home: Path, config: str, adc: bool) -> None:
    gcloud = home / ".config" / "gcloud"
    write(gcloud / "active_config", "ml\n")
    write(gcloud / "configurations" / "config_ml", config)
    write(gcloud / "configurations" / "config_default", "[core]\nproject = other-project\n")
    if adc:
        write(gcloud / "application_default_credentials.json", '{"type": "authorized_user"}')


def test_gclouds_project_and_region_become_gcs_and_vertex_sources(cli, clean_env, tmp_path):
    _gcloud(tmp_path / "home", "[core]\nproject = acme-ml\n[ai]\nregion = europe-west4\n", True)
    work = tmp_path / "w"
    work.mkdir()
    r = cli("init", cwd=work)
    assert r.code == 0, r.err
    assert _specs(work) == ["gcs:project=acme-ml", "vertex:project=acme-ml,location=europe-west4"]
    _buildable(work)
    # No region set for Vertex AI: Cloud Storage only, Vertex as an example with the project.
    _gcloud(tmp_path / "home", "[core]\nproject = acme-ml\n", True)
    assert cli("init", "--force", cwd=work).code == 0
    assert _specs(work) == ["gcs:project=acme-ml"]
    assert (
        "# - spec: vertex:project=acme-ml,location=REGION" in (work / "modelward.yaml").read_text()
    )


def test_a_gcloud_project_without_application_credentials_is_an_example_not_a_source(
    cli, clean_env, tmp_path
):
    """The client libraries would find no credentials: a source would fail at the first call."""
    _gcloud(tmp_path / "home", "[core]\nproject = acme-ml\n", False)
    work = tmp_path / "w"
    work.mkdir()
    assert cli("init", cwd=work).code == 0
    assert _specs(work) == []
    text = (work / "modelward.yaml").read_text()
    assert "# - spec: gcs:project=acme-ml" in text
    assert "gcloud auth application-default login" in text


def test_docker_registries_are_named_in_the_image_example_without_their_secrets(
    cli, clean_env, tmp_path
):
    docker = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": "dXNlcjpodW50ZXIy"},
            "ghcr.io": {"auth": "Z2hwX3NlY3JldA=="},
        },
        "credHelpers": {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"},
    }
    write(tmp_path / "home" / ".docker" / "config.json", json.dumps(docker))
    work = tmp_path / "w"
    work.mkdir()
    assert cli("init", cwd=work).code == 0
    text = (work / "modelward.yaml").read_text()
    assert (
        "# Docker can log in to: 123456789012.dkr.ecr.eu-west-1.amazonaws.com, docker.io, ghcr.io"
        in text
    )
    assert "dXNlcjpodW50ZXIy" not in text and "Z2hwX3NlY3JldA" not in text
    _valid(work / "modelward.yaml")


@pytest.mark.parametrize(
    ("path", "content"),
    [
        (".azure/azureProfile.json", "{not json"),
        (".azure/azureProfile.json", '{"subscriptions": "all"}'),
        (".docker/config.json", "[]"),
        (".config/gcloud/active_config", "../../etc/passwd"),
        (".config/gcloud/configurations/config_default", "[core\nproject = ="),
    ],
)
def test_broken_cli_files_are_ignored_not_fatal(cli, clean_env, tmp_path, path, content):
    write(tmp_path / "home" / path, content)
    work = tmp_path / "w"
    work.mkdir()
    r = cli("init", cwd=work)
    assert r.code == 0, r.err
    assert _specs(work) == []
