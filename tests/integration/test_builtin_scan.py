"""A scan with the built-in pack: attestations and model files, every framework rolled up."""

from __future__ import annotations

import datetime as dt

from tests.helpers import load_results, safe_model, write


def test_builtin_pack_scan_rolls_up_all_frameworks_and_the_ladder(cli, tmp_path):
    models = tmp_path / "models"
    safe_model(models)
    today = dt.date.today()
    evidence = write(
        tmp_path / "evidence.yaml",
        f"""
        - kind: threat_model
          id: tm-platform
          statement: The ML platform threat model names model theft and API extraction.
          evidence_uri: https://wiki.example.com/tm
          owner: security@example.com
          date: {today - dt.timedelta(days=30)}
          expires: {today + dt.timedelta(days=300)}
        - kind: red_team
          statement: Red team exercise with model extraction attempts.
          evidence_uri: https://jira.example.com/SEC-1
          owner: appsec@example.com
          date: {today - dt.timedelta(days=800)}
        - kind: supplier_review
          statement: Hosted-model suppliers reviewed.
          evidence_uri: https://grc.example.com/suppliers
          owner: procurement@example.com
          date: {today - dt.timedelta(days=10)}
          controls: ["iso-iec-42001-2023:A.10.3"]
        """,
    )
    out = tmp_path / "out"
    r = cli(
        "scan", "--source", f"path:{models}", "--source", f"attestations:{evidence}", "-o", str(out)
    )
    doc = load_results(out)
    assert r.code == doc["gate"]["exit_code"]
    assert r.code == 1  # missing governance evidence fails at high (MW-GOV-08, ...)

    by_policy: dict[str, list[dict]] = {}
    for f in doc["findings"]:
        by_policy.setdefault(f["policy_id"], []).append(f)
    in_scope = [f for f in by_policy["MW-GOV-01"] if f["status"] != "not_applicable"]
    assert [(f["resource_id"], f["status"]) for f in in_scope] == [
        ("attestation:threat_model:tm-platform", "pass")
    ]
    red_team = {f["resource_id"]: f for f in by_policy["MW-GOV-02"]}
    assert red_team["modelward:missing/attestation"]["status"] == "fail"
    assert "kind red_team" in red_team["modelward:missing/attestation"]["message"]
    # Controls travel with every finding.
    gov01 = in_scope[0]
    assert {"framework": "iso-iec-42001-2023", "control": "A.6.2.2"} in gov01["controls"]

    frameworks = {f["id"]: f for f in doc["frameworks"]}
    assert len(frameworks) == 9
    iso42 = {c["id"]: c for c in frameworks["iso-iec-42001-2023"]["controls"]}
    assert iso42["A.6.2.2"]["status"] == "met"
    assert iso42["A.10.3"]["status"] == "met"  # manual, satisfied by the attestation
    assert iso42["A.10.3"]["attested_by"] == [
        "attestation:supplier_review:" + str(today - dt.timedelta(days=10))
    ]
    assert iso42["A.2.3"]["status"] == "manual"
    # The safetensors artefact is on a local disk: storage policies do not apply to it.
    assert all(f["status"] == "not_applicable" for f in by_policy["MW-INV-03"])
    assert doc["maturity"]["level"] == "foundational"
    applied = next(rung for rung in doc["maturity"]["rungs"] if rung["name"] == "applied")
    assert {b["policy_id"] for b in applied["blocking"]} == {"MW-GOV-07"}
