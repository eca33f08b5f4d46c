"""Shard ownership, rebuilding the collected inventory from results, merging statuses,
readers joined across accounts, the streamed results text and the types policies read."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from scanner import results
from scanner.errors import UsageError
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.linking import link
from scanner.merge import merge_statuses
from scanner.policy.loader import parse_policy
from scanner.sources.interface import AccountStatus, combined_problems
from scanner.sources.shards import Shard, account_unit, owner
from scanner.targeting import Target, judged_ids, needed_types
from scanner.yamlpos import load_yaml_text

# --- shards -------------------------------------------------------------------------------


def test_every_unit_has_exactly_one_owner_and_shares_are_even():
    units = [account_unit("aws", f"{i:012d}") for i in range(2000)]
    counts = Counter(owner(u, 4) for u in units)
    assert set(counts) == {1, 2, 3, 4}
    assert all(400 < c < 600 for c in counts.values()), counts
    for u in units[:50]:
        assert sum(Shard(k, 4).owns(u) for k in range(1, 5)) == 1


def test_a_shard_keeps_its_share_when_the_estate_grows_and_few_move_when_shards_are_added():
    before = {u: owner(u, 5) for u in (f"source:s{i}" for i in range(500))}
    grown = {u: owner(u, 5) for u in (f"source:s{i}" for i in range(1000))}
    assert all(grown[u] == before[u] for u in before)  # new units never move old ones
    six = {u: owner(u, 6) for u in before}
    moved = [u for u in before if six[u] != before[u]]
    assert all(six[u] == 6 for u in moved)  # only to the new shard
    assert len(moved) < len(before) / 3


# One spec of every kind a scan can read; none is contacted (building a source only checks
# its options). Every kind but `aws:` is one unit; `aws:` divides by account inside its run.
EVERY_KIND = (
    "aws:",
    "azure:subscription=00000000-0000-0000-0000-000000000001",
    "azure:account=models",
    "gcs:project=ml-project-1",
    "vertex:project=ml-project-1,location=europe-west4",
    "oci:registry.example.com/team/model:1",
    "oci-layout:./layout",
    "docker-archive:./image.tar",
    "mlflow:http://127.0.0.1:9",
    "path:./models",
    "attestations:./evidence.yaml",
    "logs:./access.log",
)


def _shares(specs: tuple[str, ...], count: int) -> dict[int, list[str]]:
    from scanner.scan import _share
    from scanner.sources.registry import build_source, parse_spec

    out = {}
    for index in range(1, count + 1):
        sources = [build_source(parse_spec(text)) for text in specs]  # fresh, as each job's
        out[index] = [s.spec.name for s in _share(sources, Shard(index, count))]
    return out


@pytest.mark.parametrize("count", [2, 3, 7])
def test_every_source_kind_is_run_by_exactly_one_shard_and_aws_by_every_shard(count):
    shares = _shares(EVERY_KIND, count)
    for text in EVERY_KIND:
        runs = [k for k, names in shares.items() if text in names]
        if text == "aws:":
            assert runs == list(range(1, count + 1))  # each reads the accounts it owns
        else:
            assert runs == [owner(f"source:{text}", count)], text
    assert _shares(EVERY_KIND, count) == shares  # the same in every run


def test_a_source_keeps_its_shard_when_others_are_added_or_reordered():
    before = _shares(EVERY_KIND[1:6], 3)
    after = _shares(tuple(reversed(EVERY_KIND)), 3)
    for index, names in before.items():
        assert set(names) <= set(after[index])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2", "is not K/N"),
        ("0/3", "K must be between 1 and N"),
        ("4/3", "K must be between 1 and N"),
        ("1/0", "N must be between 1"),
        ("a/b", "is not K/N"),
    ],
)
def test_bad_shard_text_is_a_usage_error(text, message):
    with pytest.raises(UsageError, match=message):
        Shard.parse(text)


# --- rebuilding what the sources reported -------------------------------------------------


def _resources() -> list[Resource]:
    return [
        Resource(
            "s3://b",
            "storage",
            "b",
            "aws:",
            {
                "provider": "aws",
                "account": "111111111111",
                "holds_models": False,
                "access_grants": [
                    {
                        "principal": Ref("arn:aws:iam::222222222222:role/r"),
                        "via": "bucket_policy",
                        "policy": "bucket policy",
                        "statement": "S",
                        "actions": ["s3:GetObject"],
                    }
                ],
                "readers": [Ref("arn:aws:iam::222222222222:role/r")],
            },
        ),
        Resource("s3://b/m", "artefact", "m", "aws:", {"serialization": {"pickle_based": False}}),
        Resource("s3://b/m", "artefact", "m", "mlflow:x", {"recorded": "by mlflow"}),
        Resource(
            "mlflow+x/models/m/versions/1",
            "model_version",
            "m/1",
            "mlflow:x",
            {
                "artefact": Ref("s3://b/m"),
                "stage": "production",
                "when": Unknown("denied"),
            },
        ),
    ]


def test_results_carry_what_rebuilds_the_collected_inventory():
    collected = Inventory(_resources())
    linked = link(collected)
    document = results.plain(
        results.build(
            scan={},
            resources=list(linked),
            findings=[],
            frameworks=[],
            maturity={},
            gate={},
            collected=collected,
        )
    )
    by_id = {r["id"]: r for r in document["resources"]}
    # The external reader is linking's own; linked attributes are listed; origins kept.
    assert by_id["arn:aws:iam::222222222222:role/r"]["collected"] == {"by_linking": True}
    assert by_id["s3://b"]["collected"]["replaced"] == {"holds_models": False}
    assert "holds_production_models" in by_id["s3://b"]["collected"]["added"]
    assert by_id["s3://b/m"]["collected"]["origins"] == {"recorded": "mlflow:x"}
    rebuilt = results.collected_resources(json.loads(results.dumps(document)))
    parts = {(r.id, r.source): r.attributes for r in rebuilt}
    assert parts[("s3://b/m", "mlflow:x")] == {"recorded": "by mlflow"}
    assert parts[("s3://b/m", "aws:")] == {"serialization": {"pickle_based": False}}
    assert parts[("s3://b", "aws:")]["holds_models"] is False
    assert parts[("mlflow+x/models/m/versions/1", "mlflow:x")]["when"] == Unknown("denied")
    again = Inventory(sorted(rebuilt, key=lambda r: r.source != "aws:"))
    assert {r.id: dict(r.attributes) for r in again} == {
        r.id: dict(r.attributes) for r in collected
    }


def test_readers_are_joined_across_accounts_and_unknown_grants_make_every_reader_unknown():
    role = "arn:aws:iam::222222222222:role/r"
    principal = Resource(role, "principal", "r", "aws:", {"provider": "aws", "kind": "service"})
    linked = {r.id: r for r in link(Inventory([*_resources(), principal]))}
    assert linked[role].attributes["can_read"] == [Ref("s3://b")]
    assert linked[role].attributes["grants"][0]["storage"] == Ref("s3://b")
    unreadable = Resource("s3://c", "storage", "c", "aws:", {
        "provider": "aws", "access_grants": Unknown("denied: s3:GetBucketPolicy")})  # fmt: skip
    linked = {r.id: r for r in link(Inventory([*_resources(), principal, unreadable]))}
    assert isinstance(linked[role].attributes["can_read"], Unknown)
    assert "denied: s3:GetBucketPolicy" in linked[role].attributes["can_read"].reason


def test_without_the_readers_account_it_is_an_external_principal():
    linked = {r.id: r for r in link(Inventory(_resources()))}
    external = linked["arn:aws:iam::222222222222:role/r"]
    assert external.attributes["kind"] == "external"
    assert external.attributes["admin"] == Unknown("account 222222222222 is not scanned")


# --- statuses -----------------------------------------------------------------------------


def test_a_divided_source_status_is_its_own_problems_then_each_accounts():
    a = AccountStatus("111111111111", ("account 111111111111: denied: iam:X (1 call)",), 3)
    b = AccountStatus("222222222222", (), 5)
    entry = {"name": "aws:org", "type": "aws", "resource_count": 3,
             "problems": combined_problems(["org problem"], [list(a.problems)]),
             "accounts": [a.to_dict()]}  # fmt: skip
    entry["error"] = entry["problems"][0]
    other = {"name": "aws:org", "type": "aws", "resource_count": 5, "error": None,
             "status": "ok", "problems": [], "accounts": [b.to_dict()]}  # fmt: skip
    merged = merge_statuses([other, entry])
    assert merged["problems"] == ["org problem", "account 111111111111: denied: iam:X (1 call)"]
    assert [x["id"] for x in merged["accounts"]] == ["111111111111", "222222222222"]
    assert merged["resource_count"] == 8 and merged["status"] == "error"
    assert merged["error"] == "org problem (+1 more problem(s))"


# --- the results text, streamed -------------------------------------------------------------


def test_streamed_results_text_is_json_dumps_of_the_same_document():
    collected = Inventory(_resources())
    document = results.build(
        scan={"id": "x"}, resources=list(link(collected)), findings=[], frameworks=[],
        maturity={}, gate={"hostile": "\ud800"}, collected=collected,
    )  # fmt: skip
    text = results.dumps(document)
    expected = json.dumps(results.plain(document), indent=2, sort_keys=True, ensure_ascii=False)
    assert text == expected.replace("\ud800", "\ufffd") + "\n"


# --- what policies read -------------------------------------------------------------------


def _policy(text: str):
    policy, errors = parse_policy(load_yaml_text(text, "p.yaml"))
    assert policy is not None, errors
    return policy


def test_needed_types_follow_references_and_linking():
    storage = _policy(
        "id: T-1\ntitle: t\nseverity: high\nmaturity: applied\nresource: storage\n"
        "scope: {field: holds_production_models, equals: true}\n"
        "check: {field: readers, no_item: {field: kind, equals: anonymous}}\n"
    )
    assert needed_types([storage]) == {"storage", "principal", "artefact", "model_version"}
    detector = _policy(
        "id: T-2\ntitle: t\nseverity: high\nmaturity: applied\nresource: threat_detection\n"
        "check: {field: enabled, equals: true}\n"
    )
    assert needed_types([detector]) == {"threat_detection"}
    assert needed_types([]) is None


def test_the_target_closure_follows_files_bucket_readers_and_endpoints():
    resources = [
        *_resources(),
        Resource("mlflow+x/models/m", "model", "m", "mlflow:x", {}),
        Resource("mlflow+x/models/n/versions/1", "model_version", "n/1", "mlflow:x", {}),
        Resource("ep", "endpoint", "ep", "aws:", {"artefacts": [Ref("s3://b/m")]}),
    ]
    linked = link(Inventory(resources))
    judged = judged_ids(linked, Target(model="m"))
    assert judged == {
        "mlflow+x/models/m", "mlflow+x/models/m/versions/1", "s3://b/m", "s3://b",
        "arn:aws:iam::222222222222:role/r", "ep",
    }  # fmt: skip
    assert judged_ids(linked, Target(model="m/2")) == {"mlflow+x/models/m"}
    assert judged_ids(linked, Target(resources=frozenset({"s3://b"}))) == {
        "s3://b", "arn:aws:iam::222222222222:role/r"
    }  # fmt: skip
