"""Pure parts of the `mlflow:` source: targets, ids, artefact locations, stages, tag fields,
and 1 MB hostile values through the results writer (MLflow's server refuses tags that large,
so they are built here with MLflow's own entity classes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)

from scanner import results
from scanner.config import resolve_source
from scanner.errors import UsageError
from scanner.inventory import Ref
from scanner.sources.interface import SourceSpec
from scanner.sources.mlflow import normalise, uris
from scanner.sources.mlflow.settings import Settings, parse_target


@pytest.mark.parametrize(
    ("text", "uri", "public", "kind"),
    [
        ("http://u:p@h:5000/", "http://u:p@h:5000", "http://h:5000", "rest"),
        ("https://h/mlflow", "https://h/mlflow", "https://h/mlflow", "rest"),
        ("sqlite:////srv/m.db", "sqlite:////srv/m.db", "sqlite:////srv/m.db", "sql"),
        ("postgresql://u:pw@db/m", "postgresql://u:pw@db/m", "postgresql://db/m", "sql"),
        ("/srv/mlruns", "file:///srv/mlruns", "file:///srv/mlruns", "file"),
        ("file:///srv/mlruns/", "file:///srv/mlruns", "file:///srv/mlruns", "file"),
    ],
)
def test_targets(text, uri, public, kind):
    t = parse_target(text)
    assert (t.uri, t.public, t.kind) == (uri, public, kind)


@pytest.mark.parametrize("text", ["ftp://h/x", "sqlite://", "sqlite:///:memory:", "http:///x"])
def test_bad_targets(text):
    with pytest.raises(UsageError):
        parse_target(text)


def test_relative_local_stores_follow_the_config_file(tmp_path: Path):
    def resolved(target: str) -> str:
        return resolve_source(SourceSpec("mlflow", target, "n"), tmp_path).target

    assert resolved("./mlruns") == str(tmp_path / "mlruns")
    assert resolved("sqlite:///data/m.db") == f"sqlite:///{tmp_path / 'data/m.db'}"
    assert resolved("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert resolved("http://h:5000") == "http://h:5000"


TARGET = parse_target("http://ci:secret@mlflow.internal:5000")


def test_ids_are_quoted_and_carry_no_credentials():
    assert (
        uris.model_id(TARGET, "fraud/v2 x")
        == "mlflow+http://mlflow.internal:5000/models/fraud%2Fv2%20x"
    )
    assert uris.version_id(TARGET, "fraud", "3").endswith("/models/fraud/versions/3")


@pytest.mark.parametrize(
    ("source", "uri", "provider", "listed"),
    [
        ("s3://b/fraud/3/", "s3://b/fraud/3", "s3", False),
        ("gs://b/m", "gs://b/m", "gcs", False),
        ("gs://b/fraud/v3/", "gs://b/fraud/v3", "gcs", False),
        ("gs://b/", "gs://b/", "gcs", False),
        ("wasbs://c@acct.blob.core.windows.net/m/", "azure://acct/c/m", "azure", False),
        ("abfss://fs@acct.dfs.core.windows.net/a/b?sv=x&sig=y", "azure://acct/fs/a/b", "azure",
         False),
        ("/srv/art/1/abc/artifacts/model/", "file:///srv/art/1/abc/artifacts/model", "local", True),
        ("file:///srv/a%20b/m", "file:///srv/a%20b/m", "local", True),
        ("mlflow-artifacts:/1/r/artifacts/model", "mlflow-artifacts://mlflow.internal:5000/1/r/artifacts/model",
         "mlflow-artifacts", True),
        ("https://u:pw@files.example/m?sig=abc", "https://files.example/m?sig=***", "https", False),
    ],
)  # fmt: skip
def test_artefact_locations(source, uri, provider, listed):
    loc = uris.locate(source, TARGET)
    assert (loc.uri, loc.provider, loc.list_uri is not None) == (uri, provider, listed)


def test_source_forms():
    assert uris.logged_model_of("models:/m-0123abcd") == "m-0123abcd"
    assert uris.logged_model_of("models:/fraud/3") is None
    assert uris.run_path_of("runs:/abc123/model/sub/") == ("abc123", "model/sub")


SETTINGS = Settings(target=TARGET)


@pytest.mark.parametrize(
    ("aliases", "legacy", "retired", "stage"),
    [
        (["Champion"], "None", False, "production"),
        ([], "Production", False, "production"),
        (["production"], "None", True, "production"),  # still served: production wins
        ([], "Archived", False, "archived"),
        ([], "None", True, "archived"),
        (["challenger"], "None", False, "staging"),
        ([], "Staging", False, "staging"),
        (["shadow"], "None", False, "none"),
    ],
)
def test_stage_rules(aliases, legacy, retired, stage):
    assert normalise.stage(SETTINGS, aliases, legacy, retired) == stage


def test_tag_fields_version_over_model():
    fields = normalise.TagFields(
        SETTINGS,
        {"owner": "bob", "watermark": "no"},
        {"owner": "alice", "classification": " Restricted ", "watermark": "v2", "retired": "TRUE"},
    ).attributes()
    assert fields == {
        "owner": "bob",
        "classification": "restricted",
        "retired": True,
        "watermarked": False,
    }


def test_recorded_digest_forms():
    assert normalise.recorded_digest(SETTINGS, {"sha256": "ABC"}) == {
        "algorithm": "sha256",
        "value": "abc",
        "source": "version tag sha256",
    }
    assert normalise.recorded_digest(SETTINGS, {}, {"sha256": "sha512:F0"})["algorithm"] == "sha512"
    assert normalise.recorded_digest(SETTINGS, {"sha256": " "}) is None


def test_megabyte_hostile_values_survive_the_results_writer():
    big = "<script>" + "\x1b[2J\x00\u202e" * 250_000
    tags = [RegisteredModelTag("owner", big), RegisteredModelTag("api_token", "t0ps3cret")]
    model = RegisteredModel("m", tags=tags, description=big)
    version = ModelVersion(
        "m", "1", 1_700_000_000_000, current_stage="None", source="s3://b/m/1",
        tags=[ModelVersionTag("classification", big)], status="READY",
    )  # fmt: skip
    facts = normalise.RunFacts()
    resources = [
        normalise.model_resource(SETTINGS, "mlflow", model, 1),
        normalise.version_resource(
            SETTINGS, "mlflow", version, model, [], None, facts, "s3://b/m/1", None
        ),
    ]
    assert resources[0].attributes["tags"]["api_token"] == "***"
    assert resources[1].attributes["artefact"] == Ref("s3://b/m/1")
    doc = results.build(
        scan={}, resources=resources, findings=[], frameworks=[], maturity={}, gate={}
    )
    text = results.dumps(doc)
    back = json.loads(text)
    assert back["resources"][0]["attributes"]["owner"] == big
    assert back["resources"][1]["attributes"]["classification"] == big.lower()


def test_config_file_options_reach_the_source(tmp_path: Path):
    from scanner.config import load_config
    from scanner.sources.registry import build_source
    from tests.helpers import write

    cfg = write(
        tmp_path / "ci" / "modelward.yaml",
        """
        sources:
          - spec: mlflow:./mlruns
            name: registry
            options: {tags: {owner: team}, page_size: 50, production_aliases: [live]}
        """,
    )
    (spec,) = load_config(cfg).sources
    settings = build_source(spec).settings
    assert settings.target.uri == (tmp_path / "ci" / "mlruns").as_uri()
    assert (settings.tags["owner"], settings.tags["classification"]) == ("team", "classification")
    assert (settings.page_size, settings.production_aliases) == (50, ("live",))


def test_a_signature_recorded_in_a_version_tag_is_resolved_against_its_files():
    from types import SimpleNamespace

    def version(tags):
        return SimpleNamespace(
            name="fraud",
            version="3",
            tags=tags,
            current_stage=None,
            status="READY",
            source="s3://ml/runs/7/artifacts/model",
            description=None,
            user_id=None,
            creation_timestamp=None,
            run_id=None,
        )

    def recorded(tags):
        resource = normalise.version_resource(
            SETTINGS,
            "mlflow",
            version(tags),
            None,
            [],
            None,
            normalise.RunFacts(None, None),
            "s3://ml/runs/7/artifacts/model",
            None,
        )
        return resource.attributes.get("recorded_signature")

    assert recorded({"signature": "model.sig"}) == {
        "uri": "s3://ml/runs/7/artifacts/model/model.sig",
        "source": "version tag signature",
    }
    assert recorded({"signature": "../model.sig"})["uri"] == "s3://ml/runs/7/artifacts/model.sig"
    assert recorded({"signature": "s3://sigs/fraud-3.sig"})["uri"] == "s3://sigs/fraud-3.sig"
    assert recorded({"signature": "../../../../../etc"}) is None  # escapes the bucket
    assert recorded({}) is None
