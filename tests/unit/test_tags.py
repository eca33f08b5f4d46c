"""The governance vocabulary every source reads from tags, metadata and labels."""

from __future__ import annotations

import pytest

from scanner.inventory import Resource
from scanner.sources.aws.sagemaker_registry import _described
from scanner.sources.mlflow.normalise import TagFields
from scanner.sources.mlflow.settings import Settings, parse_target
from scanner.sources.tags import (
    AZURE_METADATA,
    GCP_LABELS,
    TAGS,
    governance_facts,
    is_true,
    is_watermarked,
    layered,
    split_list,
)

EVERYTHING = {
    "owner": " Fraud Team ",
    "classification": "Restricted",
    "ip_value": "HIGH",
    "output_mode": "Top_K",
    "authorized_deployments": "fraud-prod, ,fraud-shadow",
    "retired": "Yes",
    "watermark": "radioactive-v2",
}
FACTS = {
    "owner": "Fraud Team",
    "classification": "restricted",
    "ip_value": "high",
    "output_mode": "top_k",
    "authorized_deployments": ["fraud-prod", "fraud-shadow"],
    "retired": True,
    "watermarked": True,
}


@pytest.mark.parametrize("word", ["true", "TRUE", " yes ", "Y", "on", "1"])
def test_true_words(word):
    assert is_true(word)


@pytest.mark.parametrize("word", [None, "", "false", "no", "0", "off", "retired", "true-ish"])
def test_everything_else_is_not_true(word):
    assert not is_true(word)


@pytest.mark.parametrize("word", ["", "  ", "false", "No", "NONE", "off", "0"])
def test_watermark_no_words(word):
    assert not is_watermarked(word)


@pytest.mark.parametrize("word", ["true", "radioactive-v2", "yes", "dataset-mark"])
def test_any_other_watermark_value_names_a_mark(word):
    assert is_watermarked(word)


def test_every_key_of_the_vocabulary():
    assert governance_facts({**EVERYTHING, "unrelated": "x"}) == FACTS


def test_keys_not_set_give_no_attribute_and_blank_text_counts_as_not_set():
    assert governance_facts({}) == {}
    assert governance_facts({"owner": "  ", "classification": ""}) == {}
    # A present list or flag is read even when empty: it says "none" and "not retired".
    assert governance_facts({"authorized_deployments": "", "retired": ""}) == {
        "authorized_deployments": [],
        "retired": False,
    }


def test_values_that_are_not_text_are_not_read():
    assert governance_facts({"owner": 7, "retired": True, "watermark": None}) == {}


def test_keys_can_be_renamed():
    keys = {field: f"gov.{field}" for field in EVERYTHING}
    assert governance_facts({f"gov.{k}": v for k, v in EVERYTHING.items()}, keys=keys) == FACTS
    assert governance_facts(EVERYTHING, keys=keys) == {}


def test_the_first_layer_that_sets_a_key_wins_even_when_blank():
    merged = layered({"owner": "", "retired": "no"}, {"owner": "alice", "retired": "yes"})
    assert merged == {"owner": "", "retired": "no"}
    assert governance_facts(merged) == {"retired": False}


def test_tags_match_keys_exactly_and_split_lists_on_commas():
    assert governance_facts({"Owner": "alice", "RETIRED": "true"}, dialect=TAGS) == {}
    assert split_list("a,b , c", TAGS) == ["a", "b", "c"]
    assert split_list("a__b", TAGS) == ["a__b"]


def test_azure_metadata_names_are_case_insensitive():
    written = {"Owner": "alice", "IP_Value": "High", "Authorized_Deployments": "ep-a,ep-b"}
    assert governance_facts(written, dialect=AZURE_METADATA) == {
        "owner": "alice",
        "ip_value": "high",
        "authorized_deployments": ["ep-a", "ep-b"],
    }


def test_gcp_labels_separate_lists_with_a_double_underscore():
    labels = {
        "owner": "fraud-team",
        "classification": "restricted",
        "authorized_deployments": "fraud-prod__1234567890123456789__shadow_ep",
        "retired": "false",
        "watermark": "none",
    }
    assert governance_facts(labels, dialect=GCP_LABELS) == {
        "owner": "fraud-team",
        "classification": "restricted",
        "authorized_deployments": ["fraud-prod", "1234567890123456789", "shadow_ep"],
        "retired": False,
        "watermarked": False,
    }


def test_mlflow_and_sagemaker_read_the_same_tags_the_same_way():
    settings = Settings(parse_target("file:///tmp/mlruns"))
    mlflow = TagFields(settings, EVERYTHING).attributes()
    model = Resource("arn:aws:sagemaker:r:1:model-package-group/g", "model", "g", "aws:", {})
    sagemaker = _described({"CustomerMetadataProperties": EVERYTHING}, model)
    for field, value in FACTS.items():
        assert mlflow[field] == value
        assert sagemaker[field] == value
