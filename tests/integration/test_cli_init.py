"""`modelward init`: a starter modelward.yaml for what is found here, valid, never clobbering."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from scanner.config import load_config
from scanner.schemas import validator
from tests.helpers import pickle_model, safe_model, write


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No AWS or MLflow settings from the machine running the tests, and a HOME without ~/.aws."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "MLFLOW_")):
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
