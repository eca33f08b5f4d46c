"""The gcs: source against fake-gcs-server (buckets, objects, versioning, reads: emulated) and
the GCP shape server (bucket IAM, the settings the emulator drops, Resource Manager, Access
Context Manager, IAM roles: shape tests, answered as Google documents them).

Each misconfiguration is checked beside its well-kept twin (scanner/demo/gcp_estate.py)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from scanner.demo.gcp_estate import (
    BLOCKED,
    KMS_KEY,
    NUMBER,
    ORG,
    PERIMETER_POLICY,
    PRIVATE,
    PROJECT,
    PUBLIC,
    audit_reads,
    perimeter,
)
from scanner.inventory import Ref, Resource, Unknown
from scanner.sources.interface import Collection, SourceError
from scanner.sources.registry import build_source, parse_spec

pytestmark = pytest.mark.slow

SPEC = f"gcs:project={PROJECT},org_domains=acme.example"


def scan(spec: str = SPEC, **options: Any) -> Collection:
    source = build_source(parse_spec(spec, options=options))
    return source.collect(lambda _line: None)


def by_id(collection: Collection) -> dict[str, Resource]:
    return {r.id: r for r in collection.resources}


def storage(collection: Collection, bucket: str) -> dict[str, Any]:
    return dict(by_id(collection)[f"gs://{bucket}"].attributes)


# -- public access ------------------------------------------------------------------------------


def test_public_bucket_beside_its_private_and_blocked_twins(gcp) -> None:
    found = scan()
    public, private, blocked = (storage(found, b) for b in (PUBLIC, PRIVATE, BLOCKED))
    assert public["public"] is True
    assert (
        "allUsers holds roles/storage.objectViewer on buckets/acme-models-public"
        in (public["public_reasons"])
    )
    assert "allUsers can read through the default object ACL" in public["public_reasons"]
    assert Ref("allUsers") in public["readers"]
    assert private["public"] is False
    assert Ref("allUsers") not in private["readers"]
    # allUsers is in the policy, but public access prevention stops every public request.
    assert blocked["public"] is False
    assert any("public access prevention is enforced" in r for r in blocked["public_reasons"])
    assert Ref("allUsers") not in blocked["readers"]  # prevention refuses its every request
    anyone = by_id(found)["allUsers"].attributes
    assert anyone["kind"] == "anonymous"
    assert found.problems == ()


def test_public_access_prevention_inherited_from_an_enforcing_organisation(gcp) -> None:
    gcp.shapes.state.org_policies[(PROJECT, "constraints/storage.publicAccessPrevention")] = {
        "constraint": "constraints/storage.publicAccessPrevention",
        "booleanPolicy": {"enforced": True},
    }
    public = storage(scan(), PUBLIC)
    assert public["public_access_prevention"] == "inherited"
    assert public["public"] is False
    assert any("organisation policy" in r for r in public["public_reasons"])


def test_uniform_access_off_reads_acls_and_on_ignores_them(gcp) -> None:
    found = scan()
    public, private = storage(found, PUBLIC), storage(found, PRIVATE)
    assert public["uniform_access"] is False
    assert private["uniform_access"] is True
    # The default object ACL's project-owners entity reads the public bucket's objects.
    assert Ref(f"projectOwner:{NUMBER}") in public["readers"]
    assert Ref(f"projectOwner:{NUMBER}") not in private["readers"]
    via = {g["via"] for g in public["access_grants"]}
    assert {"acl", "bucket_iam", "project_iam"} <= via


def test_unreadable_acls_leave_a_fine_grained_bucket_unknown(gcp) -> None:
    gcp.shapes.state.deny.add(f"GET /storage/v1/b/{PUBLIC}/defaultObjectAcl")
    gcp.shapes.state.bucket_iam[PUBLIC]["bindings"].pop()  # no allUsers binding left
    found = scan()
    public = storage(found, PUBLIC)
    assert isinstance(public["public"], Unknown)
    assert "storage.buckets.getIamPolicy" in public["public"].reason
    assert any("denied: storage.buckets.getIamPolicy" in p for p in found.problems)


# -- encryption, versioning, retention, soft delete, logging -------------------------------------


def test_cmek_beside_google_managed_keys(gcp) -> None:
    found = scan()
    assert storage(found, PRIVATE)["encryption"] == {
        "at_rest": True,
        "algorithm": "cmek",
        "kms_key": KMS_KEY,
        "customer_managed_key": True,
    }
    public = storage(found, PUBLIC)["encryption"]
    assert public["customer_managed_key"] is False
    assert public["algorithm"] == "google-managed"


def test_versioning_retention_lock_and_soft_delete_beside_none(gcp) -> None:
    found = scan()
    private, public = storage(found, PRIVATE), storage(found, PUBLIC)
    assert private["versioning"] is True  # set in the emulator itself
    assert private["object_lock"] is True
    assert private["retention"] == {
        "period_seconds": 2592000,
        "locked": True,
        "object_retention": False,
    }
    assert private["soft_delete"] == {"enabled": True, "retention_seconds": 604800}
    assert private["access_logging"]["server_access"] is True
    assert public["versioning"] is False
    assert public["object_lock"] is False
    assert public["soft_delete"]["enabled"] is False
    assert public["access_logging"]["server_access"] is False


def test_a_bucket_cannot_be_tls_only_and_says_why(gcp) -> None:
    public = storage(scan(), PUBLIC)
    assert public["tls_only"] is False
    assert "plain HTTP" in public["tls_only_reason"]


# -- audit logs and perimeters -------------------------------------------------------------------


def test_data_read_audit_logs_off_then_on_at_the_project_or_organisation(gcp) -> None:
    off = scan()
    assert storage(off, PRIVATE)["access_logging"]["read_events"] is False
    trail = by_id(off)[f"gcp-audit-logs://{PROJECT}/storage.googleapis.com"].attributes
    assert trail["enabled"] is False
    audit_reads(gcp.shapes, True)
    on = scan()
    assert storage(on, PRIVATE)["access_logging"]["read_events"] is True
    trail = by_id(on)[f"gcp-audit-logs://{PROJECT}/storage.googleapis.com"].attributes
    assert trail["enabled"] is True
    assert Ref(f"gs://{PRIVATE}") in trail["read_events_on"]
    audit_reads(gcp.shapes, False)
    audit_reads(gcp.shapes, True, where=f"organizations/{ORG}")
    inherited = scan()
    assert storage(inherited, PUBLIC)["access_logging"]["read_events"] is True


def test_an_unreadable_organisation_policy_leaves_read_logging_unknown(gcp) -> None:
    gcp.shapes.state.deny.add(rf"POST /v1/organizations/{ORG}:getIamPolicy")
    found = scan()
    read_events = storage(found, PUBLIC)["access_logging"]["read_events"]
    assert isinstance(read_events, Unknown)
    assert "resourcemanager.organizations.getIamPolicy" in read_events.reason
    # Its bindings reach every bucket, so readers cannot be counted either.
    assert isinstance(storage(found, PUBLIC)["readers"], Unknown)
    assert any("denied: resourcemanager.organizations.getIamPolicy" in p for p in found.problems)


def test_perimeter_in_and_out(gcp) -> None:
    out = storage(scan(), PRIVATE)
    assert out["network_restricted"] is False
    assert f"projects/{NUMBER} is in no enforced" in out["network_restriction"][0]
    perimeter(gcp.shapes, True)
    inside = storage(scan(), PRIVATE)
    assert inside["network_restricted"] is True
    assert "perimeter models restricts storage.googleapis.com" in inside["network_restriction"][0]


def test_a_perimeter_with_an_ingress_rule_open_to_any_source_does_not_restrict(gcp) -> None:
    perimeter(gcp.shapes, True)
    models = gcp.shapes.state.perimeters[PERIMETER_POLICY][1]
    models["status"]["ingressPolicies"] = [
        {
            "ingressFrom": {"sources": [{"accessLevel": "*"}], "identityType": "ANY_IDENTITY"},
            "ingressTo": {"operations": [{"serviceName": "storage.googleapis.com"}]},
        }
    ]
    found = storage(scan(), PRIVATE)
    assert found["network_restricted"] is False
    assert "admits any source" in found["network_restriction"][0]


def test_unreadable_perimeters_are_unknown_naming_the_permission(gcp) -> None:
    gcp.shapes.state.deny.add("GET /v1/accessPolicies$")
    found = scan()
    restricted = storage(found, PRIVATE)["network_restricted"]
    assert isinstance(restricted, Unknown)
    assert "accesscontextmanager.policies.list" in restricted.reason


# -- readers, principals, roles -------------------------------------------------------------------


def test_readers_come_from_every_level_and_custom_roles_are_read(gcp) -> None:
    found = scan()
    private = storage(found, PRIVATE)
    readers = {r.id for r in private["readers"]}
    assert readers == {
        "user:oncall@acme.example",  # bucket, time-bound
        f"serviceAccount:trainer@{PROJECT}.iam.gserviceaccount.com",  # project, predefined
        "group:ml-readers@acme.example",  # project, custom role read with roles.get
    }
    assert ("GET", f"/v1/projects/{PROJECT}/roles/modelReader") in {
        (m, p) for m, p, _auth in gcp.shapes.requests
    }
    principals = by_id(found)
    oncall = principals["user:oncall@acme.example"].attributes
    assert oncall["kind"] == "human"
    assert oncall["just_in_time"] is True
    group = principals["group:ml-readers@acme.example"].attributes
    assert group["just_in_time"] is False
    assert group["cross_account"] is False


def test_people_are_external_only_when_the_organisations_domains_say_so(gcp) -> None:
    without = by_id(scan(f"gcs:project={PROJECT}"))
    unknown = without["group:ml-readers@acme.example"].attributes["cross_account"]
    assert isinstance(unknown, Unknown)
    assert "org_domains" in unknown.reason
    gcp.shapes.state.iam[f"projects/{PROJECT}"]["bindings"].append(
        {"role": "roles/storage.objectViewer", "members": ["user:partner@elsewhere.example"]}
    )
    found = by_id(scan())
    assert found["user:partner@elsewhere.example"].attributes["cross_account"] is True


def test_an_unreadable_custom_role_leaves_readers_unknown(gcp) -> None:
    gcp.shapes.state.deny.add("GET /v1/projects/acme-ml/roles/")
    found = scan()
    readers = storage(found, PRIVATE)["readers"]
    assert isinstance(readers, Unknown)
    assert "iam.roles.get" in readers.reason


# -- artefacts ------------------------------------------------------------------------------------


def test_model_directories_become_artefacts_with_stored_digests(gcp) -> None:
    found = by_id(scan())
    fraud = found[f"gs://{PUBLIC}/fraud/v3"].attributes
    assert fraud["storage"] == Ref(f"gs://{PUBLIC}")
    assert fraud["location"]["provider"] == "gcs"
    files = {f["path"]: f for f in fraud["files"]}
    weights = files["model.safetensors"]
    assert weights["format"] == "safetensors"
    assert len(weights["md5"]) == 32 and len(weights["crc32c"]) == 8
    assert "sha256" not in weights  # Cloud Storage keeps no SHA-256
    assert fraud["owner"] == "fraud-team"  # the object's metadata
    assert fraud["classification"] == "confidential"  # the bucket's labels
    churn = found[f"gs://{PUBLIC}/churn"].attributes
    assert churn["serialization"]["pickle_based"] is True
    assert churn["serialization"]["unsafe"] == []  # read whole and scanned
    assert f"gs://{PUBLIC}/docs" not in found
    assert storage(scan(), PUBLIC)["holds_models"] is True


def test_a_capped_listing_is_truncated_and_says_so(gcp) -> None:
    public = storage(scan(max_objects_per_bucket=2), PUBLIC)
    assert public["listing_truncated"] is True
    assert public["object_count"] == 2


# -- paging, throttling, denial, malformed answers ------------------------------------------------


def test_every_listing_is_followed_to_its_last_page(gcp) -> None:
    gcp.shapes.state.page_max = 1
    found = scan()
    assert {f"gs://{b}" for b in (PUBLIC, PRIVATE, BLOCKED)} <= set(by_id(found))
    bucket_pages = [p for m, p, _ in gcp.shapes.requests if p == "/storage/v1/b"]
    assert len(bucket_pages) == 3


def test_throttling_is_retried(gcp) -> None:
    gcp.shapes.state.throttle = {
        rf"POST /v1/projects/{PROJECT}:getIamPolicy": 2,
        r"GET /storage/v1/b$": 1,
    }
    found = scan()
    assert found.problems == ()
    assert storage(found, PUBLIC)["public"] is True
    calls = [p for m, p, _ in gcp.shapes.requests if p.endswith(f"{PROJECT}:getIamPolicy")]
    assert len(calls) == 3


def test_throttling_past_the_retries_is_unknown(gcp) -> None:
    gcp.shapes.state.throttle = {rf"POST /v1/projects/{PROJECT}:getIamPolicy": 10}
    found = scan(max_attempts=2)
    read_events = storage(found, PUBLIC)["access_logging"]["read_events"]
    assert isinstance(read_events, Unknown)
    assert "throttled past retries: resourcemanager.projects.getIamPolicy" in read_events.reason


def test_a_denied_bucket_policy_is_unknown_and_one_problem_line(gcp) -> None:
    gcp.shapes.state.deny.add(f"GET /storage/v1/b/{PUBLIC}/iam")
    acl = gcp.shapes.state.default_object_acl[PUBLIC]
    acl[:] = [e for e in acl if e["entity"] != "allUsers"]  # the policy alone could say public
    found = scan()
    public = storage(found, PUBLIC)
    assert isinstance(public["public"], Unknown)
    assert "storage.buckets.getIamPolicy" in public["public"].reason
    # The blocked bucket is still judged: its policy was readable.
    assert storage(found, BLOCKED)["public"] is False
    assert f"gcs:{PROJECT}: denied: storage.buckets.getIamPolicy (1 call)" in found.problems


def test_a_malformed_policy_is_never_read_as_empty(gcp) -> None:
    gcp.shapes.state.malformed.add(rf"POST /v1/projects/{PROJECT}:getIamPolicy")
    found = scan()
    assert isinstance(storage(found, PRIVATE)["readers"], Unknown)
    assert isinstance(storage(found, PRIVATE)["access_logging"]["read_events"], Unknown)
    assert any("malformed answer" in p for p in found.problems)


def test_a_denied_bucket_listing_fails_the_source(gcp) -> None:
    gcp.shapes.state.deny.add(r"GET /storage/v1/b$")
    with pytest.raises(SourceError, match=r"storage\.buckets\.list"):
        scan()


def test_unreachable_storage_fails_the_source(gcp, monkeypatch) -> None:
    from scanner.demo.servers import free_port

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SourceError, match="cannot reach"):
        scan()


def test_no_credentials_fails_the_source(gcp, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    with pytest.raises(SourceError, match="credentials"):
        scan()


def test_named_buckets_only_and_a_missing_one_is_a_problem(gcp) -> None:
    found = scan(f"gcs:project={PROJECT},buckets={PRIVATE}+acme-no-such-bucket")
    assert {r.id for r in found.resources if r.type == "storage"} == {f"gs://{PRIVATE}"}
    assert any("acme-no-such-bucket: no such bucket" in p for p in found.problems)


# -- read-only -------------------------------------------------------------------------------------


def test_a_scan_changes_nothing(gcp) -> None:
    before = gcp.emulator.state()
    audit_reads(gcp.shapes, True)
    perimeter(gcp.shapes, True)
    scan()
    assert gcp.emulator.state() == before
    methods = {(m, p.rsplit(":", 1)[-1] if m == "POST" else "") for m, p, _ in gcp.shapes.requests}
    assert {m for m, _ in methods} <= {"GET", "POST"}
    assert {p for m, p in methods if m == "POST"} <= {
        "getIamPolicy",
        "getAncestry",
        "getEffectiveOrgPolicy",
        "/token",
    }
    # Every REST call carried the access token the real credentials obtained.
    rest_calls = [a for m, p, a in gcp.shapes.requests if p.startswith(("/v1/", "/v2/"))]
    assert rest_calls and all(a == "Bearer shape-access-token" for a in rest_calls)
    assert os.environ["STORAGE_EMULATOR_HOST"] == gcp.shapes.url


def test_a_signed_model_in_cloud_storage_is_verified_in_place(gcp, tmp_path) -> None:
    # The object-store builder verifies signatures for every provider: Cloud Storage keeps
    # no SHA-256, so the signed files are read (once) within integrity_max_bytes.
    from scanner.artefacts.signatures.trust import KeyTrust, TrustPolicy, TrustSet
    from scanner.demo.gcp_estate import put, storage_client
    from tests.signing import key_pair, sign_with_key

    keys = key_pair(tmp_path / "keys")
    model = tmp_path / "signed"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    (model / "config.json").write_text('{"arch": "mlp"}')
    sign_with_key(model, keys)
    client = storage_client(gcp.emulator)
    for f in sorted(model.iterdir()):
        put(client, PRIVATE, f"signed/v1/{f.name}", f.read_bytes())
    put(client, PRIVATE, "tampered/v1/config.json", b'{"arch": "other"}')
    for f in ("model.safetensors", "model.sig"):
        put(client, PRIVATE, f"tampered/v1/{f}", (model / f).read_bytes())
    trust = TrustPolicy(TrustSet(keys=(KeyTrust(keys.public),)))
    found = by_id(scan(trust=trust))
    signed = found[f"gs://{PRIVATE}/signed/v1"].attributes["signature"]
    assert signed["verified"] is True, signed
    assert signed["digests_from"] == "read"
    tampered = found[f"gs://{PRIVATE}/tampered/v1"].attributes["signature"]
    assert tampered["verified"] is False
    assert tampered["error"] == "files do not match the signature: changed: config.json"
