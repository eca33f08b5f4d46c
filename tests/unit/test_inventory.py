"""Inventory: path resolution through attributes, references and lists; merging; JSON markers.

Policies see the estate only through `Inventory.resolve`, so every rule it documents is
pinned here: a wrong step would make a policy read the wrong value without any error.
"""

from __future__ import annotations

import datetime as dt

import pytest

from scanner.inventory import (
    MISSING,
    Inventory,
    InventoryError,
    Ref,
    Resource,
    Unknown,
    from_jsonable,
    to_jsonable,
)


def res(rid: str, rtype: str, source: str = "src", name: str | None = None, raw=None, **attrs):
    return Resource(id=rid, type=rtype, name=name or rid, source=source, attributes=attrs, raw=raw)


@pytest.fixture
def estate() -> Inventory:
    return Inventory(
        [
            res(
                "mlflow+http://h/models/fraud/versions/3",
                "model_version",
                name="fraud/3",
                source="mlflow",
                artefact=Ref("s3://models/fraud/3"),
                provenance={"code": {"repo": "git@x:fraud", "commit": "abc123"}, "datasets": []},
                stage="production",
                ghost=Ref("s3://nobody-reports-this"),
            ),
            res(
                "s3://models/fraud/3",
                "artefact",
                source="aws",
                storage=Ref("arn:aws:s3:::models"),
                files=[
                    {"path": "model.safetensors", "size": 10},
                    {"path": "tokenizer.json", "size": 2},
                ],
            ),
            res(
                "arn:aws:s3:::models",
                "storage",
                name="models",
                source="aws",
                public=False,
                encryption={
                    "at_rest": True,
                    "customer_managed_key": Unknown("kms:DescribeKey denied"),
                },
                readers=[Ref("arn:aws:iam::1:role/ml"), Ref("arn:aws:iam::1:user/alice")],
                groups=[[{"kind": "a"}, {"kind": "b"}], [{"kind": "c"}]],
                logging=Unknown("s3:GetBucketLogging denied"),
            ),
            res("arn:aws:iam::1:role/ml", "principal", kind="service"),
            res("arn:aws:iam::1:user/alice", "principal", kind="human"),
        ]
    )


MV = "mlflow+http://h/models/fraud/versions/3"
BUCKET = "arn:aws:s3:::models"


# --- resolve ---------------------------------------------------------------------------------


def test_resolve_nested_keys(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "provenance.code.commit") == "abc123"
    assert estate.resolve(mv, "provenance.datasets") == []
    assert estate.resolve(mv, "stage") == "production"


def test_resolve_empty_path_returns_the_view(estate: Inventory) -> None:
    mv = estate.get(MV)
    view = estate.resolve(mv, "")
    assert view["stage"] == "production" and view["id"] == MV
    assert estate.resolve({"a": 1}, ".") == {"a": 1}
    assert estate.resolve({"a": 1}, None) == {"a": 1}


def test_resolve_follows_two_refs(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "artefact.storage.public") is False
    assert estate.resolve(mv, "artefact.storage.encryption.at_rest") is True
    assert estate.resolve(mv, "artefact.storage.name") == "models"


def test_ref_at_the_end_of_the_path_is_returned_as_is(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "artefact") == Ref("s3://models/fraud/3")
    assert estate.resolve(mv, "artefact.storage") == Ref(BUCKET)


def test_ref_to_unreported_resource_is_unknown_naming_the_id(estate: Inventory) -> None:
    mv = estate.get(MV)
    value = estate.resolve(mv, "ghost.public")
    assert isinstance(value, Unknown)
    assert (
        value.reason == "s3://nobody-reports-this is referenced but no configured source reports it"
    )
    # deeper segments after the dangling ref keep the same Unknown
    assert estate.resolve(mv, "ghost.a.b.c") == value


def test_deref_of_unknown_id(estate: Inventory) -> None:
    assert estate.deref(Ref("x://nope")) == Unknown(
        "x://nope is referenced but no configured source reports it"
    )
    assert estate.deref(Ref(BUCKET))["public"] is False


def test_name_on_list_of_refs_maps_over_elements(estate: Inventory) -> None:
    bucket = estate.get(BUCKET)
    assert estate.resolve(bucket, "readers.kind") == ["service", "human"]
    assert estate.resolve(bucket, "readers.id") == [
        "arn:aws:iam::1:role/ml",
        "arn:aws:iam::1:user/alice",
    ]


def test_list_mapping_through_a_ref_chain(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "artefact.storage.readers.kind") == ["service", "human"]
    assert estate.resolve(mv, "artefact.files.path") == ["model.safetensors", "tokenizer.json"]


def test_nested_lists_are_flattened_one_level(estate: Inventory) -> None:
    bucket = estate.get(BUCKET)
    assert estate.resolve(bucket, "groups.kind") == ["a", "b", "c"]
    inv = Inventory()
    # a name applied to each element, each producing a list: collected flat
    assert inv.resolve({"xs": [{"t": [1, 2]}, {"t": [3]}, {"t": 4}]}, "xs.t") == [1, 2, 3, 4]


def test_list_mapping_keeps_elements_without_the_key_as_missing() -> None:
    """Dropping them would let `every_item` pass over elements that never had the value."""
    inv = Inventory()
    got = inv.resolve({"xs": [{"a": 1}, {"b": 2}, "scalar", {"a": 3}]}, "xs.a")
    assert got == [1, MISSING, MISSING, 3]
    assert inv.resolve({"xs": []}, "xs.a") == []


def test_list_mapping_keeps_unknown_elements() -> None:
    inv = Inventory([res("p1", "principal", kind="human")])
    subject = {"readers": [Ref("p1"), Ref("p-gone"), Unknown("list denied")]}
    got = inv.resolve(subject, "readers.kind")
    assert got == [
        "human",
        Unknown("p-gone is referenced but no configured source reports it"),
        Unknown("list denied"),
    ]


def test_numeric_index(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "artefact.files.0.path") == "model.safetensors"
    assert estate.resolve(mv, "artefact.files.1.size") == 2
    bucket = estate.get(BUCKET)
    assert estate.resolve(bucket, "readers.1.kind") == "human"
    assert estate.resolve(bucket, "readers.0") == Ref("arn:aws:iam::1:role/ml")


def test_out_of_range_index_is_missing(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "artefact.files.2.path") is MISSING
    assert estate.resolve(mv, "artefact.files.2") is MISSING
    assert estate.resolve({"xs": []}, "xs.0") is MISSING


def test_unknown_mid_path_propagates(estate: Inventory) -> None:
    bucket = estate.get(BUCKET)
    assert estate.resolve(bucket, "logging.server_access") == Unknown("s3:GetBucketLogging denied")
    assert estate.resolve(bucket, "logging.a.0.b") == Unknown("s3:GetBucketLogging denied")
    assert estate.resolve(bucket, "encryption.customer_managed_key") == Unknown(
        "kms:DescribeKey denied"
    )
    mv = estate.get(MV)
    assert estate.resolve(mv, "artefact.storage.logging.read_events") == Unknown(
        "s3:GetBucketLogging denied"
    )


def test_missing_for_absent_keys_and_paths_through_scalars(estate: Inventory) -> None:
    bucket = estate.get(BUCKET)
    assert estate.resolve(bucket, "versioning") is MISSING
    assert estate.resolve(bucket, "encryption.nope") is MISSING
    assert estate.resolve(bucket, "versioning.enabled") is MISSING
    assert estate.resolve(bucket, "public.enabled") is MISSING  # through a bool
    assert estate.resolve(bucket, "name.x") is MISSING  # through a string
    assert estate.resolve({"a": None}, "a.b") is MISSING  # through None
    assert estate.resolve({"a": None}, "a") is None  # None is kept distinct from MISSING
    assert not MISSING
    assert repr(MISSING) == "MISSING"


def test_meta_fields_are_addressable(estate: Inventory) -> None:
    mv = estate.get(MV)
    assert estate.resolve(mv, "id") == MV
    assert estate.resolve(mv, "name") == "fraud/3"
    assert estate.resolve(mv, "type") == "model_version"
    assert estate.resolve(mv, "source") == "mlflow"
    assert estate.resolve(mv, "artefact.storage.source") == "aws"
    assert estate.resolve(mv, "artefact.storage.type") == "storage"


def test_meta_fields_win_over_attributes_of_the_same_name() -> None:
    r = Resource("r1", "storage", "real", "src", {"name": "spoofed", "id": "spoofed"})
    inv = Inventory([r])
    assert inv.resolve(r, "name") == "real"
    assert inv.resolve(r, "id") == "r1"


# --- add / merge -----------------------------------------------------------------------------


def test_add_merges_first_known_value_wins() -> None:
    inv = Inventory()
    inv.add(res("s3://b", "storage", source="mlflow", name="b-from-mlflow", region="eu-west-1"))
    inv.add(
        res("s3://b", "storage", source="aws", name="b-from-aws", region="us-east-1", public=True)
    )
    merged = inv.get("s3://b")
    assert merged.attributes == {"region": "eu-west-1", "public": True}
    assert (merged.name, merged.source) == ("b-from-mlflow", "mlflow")
    assert len(inv) == 1


def test_known_value_replaces_unknown_but_never_the_reverse() -> None:
    inv = Inventory()
    inv.add(res("s3://b", "storage", source="a", public=Unknown("denied"), versioning=True))
    inv.add(res("s3://b", "storage", source="b", public=False, versioning=Unknown("throttled")))
    merged = inv.get("s3://b").attributes
    assert merged["public"] is False
    assert merged["versioning"] is True


def test_merge_keeps_raw_of_both_sources() -> None:
    inv = Inventory()
    inv.add(res("s3://b", "storage", source="a", raw={"x": 1}))
    inv.add(res("s3://b", "storage", source="b", raw={"y": 2}))
    assert inv.get("s3://b").raw == {"a": {"x": 1}, "b": {"y": 2}}
    inv.add(res("s3://c", "storage", source="a", raw={"x": 1}))
    inv.add(res("s3://c", "storage", source="b"))  # no raw: the first raw stays as is
    assert inv.get("s3://c").raw == {"x": 1}


def test_merge_of_three_sources_keeps_raw_flat() -> None:
    inv = Inventory()
    for source in ("a", "b", "c"):
        inv.add(res("s3://b", "storage", source=source, raw={"from": source}))
    assert inv.get("s3://b").raw == {
        "a": {"from": "a"},
        "b": {"from": "b"},
        "c": {"from": "c"},
    }


def test_type_conflict_raises() -> None:
    inv = Inventory([res("x://1", "storage", source="aws")])
    with pytest.raises(InventoryError) as err:
        inv.add(res("x://1", "artefact", source="mlflow"))
    assert str(err.value) == (
        "resource 'x://1' reported as storage by aws and as artefact by mlflow"
    )
    assert inv.get("x://1").type == "storage"


def test_iteration_order_is_type_then_id_whatever_the_insertion_order() -> None:
    items = [
        res("b", "storage"),
        res("z", "artefact"),
        res("a", "storage"),
        res("m", "principal"),
        res("c", "artefact"),
    ]
    forward = [(r.type, r.id) for r in Inventory(items)]
    backward = [(r.type, r.id) for r in Inventory(reversed(items))]
    expected = [
        ("artefact", "c"),
        ("artefact", "z"),
        ("principal", "m"),
        ("storage", "a"),
        ("storage", "b"),
    ]
    assert forward == backward == expected
    assert [r.id for r in Inventory(items).of_type("storage")] == ["a", "b"]
    assert Inventory(items).of_type("endpoint") == []
    assert Inventory(items).get("nope") is None


# --- JSON markers ----------------------------------------------------------------------------


def test_to_jsonable_markers_and_dates() -> None:
    value = {
        "ref": Ref("s3://b"),
        "unknown": Unknown("denied"),
        "date": dt.date(2025, 3, 1),
        "naive": dt.datetime(2025, 3, 1, 12, 30),
        "aware": dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC),
        "offset": dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "tuple": (1, Ref("r")),
        "set": {"b", "a"},
        "missing": MISSING,
        "bytes": b"ab\xff",
        3: "int key",
    }
    assert to_jsonable(value) == {
        "ref": {"$ref": "s3://b"},
        "unknown": {"$unknown": "denied"},
        "date": "2025-03-01",
        "naive": "2025-03-01T12:30:00Z",
        "aware": "2025-03-01T12:30:00Z",
        "offset": "2025-03-01T12:30:00+02:00",
        "tuple": [1, {"$ref": "r"}],
        "set": ["a", "b"],
        "missing": None,
        "bytes": "ab\ufffd",
        "3": "int key",
    }


def test_round_trip_of_refs_unknowns_and_nested_data() -> None:
    value = {
        "storage": Ref("arn:aws:s3:::b"),
        "readers": [Ref("p1"), Unknown("iam:ListRoles denied")],
        "enc": {"kms": Unknown("kms denied"), "at_rest": True},
        "n": 3,
        "s": "text",
        "none": None,
    }
    assert from_jsonable(to_jsonable(value)) == value


def test_round_trip_of_dates_gives_iso_text_the_evaluator_reads_back() -> None:
    from scanner.policy.conditions import as_datetime

    when = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC)
    back = from_jsonable(to_jsonable({"at": when, "day": dt.date(2025, 3, 1)}))
    assert back == {"at": "2025-03-01T12:30:00Z", "day": "2025-03-01"}
    assert as_datetime(back["at"]) == when
    assert as_datetime(back["day"]) == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def test_from_jsonable_only_converts_exact_markers() -> None:
    # extra keys next to a marker: plain data, not a reference
    assert from_jsonable({"$ref": "x", "other": 1}) == {"$ref": "x", "other": 1}
    assert from_jsonable({"$ref": 5}) == {"$ref": 5}
    assert from_jsonable({"$unknown": 404}) == Unknown("404")
    assert from_jsonable([{"$ref": "a"}, [{"$unknown": "r"}]]) == [Ref("a"), [Unknown("r")]]


def test_unknown_refuses_to_be_a_boolean() -> None:
    u = Unknown("s3:GetBucketPolicy denied")
    with pytest.raises(TypeError, match=r"Unknown value used as a boolean \(s3:GetBucketPolicy"):
        bool(u)
    with pytest.raises(TypeError):
        if u:  # pragma: no cover - the test is that this raises
            pass
    assert Unknown("a") == Unknown("a") and Unknown("a") != Unknown("b")
