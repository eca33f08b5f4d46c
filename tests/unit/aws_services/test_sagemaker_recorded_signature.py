"""Where a SageMaker model package records its signature: `CustomerMetadataProperties`, else
the package's model card (`additional_information.custom_details`). Descriptions are shaped as
DescribeModelPackage documents them; moto does not keep a model card on a package, so the
card path is proven here and the metadata path end to end in test_aws_s3_signatures.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scanner.inventory import Resource
from scanner.sources.aws.sagemaker_registry import _described

BUCKET = "ml-signed"
MODEL = Resource(
    "arn:aws:sagemaker:us-east-1:1:model-package-group/credit", "model", "credit", "aws:", {}
)
CARD_SOURCE = "ModelCard additional_information.custom_details.signature"


def _package(**extra: Any) -> dict[str, Any]:
    return {
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1",
                    "ModelDataUrl": f"s3://{BUCKET}/sm/credit/v1/model.safetensors",
                }
            ]
        },
        **extra,
    }


def _card(details: Any) -> dict[str, Any]:
    content = {"model_overview": {"model_creator": "fraud-team"}}
    content["additional_information"] = {"custom_details": details}
    return {"ModelCardContent": json.dumps(content), "ModelCardStatus": "Approved"}


def test_a_signature_recorded_in_the_model_card_is_read():
    got = _described(_package(ModelCard=_card({"signature": "../model.sig"})), MODEL)
    assert got["recorded_signature"] == {
        "uri": f"s3://{BUCKET}/sm/credit/model.sig",
        "source": CARD_SOURCE,
    }


def test_customer_metadata_wins_over_the_model_card():
    package = _package(
        CustomerMetadataProperties={"signature": f"s3://{BUCKET}/signatures/credit-v1.sig"},
        ModelCard=_card({"signature": "../model.sig"}),
    )
    assert _described(package, MODEL)["recorded_signature"] == {
        "uri": f"s3://{BUCKET}/signatures/credit-v1.sig",
        "source": "CustomerMetadataProperties.signature",
    }


@pytest.mark.parametrize(
    "card",
    [
        {"ModelCardContent": "{not json", "ModelCardStatus": "Draft"},
        {"ModelCardContent": json.dumps(["a", "list"])},
        {"ModelCardContent": json.dumps({"additional_information": "text"})},
        _card(["signature", "model.sig"]),
        _card({"signature": 7}),
        _card({"signature": "../../../../elsewhere/model.sig"}),  # leaves the bucket
        {"ModelCardStatus": "Approved"},
        "not a card",
    ],
)
def test_a_card_without_a_usable_signature_records_none(card):
    assert "recorded_signature" not in _described(_package(ModelCard=card), MODEL)
