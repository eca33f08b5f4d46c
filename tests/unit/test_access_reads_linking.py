"""Who can read joined with who did: linking over a real access-logs: resource (generated logs
in the documented formats) and storage, principals and artefacts shaped as the aws: source
reports them; then the two policies over the linked inventory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.bundled import bundled_dir
from scanner.inventory import Inventory, Ref, Resource, Unknown
from scanner.linking import link
from scanner.policy.evaluate import evaluate_policy
from scanner.policy.loader import load_policy_dirs
from scanner.sources.registry import build_source, parse_spec
from tests.accesslogs import GB, Read, Who, daily, write_cloudtrail, write_server_access

ACCOUNT = "111122223333"
END = dt.datetime(2024, 6, 30, tzinfo=dt.UTC)
START = END - dt.timedelta(days=100)
BUCKET = "s3://models"
FRAUD = "s3://models/fraud/3"
CHURN = "s3://models/churn/1"
SERVE = Who("role", "fraud-serving", path="/service-role/", session="i-0abc")
BOB = Who("user", "bob")
MALLORY = Who("user", "mallory")
LEGACY = Who("role", "legacy-etl")
BREAKGLASS = Who("role", "breakglass")
OLD = Who("role", "old-pipeline")
NEWBIE = Who("role", "new-scorer")
VPCE = "vpce-0abc"


def arn(who: Who) -> str:
    return who.arn


def grant(who: Who, via: str = "identity_policy", **extra) -> dict:
    return {
        "principal": Ref(arn(who)),
        "via": via,
        "policy": f"{who.name}-access",
        "statement": "Read",
        "actions": ["s3:GetObject"],
        "conditions": extra.pop("conditions", {}),
        "restricted_by": extra.pop("restricted_by", []),
        "cross_account": False,
        "wildcard_action": False,
        "wildcard_resource": False,
        "limited_by_denies": [],
    }


def principal(who: Who, **attrs) -> Resource:
    return Resource(
        arn(who), "principal", who.name, "aws", {"kind": "service", "arn": arn(who), **attrs}
    )


def estate(
    readers: list[Who], *, restricted=True, grants: list[dict] | None = None
) -> list[Resource]:
    storage = Resource(
        BUCKET,
        "storage",
        "models",
        "aws",
        {
            "provider": "aws",
            "account": ACCOUNT,
            "region": "eu-west-1",
            "holds_models": True,
            "network_restricted": restricted,
            "readers": [Ref(arn(w)) for w in readers],
            "reader_count": len(readers),
            "access_grants": grants if grants is not None else [grant(w) for w in readers],
        },
    )
    artefacts = [
        Resource(
            FRAUD,
            "artefact",
            "fraud/3",
            "aws",
            {
                "uri": FRAUD,
                "storage": Ref(BUCKET),
                "files": [
                    {"path": "model.safetensors", "size": 4 * GB},
                    {"path": "config.json", "size": 900},
                ],
            },
        ),
        Resource(
            CHURN,
            "artefact",
            "churn/1",
            "aws",
            {"uri": CHURN, "storage": Ref(BUCKET), "files": [{"path": "model.onnx", "size": 10}]},
        ),
    ]
    version = Resource(
        "mlflow+http://reg/models/fraud/versions/3",
        "model_version",
        "fraud/3",
        "mlflow",
        {"stage": "production", "artefact": Ref(FRAUD)},
    )
    people = [
        principal(SERVE),
        principal(BOB, kind="human"),
        principal(MALLORY, kind="human"),
        principal(LEGACY),
        principal(BREAKGLASS, kind="human", just_in_time=True),
        principal(OLD),
        principal(NEWBIE),
    ]
    return [storage, *artefacts, version, *people]


def workload() -> list[Read]:
    out = daily(
        SERVE,
        "models",
        ["fraud/3/model.safetensors"],
        start=START,
        days=100,
        bytes_each=2 * GB,
        vpce=VPCE,
    )
    out += daily(
        BOB,
        "models",
        ["fraud/3/config.json", "churn/1/model.onnx"],
        start=START,
        days=100,
        bytes_each=GB,
        every=7,
        vpce=VPCE,
    )
    # Read 60 days ago, before its grant was removed: the "policy tightened" story.
    out += [
        Read(END - dt.timedelta(days=60), "models", "fraud/3/model.safetensors", OLD, vpce=VPCE)
    ]
    # Granted recently: reads from day 85 on.
    out += daily(
        NEWBIE,
        "models",
        ["churn/1/model.onnx"],
        start=END - dt.timedelta(days=5),
        days=5,
        bytes_each=10**6,
        vpce=VPCE,
    )
    # The thief: bob's neighbour with a valid credential, from the internet.
    out += [
        Read(
            END - dt.timedelta(days=3) + dt.timedelta(hours=h),
            "models",
            "fraud/3/model.safetensors",
            MALLORY,
            ip="203.0.113.77",
            bytes=4 * GB,
        )
        for h in range(3)
    ]
    return out


def access_log(tmp_path: Path, reads: list[Read], fmt: str = "cloudtrail", **options) -> Resource:
    (write_cloudtrail if fmt == "cloudtrail" else write_server_access)(tmp_path, reads)
    source = build_source(
        parse_spec(f"access-logs:{tmp_path}", options={"window_end": "2024-06-30", **options})
    )
    (resource,) = source.collect(lambda _m: None).resources
    return resource


READERS = [SERVE, BOB, MALLORY, LEGACY, BREAKGLASS, NEWBIE]


def linked(tmp_path: Path, reads=None, readers=READERS, fmt="cloudtrail", **kw) -> dict[str, dict]:
    log = access_log(tmp_path, workload() if reads is None else reads, fmt)
    inventory = link(Inventory([*estate(readers, **kw), log]))
    return {r.id: dict(r.attributes) for r in inventory}


def verdict(inventory: dict[str, dict], policy_id: str, rid: str = BUCKET):
    policies = {p.id: p for p in load_policy_dirs([bundled_dir("policies")]).policies}
    resources = [
        Resource(i, t, i, "x", a)
        for i, (t, a) in ((i, (_type(i, a), a)) for i, a in inventory.items())
    ]
    findings = evaluate_policy(policies[policy_id], Inventory(resources), END)
    return next(f for f in findings if f.resource_id == rid)


def _type(rid: str, attrs: dict) -> str:
    if rid == BUCKET:
        return "storage"
    if rid.startswith("s3://"):
        return "artefact"
    if rid.startswith("access-log:"):
        return "access_log"
    if rid.startswith("mlflow"):
        return "model_version"
    return "principal"


def ids(items) -> set[str]:
    return {i["id"] for i in items}


@pytest.mark.parametrize("fmt", ["cloudtrail", "s3-server-access"])
def test_unused_standing_access_is_named_and_fails_mw_iam_05(tmp_path: Path, fmt: str) -> None:
    out = linked(tmp_path, fmt=fmt)
    storage = out[BUCKET]
    assert storage["read_window"]["days"] == 90 and storage["read_window"]["whole_window"] is True
    unused = {u["id"]: u for u in storage["unused_readers"]}
    assert set(unused) == {arn(LEGACY), arn(BREAKGLASS)}
    assert unused[arn(LEGACY)]["standing"] is True
    assert unused[arn(BREAKGLASS)]["standing"] is False  # just-in-time: not standing access
    assert unused[arn(LEGACY)]["summary"] == (
        "role legacy-etl can read s3://models (through its identity policy) and read nothing in "
        "the 90 days the logs cover (2024-04-01T00:00:00Z to 2024-06-30T00:00:00Z)"
    )
    # Server access logs name the role session without its path: still the same role.
    assert arn(SERVE) in ids(storage["observed_readers"])
    assert storage["reader_usage"] == {
        "can_read": 6,
        "did_read": 4,
        "read_by": 5,
        "unused": 2,
        "unexpected": 2,
        "window_days": 90,
    }
    finding = verdict(out, "MW-IAM-05")
    assert finding.status == "fail"
    assert "role legacy-etl can read s3://models" in finding.message
    assert "breakglass" not in finding.message


def test_a_principal_that_no_longer_can_read_and_a_new_one(tmp_path: Path) -> None:
    """old-pipeline read before its grant was removed; new-scorer was granted and started
    reading five days ago: the first is unexpected, the second is neither unused nor
    unexpected."""
    out = linked(tmp_path)
    storage = out[BUCKET]
    unexpected = {(u["id"], u["reason"]): u for u in storage["unexpected_reads"]}
    old = unexpected[(arn(OLD), "cannot_read")]
    assert "cannot read it under the current policies" in old["summary"]
    assert old["last_read"] == "2024-05-01T00:00:00Z"
    newbie = next(o for o in storage["observed_readers"] if o["id"] == arn(NEWBIE))
    assert newbie["can_read"] is True and newbie["first_read"].startswith("2024-06-25")
    assert arn(NEWBIE) not in ids(storage["unused_readers"])
    assert not any(u["id"] == arn(NEWBIE) for u in storage["unexpected_reads"])


def test_a_public_ip_bulk_read_fails_mw_net_04_in_words(tmp_path: Path) -> None:
    out = linked(tmp_path)
    storage = out[BUCKET]
    bulk = storage["bulk_reads"]
    assert {(b["id"], b["kind"]) for b in bulk} == {
        (arn(MALLORY), "daily_volume"),
        (arn(MALLORY), "public_whole_model"),
    }
    assert all(b["principal"] == Ref(arn(MALLORY)) for b in bulk)
    off = next(u for u in storage["unexpected_reads"] if u["reason"] == "off_network")
    assert off["summary"] == (
        "user mallory read s3://models off-network: 3 read(s) from public IP 203.0.113.77 "
        "although s3://models admits reads only through a VPC endpoint or VPC"
    )
    finding = verdict(out, "MW-NET-04")
    assert finding.status == "fail"
    assert "user mallory read 12.0 GB of model files on 2024-06-27 in 3 read(s)" in finding.message
    assert "from public IP 203.0.113.77" in finding.message
    # The artefact the bytes came from says the same, with the file size it lists.
    fraud = out[FRAUD]
    single = next(b for b in fraud["bulk_reads"] if b["kind"] == "public_whole_model")
    assert (
        single["whole_file"] is True
        and "the artefact lists the file at 4.0 GB, so that is the whole file" in single["reason"]
    )
    assert out[CHURN]["bulk_reads"] == []


def test_reads_through_the_vpc_endpoint_are_fine(tmp_path: Path) -> None:
    reads = [r for r in workload() if r.who not in (MALLORY, OLD)]
    out = linked(tmp_path, reads=reads)
    storage = out[BUCKET]
    assert storage["unexpected_reads"] == [] and storage["bulk_reads"] == []
    assert verdict(out, "MW-NET-04").status == "pass"


def test_a_grant_limited_to_one_endpoint_flags_reads_through_another(tmp_path: Path) -> None:
    reads = daily(
        BOB,
        "models",
        ["fraud/3/model.safetensors"],
        start=START,
        days=100,
        bytes_each=10,
        vpce="vpce-other",
    )
    limited = grant(
        BOB,
        via="bucket_policy",
        conditions={"StringEquals": {"aws:SourceVpce": [VPCE]}},
        restricted_by=["vpce"],
    )
    out = linked(tmp_path, reads=reads, readers=[BOB], grants=[limited], restricted=False)
    (off,) = out[BUCKET]["unexpected_reads"]
    assert off["reason"] == "off_network"
    assert (
        "through VPC endpoint vpce-other, not the one its grants name (vpce-0abc)" in off["summary"]
    )


def test_per_artefact_who_can_read_and_who_did(tmp_path: Path) -> None:
    out = linked(tmp_path)
    fraud, churn = out[FRAUD], out[CHURN]
    # Per artefact, reads of its model files count: bob read only fraud/3's config.json.
    assert ids(fraud["observed_readers"]) == {arn(SERVE), arn(OLD), arn(MALLORY)}
    assert arn(BOB) in ids(fraud["unused_readers"])
    assert ids(churn["observed_readers"]) == {arn(BOB), arn(NEWBIE)}
    assert ids(churn["unused_readers"]) == {arn(SERVE), arn(MALLORY), arn(LEGACY), arn(BREAKGLASS)}
    assert fraud["reader_usage"]["did_read"] == 2


def test_a_bucket_the_logs_never_name_is_unknown_never_no_readers(tmp_path: Path) -> None:
    reads = [Read(END - dt.timedelta(days=1), "other-bucket", "x/model.pt", BOB)]
    out = linked(tmp_path, reads=reads)
    storage = out[BUCKET]
    for key in ("observed_readers", "unused_readers", "unexpected_reads", "bulk_reads"):
        assert isinstance(storage[key], Unknown)
        assert storage[key].reason.startswith("no data events for this bucket in the logs")
    assert storage["read_window"]["read_events"] == 0
    assert verdict(out, "MW-IAM-05").status == "error"
    assert verdict(out, "MW-NET-04").status == "error"
    assert isinstance(out[FRAUD]["observed_readers"], Unknown)


def test_logs_covering_part_of_the_window_leave_unused_unknown(tmp_path: Path) -> None:
    reads = [r for r in workload() if r.when > END - dt.timedelta(days=30)]
    out = linked(tmp_path, reads=reads)
    unused = out[BUCKET]["unused_readers"]
    assert isinstance(unused, Unknown)
    assert unused.reason.startswith("the logs cover 29 of the 90 days of the window")
    # What did happen still stands.
    assert arn(MALLORY) in ids(out[BUCKET]["bulk_reads"])
    assert verdict(out, "MW-IAM-05").status == "error"


def test_unknown_grants_make_who_can_read_unknown(tmp_path: Path) -> None:
    log = access_log(tmp_path, workload())
    resources = estate(READERS)
    storage = resources[0]
    attrs = {**storage.attributes, "readers": Unknown("denied: iam:GetAccountAuthorizationDetails")}
    resources[0] = Resource(storage.id, "storage", storage.name, "aws", attrs)
    out = {r.id: r.attributes for r in link(Inventory([*resources, log]))}
    assert isinstance(out[BUCKET]["unused_readers"], Unknown)
    assert all(isinstance(o["can_read"], Unknown) for o in out[BUCKET]["observed_readers"])
    assert arn(MALLORY) in ids(out[BUCKET]["bulk_reads"])  # positives survive


def test_no_access_logs_no_attributes(tmp_path: Path) -> None:
    out = {r.id: r.attributes for r in link(Inventory(estate(READERS)))}
    assert "read_window" not in out[BUCKET]
    assert verdict({k: dict(v) for k, v in out.items()}, "MW-IAM-05").status == "not_applicable"


def test_the_report_shows_who_can_read_and_who_did_per_production_model(tmp_path: Path) -> None:
    from scanner.inventory import to_jsonable
    from scanner.outputs.html_values import Values, read_access_rows

    log = access_log(tmp_path, workload())
    inventory = link(Inventory([*estate(READERS), log]))
    document = {
        "resources": [
            {
                "id": r.id,
                "type": r.type,
                "name": r.name,
                "attributes": to_jsonable(dict(r.attributes)),
            }
            for r in inventory
        ]
    }
    values = Values(
        {r.id: f"r{i}" for i, r in enumerate(inventory)}, {r.id: r.name for r in inventory}
    )
    (row,) = read_access_rows(document, values)
    assert "fraud/3" in row["version"]
    assert row["usage"] == "read by 2 of 6 principals who can; 4 unused for 90+ days"
    did = {
        str(d["who"]).split(">")[1].split("<")[0]: (d["reads"], d["bytes"], d["can"])
        for d in row["did"]
    }
    assert did["old-pipeline"] == (1, "1.0 MB", False)
    assert did["mallory"] == (3, "12.0 GB", True)
    unused = {str(u).split(">", 1)[1].replace("</a>", "") for u in row["unused"]}
    assert unused == {"legacy-etl", "breakglass (just-in-time)", "bob", "new-scorer"}
    assert any("from public IP 203.0.113.77" in a for a in row["alerts"])
