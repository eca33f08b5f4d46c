"""Registry URIs become the ids the object-store sources report, so linking can meet them."""

from __future__ import annotations

import pytest

from scanner.inventory import Inventory, Ref, Resource
from scanner.linking import link
from scanner.sources.store_uris import canonical


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("wasbs://models@acct1.blob.core.windows.net/fraud/v3", "azure://acct1/models/fraud/v3"),
        ("wasb://models@acct1.blob.core.windows.net/fraud/v3/", "azure://acct1/models/fraud/v3"),
        ("abfss://lake@acct1.dfs.core.windows.net/ml/m", "azure://acct1/lake/ml/m"),
        ("abfs://lake@acct1.dfs.core.windows.net/ml/m", "azure://acct1/lake/ml/m"),
        # sovereign clouds, percent-escapes, a SAS token that must not reach the id
        ("wasbs://c@gov1.blob.core.usgovcloudapi.net/a%20b/m", "azure://gov1/c/a b/m"),
        ("https://acct1.blob.core.windows.net/models/fraud/v3?sv=2024&sig=SECRET",
         "azure://acct1/models/fraud/v3"),
        ("https://acct1.dfs.core.windows.net/lake/m", "azure://acct1/lake/m"),
        # a model at the container's root is not the container itself
        ("wasbs://models@acct1.blob.core.windows.net/", "azure://acct1/models/"),
    ],
)  # fmt: skip
def test_azure_forms_become_the_azure_sources_ids(uri, expected):
    assert canonical(uri) == (expected, "azure")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/p",
        "https://files.example.com/acct1/models/m",  # not an Azure storage host
        "https://acct1.blob.core.windows.net/",  # no container
        "wasbs://acct1.blob.core.windows.net/p",  # no container@
        "wasbs://c@evil.example.com/p",
        "/local/path",
    ],
)
def test_other_uris_are_not_claimed(uri):
    assert canonical(uri) is None


def test_an_mlflow_version_stored_in_azure_links_to_the_azure_container():
    """The registry names the files in the wasbs spelling; the Azure source reports the
    container and the artefact: the production model's storage is the container."""
    from scanner.sources.mlflow import uris
    from scanner.sources.mlflow.settings import parse_target

    target = parse_target("http://mlflow.internal:5000")
    location = uris.locate("wasbs://models@acct1.blob.core.windows.net/fraud/v3/", target)
    inventory = Inventory(
        [
            Resource(
                "mlflow+http://mlflow.internal:5000/models/fraud/versions/3",
                "model_version",
                "fraud/3",
                "mlflow",
                {"stage": "production", "artefact": Ref(location.uri)},
            ),
            Resource("azure://acct1/models", "storage", "acct1/models", "azure", {}),
            Resource(
                "azure://acct1/models/fraud/v3",
                "artefact",
                "v3",
                "azure",
                {"storage": Ref("azure://acct1/models")},
            ),
        ]
    )
    linked = link(inventory)
    storage = linked.get("azure://acct1/models")
    assert storage is not None
    assert storage.attributes["holds_production_models"] is True
    assert storage.attributes["holds_models"] is True
    artefact = linked.get("azure://acct1/models/fraud/v3")
    assert artefact is not None and artefact.attributes["registered"] is True
