"""Derived booleans carry `<name>_reasons` in words (docs/resource-model.md, "Reasons")."""

from __future__ import annotations

from scanner.inventory import Inventory, Ref, Resource
from scanner.linking import link
from scanner.sources.aws.access import GrantRecord, network_reasons


def _grant(principal: str, via: str, policy: str, restricted_by: tuple[str, ...] = ()):
    return GrantRecord(
        principal=principal,
        bucket="s3://b",
        grant=None,
        via=via,
        policy=policy,
        statement="#0",
        actions=("s3:GetObjectVersion",),
        conditions={},
        restricted_by=restricted_by,
        cross_account=False,
        wildcard_action=False,
        wildcard_resource=False,
    )


def test_network_reasons_name_principal_action_and_policy():
    grants = [
        _grant(
            "arn:aws:iam::1:role/team/data-scientist-wildcard", "identity_policy", "everything-s3"
        ),
        _grant("arn:aws:iam::1:role/serving", "identity_policy", "serve", ("vpce",)),
        _grant("arn:aws:iam::2:root", "bucket_policy", "bucket policy"),
    ]
    assert network_reasons(False, grants) == [
        "account 2 can read objects through s3:GetObjectVersion with no VPC condition "
        "(bucket policy)",
        "role data-scientist-wildcard can read objects through s3:GetObjectVersion with no VPC "
        "condition (identity policy everything-s3)",
    ]
    assert network_reasons(True, grants) == [
        "the bucket policy denies every object read from outside a VPC or VPC endpoint"
    ]


def test_linking_explains_registration_high_value_and_unsafe_imports():
    unsafe = [{"file": "evil.pkl", "global": "posix.system", "risk": "runs OS commands"}]
    inventory = Inventory(
        [
            Resource(
                "s3://b/fraud/3",
                "artefact",
                "b/fraud/3",
                "aws",
                {"serialization": {"pickle_based": True, "unsafe": unsafe, "formats": ["pickle"]}},
            ),
            Resource("s3://b/stray", "artefact", "b/stray", "aws", {}),
            Resource(
                "mlflow+x/models/fraud/versions/3",
                "model_version",
                "fraud/3",
                "mlflow",
                {"artefact": Ref("s3://b/fraud/3"), "classification": "restricted"},
            ),
        ]
    )
    linked = {r.id: r.attributes for r in link(inventory)}
    art = linked["s3://b/fraud/3"]
    assert art["serialization"]["unsafe_reasons"] == [
        "evil.pkl imports posix.system (runs OS commands) when loaded"
    ]
    assert art["registered_reasons"] == ["used by fraud/3"]
    assert linked["s3://b/stray"]["registered_reasons"] == [
        "no model registry version or endpoint in this scan points at these files"
    ]
    version = linked["mlflow+x/models/fraud/versions/3"]
    assert version["high_value"] is True
    assert version["high_value_reasons"] == ["classification is restricted"]
