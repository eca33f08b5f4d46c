"""The joins between sources: what one source reports completes what another says."""

from __future__ import annotations

from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.linking import link


def r(rid: str, rtype: str, source: str = "s", name: str | None = None, **attrs) -> Resource:
    return Resource(id=rid, type=rtype, name=name or rid, source=source, attributes=attrs)


def linked(*resources: Resource) -> dict[str, dict]:
    return {res.id: dict(res.attributes) for res in link(Inventory(resources))}


BUCKET = "s3://ml-models"
DIR = "s3://ml-models/fraud/3"


def estate(**version_attrs) -> list[Resource]:
    return [
        r(BUCKET, "storage", "aws", holds_models=False, account="1", region="eu-west-1"),
        r(DIR, "artefact", "aws", uri=DIR),
        r(
            "mlflow+http://reg/models/fraud/versions/3",
            "model_version",
            "mlflow",
            name="fraud/3",
            **{
                "artefact": Ref(DIR + "/model"),
                "stage": "production",
                "classification": "confidential",
                **version_attrs,
            },
        ),
    ]


def test_registry_uri_below_the_reported_artefact_links_to_it_and_its_storage():
    out = linked(*estate())
    version = out["mlflow+http://reg/models/fraud/versions/3"]
    assert version["artefact"] == Ref(DIR)
    assert out[DIR]["storage"] == Ref(BUCKET)
    assert out[DIR]["registered"] is True
    assert out[DIR]["registered_by"] == [Ref("mlflow+http://reg/models/fraud/versions/3")]
    storage = out[BUCKET]
    assert storage["holds_models"] is True  # upgraded: an artefact is known to be there
    assert storage["holds_production_models"] is True
    assert storage["holds_high_value_models"] is True
    assert version["high_value"] is True


def test_unregistered_artefact_is_false_with_a_registry_and_unknown_without():
    stray = r("s3://ml-models/tmp/copy", "artefact", "aws")
    with_registry = linked(*estate(), stray)
    assert with_registry["s3://ml-models/tmp/copy"]["registered"] is False
    without = linked(r(BUCKET, "storage", "aws"), stray)
    assert isinstance(without["s3://ml-models/tmp/copy"]["registered"], Unknown)


def test_a_source_value_is_never_overwritten():
    out = linked(*estate(high_value=False))
    assert out["mlflow+http://reg/models/fraud/versions/3"]["high_value"] is False


def test_high_value_from_ip_value_and_unknown_classification():
    out = linked(
        r("m1", "model", ip_value="High"),
        r("m2", "model", classification="internal"),
        r("m3", "model", classification=Unknown("denied: ListTags")),
        r("m4", "model"),
    )
    assert out["m1"]["high_value"] is True
    assert out["m2"]["high_value"] is False
    assert isinstance(out["m3"]["high_value"], Unknown)
    assert out["m4"]["high_value"] is False


def test_endpoint_serving_registry_files_lists_versions_and_authorisation():
    endpoint = r(
        "arn:aws:sagemaker:eu-west-1:1:endpoint/fraud",
        "endpoint",
        "aws",
        name="fraud-prod",
        account="1",
        region="eu-west-1",
        artefacts=[Ref(DIR)],
        model_versions=[],
    )
    out = linked(*estate(authorized_deployments=["fraud-prod"], retired=False), endpoint)
    served = out[endpoint.id]["served"]
    assert served == [
        {
            "version": Ref("mlflow+http://reg/models/fraud/versions/3"),
            "authorized": True,
            "stage": "production",
            "retired": False,
        }
    ]
    assert out[endpoint.id]["serves_high_value"] is True
    assert out["mlflow+http://reg/models/fraud/versions/3"]["deployments"] == [Ref(endpoint.id)]
    other = linked(*estate(authorized_deployments=["elsewhere"]), endpoint)
    assert other[endpoint.id]["served"][0]["authorized"] is False


def test_served_version_nobody_reports_is_unknown():
    endpoint = r("e", "endpoint", model_versions=[Ref("arn:pkg/9")])
    served = linked(endpoint)["e"]["served"][0]
    assert isinstance(served["authorized"], Unknown)


def test_traffic_limit_ratio_from_endpoint_limit_and_p99():
    endpoint = r("e", "endpoint", rate_limit={"daily_per_client": 5000})
    traffic = r("traffic:e", "traffic", endpoint=Ref("e"), baseline={"p99_daily": 2500})
    out = linked(endpoint, traffic)
    assert out["e"]["traffic"] == Ref("traffic:e")
    assert out["traffic:e"]["limit_ratio"] == 2.0
    no_limit = linked(r("e", "endpoint", rate_limit={"configured": False}), traffic)
    assert "per-client daily limit" in no_limit["traffic:e"]["limit_ratio"].reason


def test_hosting_networks_and_threat_detection_regions():
    out = linked(
        r(BUCKET, "storage", holds_models=True, account="1", region="eu-west-1"),
        r("vpc-a", "network"),
        r("vpc-b", "network"),
        r("e", "endpoint", vpc=Ref("vpc-a"), account="1", region="us-east-1"),
        r("gd-eu", "threat_detection", account="1", region="eu-west-1"),
        r("gd-us", "threat_detection", account="1", region="us-east-1"),
        r("gd-ap", "threat_detection", account="1", region="ap-south-1"),
    )
    assert out["vpc-a"]["hosts_models"] is True
    assert out["vpc-b"]["hosts_models"] is False
    assert out["gd-eu"]["holds_models"] is True
    assert out["gd-us"]["holds_models"] is True
    assert out["gd-ap"]["holds_models"] is False


def test_unscanned_pickles_are_unknown_and_safe_formats_are_clean():
    out = linked(
        r("a-pkl", "artefact", serialization={"formats": ["pickle"], "pickle_based": True}),
        r("a-st", "artefact", serialization={"formats": ["safetensors"], "pickle_based": False}),
        r("a-keras", "artefact", serialization={"formats": ["keras"], "pickle_based": False}),
        r("a-done", "artefact", serialization={"formats": ["pickle"], "unsafe": []}),
    )
    assert isinstance(out["a-pkl"]["serialization"]["unsafe"], Unknown)
    assert out["a-st"]["serialization"]["unsafe"] == []
    assert out["a-st"]["serialization"]["lambda_layers"] == []
    assert isinstance(out["a-keras"]["serialization"]["lambda_layers"], Unknown)
    assert out["a-done"]["serialization"]["unsafe"] == []


def test_linking_is_deterministic_and_leaves_input_untouched():
    resources = estate()
    before = [dict(x.attributes) for x in resources]
    first = [(x.id, x.attributes) for x in link(Inventory(resources))]
    second = [(x.id, x.attributes) for x in link(Inventory(resources))]
    assert first == second
    assert [dict(x.attributes) for x in resources] == before


def test_recorded_digest_is_compared_with_the_linked_artefact_files():
    import hashlib

    body = hashlib.sha256(b"weights").hexdigest()
    files = [{"path": "model.safetensors", "size": 7, "sha256": body}]
    good = linked(
        r(DIR, "artefact", files=files),
        r(
            "v",
            "model_version",
            artefact=Ref(DIR + "/model"),
            recorded_digest={"algorithm": "sha256", "value": body, "source": "tag sha256"},
        ),
    )
    assert good["v"]["digest_match"] is True
    bad = linked(
        r(DIR, "artefact", files=files),
        r(
            "v",
            "model_version",
            artefact=Ref(DIR),
            recorded_digest={"algorithm": "sha256", "value": "0" * 64, "source": "tag sha256"},
        ),
    )
    assert bad["v"]["digest_match"] is False


def test_registry_uris_meet_cloud_storage_ids():
    """An MLflow `gs://` source and a Vertex `artifactUri` (both as their sources normalise
    them) meet the artefact and bucket the gcs: source reports."""
    from scanner.sources.mlflow.settings import Target
    from scanner.sources.mlflow.uris import locate

    bucket, directory = "gs://acme-models", "gs://acme-models/fraud/v3"
    target = Target(kind="rest", uri="http://reg", public="http://reg")
    mlflow_uri = locate("gs://acme-models/fraud/v3/model/", target).uri
    out = linked(
        r(bucket, "storage", "gcs", holds_models=False, account="acme-ml", region="eu"),
        r(directory, "artefact", "gcs", uri=directory, storage=Ref(bucket)),
        r("mlflow+http://reg/models/f/versions/3", "model_version", "mlflow",
          artefact=Ref(mlflow_uri), stage="production"),
        r("//aiplatform.googleapis.com/projects/1/locations/eu/models/9@2", "model_version",
          "vertex", artefact=Ref(directory), stage="none", classification="restricted"),
    )  # fmt: skip
    assert out["mlflow+http://reg/models/f/versions/3"]["artefact"] == Ref(directory)
    assert out[directory]["registered"] is True
    assert len(out[directory]["registered_by"]) == 2
    assert out[bucket]["holds_production_models"] is True
    assert out[bucket]["holds_high_value_models"] is True


def test_an_endpoint_running_an_image_links_to_every_platform_of_its_tag() -> None:
    host = "1.dkr.ecr.eu-west-1.amazonaws.com"
    amd, arm = f"oci://{host}/serving@sha256:{'a' * 64}", f"oci://{host}/serving@sha256:{'b' * 64}"
    out = linked(
        r(
            amd,
            "artefact",
            "oci",
            references=[f"{host}/serving:3"],
            storage=Ref(f"oci://{host}/serving"),
        ),
        r(arm, "artefact", "oci", references=[f"{host}/serving:3"]),
        r(f"oci://{host}/serving", "storage", "oci", holds_models=True),
        r("oci://other/x@sha256:" + "c" * 64, "artefact", "oci", references=["other/x:1"]),
        r(
            "arn:ep",
            "endpoint",
            "aws",
            artefacts=[Ref("s3://b/m"), Ref(f"oci://{host}/serving:3")],
            images=[Ref(f"oci://{host}/serving:3")],
            model_versions=[],
        ),
    )
    assert out["arn:ep"]["artefacts"] == [Ref("s3://b/m"), Ref(amd), Ref(arm)]
    assert out[amd]["registered"] is True and out[amd]["registered_by"] == [Ref("arn:ep")]
    # no registry in this estate: whether the other image is registered cannot be told
    assert isinstance(out["oci://other/x@sha256:" + "c" * 64]["registered"], Unknown)


# No data is never "none": Unknown inputs and gaps (docs/design.md, "Fail-closed at the wire") --

VERSION = "mlflow+http://reg/models/fraud/versions/3"


def linked_with(gaps, *resources: Resource) -> dict[str, dict]:
    return {res.id: dict(res.attributes) for res in link(Inventory(resources), gaps=gaps)}


def test_missing_versions_make_what_storage_holds_unknown_never_false():
    from scanner.inventory import Gap

    gap = Gap(frozenset({"model", "model_version", "artefact"}), "source mlflow failed: 500")
    bucket = r(BUCKET, "storage", "aws", account="1", region="eu-west-1")
    out = linked_with([gap], bucket)[BUCKET]
    for key in ("holds_production_models", "holds_high_value_models"):
        assert isinstance(out[key], Unknown) and "source mlflow failed" in out[key].reason
    # A positive survives: one production version known to be there is enough.
    known = linked_with([gap], *estate())[BUCKET]
    assert known["holds_production_models"] is True


def test_a_version_whose_stage_or_files_are_unknown_leaves_storage_unknown():
    unknown_stage = linked(*estate(stage=Unknown("aliases unknown"), classification="public"))
    assert unknown_stage[BUCKET]["holds_production_models"] == Unknown("aliases unknown")
    assert unknown_stage[BUCKET]["holds_high_value_models"] is False
    blind = estate(artefact=Unknown("run unreadable"))
    other = r("s3://elsewhere", "storage", "aws")
    out = linked(*blind, other)
    for sid in (BUCKET, "s3://elsewhere"):
        assert isinstance(out[sid]["holds_production_models"], Unknown), sid
        assert "run unreadable" in out[sid]["holds_production_models"].reason


def test_a_registry_uri_whose_files_nobody_listed_still_names_its_bucket():
    bucket = r(BUCKET, "storage", "aws")
    version = r(VERSION, "model_version", "mlflow", artefact=Ref(BUCKET + "/unlisted/1"),
                stage="production")  # fmt: skip
    assert linked(bucket, version)[BUCKET]["holds_production_models"] is True


def test_registration_is_unknown_when_entries_may_be_missing_or_point_anywhere():
    from scanner.inventory import Gap

    stray = r("s3://ml-models/tmp/copy", "artefact", "aws")
    gap = Gap(frozenset({"model_version"}), "registry unreadable")
    out = linked_with([gap], *estate(), stray)["s3://ml-models/tmp/copy"]
    assert isinstance(out["registered"], Unknown) and isinstance(out["registered_by"], Unknown)
    blind = linked(*estate(artefact=Unknown("no source recorded")), stray)
    assert "no source recorded" in blind["s3://ml-models/tmp/copy"]["registered"].reason


def test_deployments_and_serving_are_unknown_when_endpoints_or_versions_may_be_missing():
    from scanner.inventory import Gap

    endpoints_gap = Gap(frozenset({"endpoint"}), "sagemaker listing failed", "1", "eu-west-1")
    out = linked_with([endpoints_gap], *estate())
    assert isinstance(out[VERSION]["deployments"], Unknown)
    endpoint = r("arn:ep", "endpoint", "aws", account="1", region="eu-west-1",
                 model_versions=[], artefacts=[Ref(DIR)])  # fmt: skip
    versions_gap = Gap(frozenset({"model_version"}), "registry unreadable")
    served = linked_with([versions_gap], endpoint)["arn:ep"]
    assert isinstance(served["serves_high_value"], Unknown)
    assert isinstance(served["model_versions"], Unknown)
    unreported = r("arn:ep2", "endpoint", "aws", model_versions=[Ref("arn:pkg/9")])
    assert isinstance(linked(unreported)["arn:ep2"]["serves_high_value"], Unknown)


def test_hosting_is_unknown_where_endpoints_may_run_unseen():
    from scanner.inventory import Gap

    vpc = r("vpc-1", "network", "aws", account="1", region="eu-west-1")
    detector = r("gd", "threat_detection", "aws", account="1", region="eu-west-1")
    elsewhere = r("vpc-2", "network", "aws", account="1", region="us-east-1")
    gap = Gap(frozenset({"endpoint"}), "sagemaker listing failed", "1", "eu-west-1")
    out = linked_with([gap], vpc, detector, elsewhere)
    assert isinstance(out["vpc-1"]["hosts_models"], Unknown)
    assert isinstance(out["gd"]["holds_models"], Unknown)
    assert out["vpc-2"]["hosts_models"] is False  # another region: the gap says nothing there
    blind = r("arn:ep", "endpoint", "aws", account="1", region="eu-west-1",
              vpc=Unknown("denied: sagemaker:DescribeModel"))  # fmt: skip
    assert linked(vpc, blind)["vpc-1"]["hosts_models"] == Unknown("denied: sagemaker:DescribeModel")
    unsure = r(BUCKET, "storage", "aws", account="1", region="eu-west-1",
               holds_models=Unknown("listing denied"))  # fmt: skip
    assert linked(detector, unsure)["gd"]["holds_models"] == Unknown("listing denied")


def test_an_unlisted_bucket_makes_reads_unknown_only_in_its_own_cloud():
    from scanner.inventory import Gap

    alice = "arn:aws:iam::1:user/alice"
    bucket = r(BUCKET, "storage", "aws", provider="aws",
               access_grants=[{"principal": Ref(alice), "actions": ["s3:GetObject"]}])  # fmt: skip
    principals = (
        r(alice, "principal", "aws", provider="aws"),
        r("azure-principal://user/bob", "principal", "azure", provider="azure"),
    )
    azure_gap = Gap(frozenset({"storage"}), "source azure failed: 500", provider="azure")
    out = linked_with([azure_gap], bucket, *principals)
    assert out[alice]["can_read"] == [Ref(BUCKET)]  # an Azure failure hides no S3 bucket
    bob = out["azure-principal://user/bob"]["can_read"]
    assert isinstance(bob, Unknown) and "source azure failed" in bob.reason
    # A gap that does not say its provider may hide anyone's bucket: every principal Unknown.
    anywhere = Gap(frozenset({"storage"}), "source custom failed")
    assert isinstance(linked_with([anywhere], bucket, *principals)[alice]["can_read"], Unknown)


def test_a_gap_keeps_its_provider_through_results():
    from scanner.inventory import Gap

    gap = Gap(frozenset({"storage"}), "listing failed", "1", "eu-west-1", "aws")
    assert gap.to_dict()["provider"] == "aws"
    assert Gap.from_dict(gap.to_dict()) == gap


def test_an_external_accounts_root_is_named_as_the_account():
    grants = [
        {"principal": Ref("arn:aws:iam::444455556666:root")},
        {"principal": Ref("arn:aws:iam::444455556666:role/etl")},
    ]
    bucket = r(BUCKET, "storage", "aws", provider="aws", access_grants=grants)
    out = {res.id: res for res in link(Inventory([bucket]))}
    assert out["arn:aws:iam::444455556666:root"].name == "account 444455556666"
    assert out["arn:aws:iam::444455556666:role/etl"].name == "role/etl"
