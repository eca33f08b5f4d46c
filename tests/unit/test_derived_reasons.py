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


def _estate(*extra: Resource, source_says: dict | None = None) -> dict[str, dict]:
    version = "mlflow+x/models/fraud/versions/3"
    resources = [
        Resource("s3://b", "storage", "b", "aws", dict(source_says or {})),
        Resource("s3://c", "storage", "c", "aws", {}),
        Resource("s3://b/fraud/3", "artefact", "b/fraud/3", "aws", {"storage": Ref("s3://b")}),
        Resource(
            version,
            "model_version",
            "fraud/3",
            "mlflow",
            {
                "artefact": Ref("s3://b/fraud/3"),
                "classification": "restricted",
                "stage": "production",
            },
        ),
        Resource("vpc-a", "network", "vpc-a", "aws", {}),
        Resource("vpc-b", "network", "vpc-b", "aws", {}),
        Resource(
            "ep-1",
            "endpoint",
            "fraud-prod",
            "aws",
            {"artefacts": [Ref("s3://b/fraud/3")], "vpc": Ref("vpc-a")},
        ),
        Resource("ep-2", "endpoint", "idle", "aws", {}),
        *extra,
    ]
    return {r.id: dict(r.attributes) for r in link(Inventory(resources))}


def test_linking_explains_serving_and_holding_high_value_and_production_models():
    out = _estate()
    assert out["ep-1"]["serves_high_value"] is True
    assert out["ep-1"]["serves_high_value_reasons"] == [
        "serves fraud/3, which is high-value (classification is restricted)"
    ]
    assert out["ep-2"]["serves_high_value"] is False
    assert out["ep-2"]["serves_high_value_reasons"] == [
        "serves no model version that a registry in this scan reports"
    ]
    assert out["s3://b"]["holds_production_models_reasons"] == [
        "holds fraud/3 (files at b/fraud/3), which is in production"
    ]
    assert out["s3://b"]["holds_high_value_models_reasons"] == [
        "holds fraud/3 (files at b/fraud/3), which is high-value"
    ]
    assert out["s3://c"]["holds_production_models"] is False
    assert out["s3://c"]["holds_production_models_reasons"] == [
        "no model version in production in this scan keeps its files here"
    ]
    assert out["s3://c"]["holds_high_value_models_reasons"] == [
        "no high-value model version in this scan keeps its files here"
    ]
    assert out["vpc-a"]["hosts_models_reasons"] == ["endpoint fraud-prod runs in it"]
    assert out["vpc-b"]["hosts_models_reasons"] == ["no model endpoint in this scan runs in it"]


def test_linked_reasons_never_sit_next_to_a_value_a_source_reported():
    out = _estate(source_says={"holds_production_models": False})
    assert out["s3://b"]["holds_production_models"] is False
    assert "holds_production_models_reasons" not in out["s3://b"]
    assert out["s3://b"]["holds_high_value_models"] is True  # linked, so explained
    assert out["s3://b"]["holds_high_value_models_reasons"]
