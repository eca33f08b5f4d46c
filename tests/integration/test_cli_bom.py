"""`modelward bom`, and the BOM formats of `scan` and `report`, end to end on real files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.bom_checks import cyclonedx_problem, spdx_schema_problems, spdx_shacl_problems
from tests.helpers import load_results, pickle_model, policy_pack, run_subprocess, safe_model, write


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    safe_model(root, "clean")
    pickle_model(root, "legacy")
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ml_components(bom: dict) -> dict[str, dict]:
    return {c["name"]: c for c in bom["components"] if c["type"] == "machine-learning-model"}


def test_bom_of_a_model_folder(cli, models, tmp_path):
    out = tmp_path / "out" / "bom.cdx.json"
    r = cli("bom", "--source", f"path:{models}", "-o", str(out))
    assert r.code == 0, r.err
    assert r.out.strip() == f"wrote {out} (cyclonedx: 2 model(s), 0 dataset(s))"
    content = out.read_bytes()
    assert cyclonedx_problem(content) is None
    found = ml_components(json.loads(content))
    assert set(found) == {"clean", "legacy"}
    clean = found["clean"]
    assert clean["bom-ref"] == (models / "clean").as_uri()
    hashes = {f["name"]: f["hashes"][0]["content"] for f in clean["components"]}
    assert hashes == {
        "config.json": sha256(models / "clean" / "config.json"),
        "model.safetensors": sha256(models / "clean" / "model.safetensors"),
    }
    props = {p["name"]: p["value"] for p in found["legacy"]["properties"]}
    assert props["modelward:kind"] == "unregistered_artefact"
    assert props["modelward:pickle_based"] == "true"
    # one file: its hash is the model's own
    assert found["legacy"]["hashes"][0]["content"] == sha256(models / "legacy" / "model.pkl")


def test_spdx_is_chosen_by_the_file_name_and_validates(cli, models, tmp_path):
    out = tmp_path / "bom.spdx.json"
    r = cli("bom", "--source", f"path:{models}", "-o", str(out), "-q")
    assert (r.code, r.out) == (0, "")
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    assert spdx_schema_problems(document) == []
    assert spdx_shacl_problems(document) is None
    names = sorted(e["name"] for e in document["@graph"] if e["type"] == "ai_AIPackage")
    assert names == ["clean", "legacy"]


def test_bom_to_stdout(models):
    r = run_subprocess("bom", "--source", f"path:{models}", "--format", "spdx", "-o", "-")
    assert r.code == 0, r.err
    document = json.loads(r.out)
    assert any(e["type"] == "ai_AIPackage" for e in document["@graph"])
    assert "wrote - (spdx: 2 model(s), 0 dataset(s))" in r.err


def test_with_findings_attaches_failures_but_never_gates(cli, models, tmp_path):
    pack = policy_pack(tmp_path / "pack")
    out = tmp_path / "bom.json"
    r = cli(
        "bom",
        "--source",
        f"path:{models}",
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--with-findings",
        "-o",
        str(out),
    )
    assert r.code == 0, r.err  # T-ART-01 fails on legacy: a BOM still exits 0
    bom = json.loads(out.read_bytes())
    assert cyclonedx_problem(out.read_bytes()) is None
    vulns = [(v["id"], [a["ref"] for a in v["affects"]]) for v in bom["vulnerabilities"]]
    # T-GOV-01 (no threat model attestation) is about no model, so it is not in the BOM
    assert vulns == [("T-ART-01", [(models / "legacy").as_uri()])]


def test_config_asks_for_findings_and_scan_writes_both_boms(cli, models, tmp_path):
    pack = policy_pack(tmp_path / "pack")
    config = write(
        tmp_path / "modelward.yaml",
        f"""
        sources: ["path:{models}"]
        policies: {{builtin: false, dirs: ["{pack}"], exclude: ["T-GOV-*"]}}
        bom: {{with_findings: true}}
        """,
    )
    out = tmp_path / "out"
    r = cli("scan", "-c", str(config), "-o", str(out), "--format", "json,cyclonedx,spdx")
    assert r.code == 1, r.err  # the scan gates: T-ART-01 is critical
    assert sorted(p.name for p in out.iterdir()) == [
        "bom.cdx.json",
        "bom.spdx.json",
        "results.json",
    ]
    bom = json.loads((out / "bom.cdx.json").read_bytes())
    assert [v["id"] for v in bom["vulnerabilities"]] == ["T-ART-01"]
    scores = {
        r["name"]: r["attributes"]["bom_completeness"] for r in load_results(out)["resources"]
    }
    assert scores["clean"]["missing"][:3] == ["owner", "classification", "ip_value"]
    # the hashes and the (absent) signature; the rest would come from a registry
    assert scores["clean"]["known"] == 2
    assert "artefact_hashes" not in scores["clean"]["missing"]
    assert "signature" not in scores["clean"]["missing"]

    # re-rendered from results.json, the BOMs are the same bytes
    again = tmp_path / "again"
    r = cli(
        "report",
        str(out / "results.json"),
        "--format",
        "cyclonedx,spdx",
        "--bom-with-findings",
        "-o",
        str(again),
    )
    assert r.code == 0, r.err
    for name in ("bom.cdx.json", "bom.spdx.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    r = cli("report", str(out / "results.json"), "--format", "cyclonedx", "-o", str(again))
    assert "vulnerabilities" not in json.loads((again / "bom.cdx.json").read_bytes())


def test_a_failed_source_exits_3_but_writes_what_was_read(cli, models, tmp_path):
    out = tmp_path / "bom.cdx.json"
    # A named pipe: it exists (so it passes the up-front check for missing paths), and the
    # path: source, which reads files and directories only, fails on it.
    missing = tmp_path / "pipe"
    os.mkfifo(missing)
    args = ["bom", "--source", f"path:{models}", "--source", f"path:{missing}", "-o", str(out)]
    r = cli(*args)
    assert r.code == 3
    assert f"source path:{missing} failed: not a regular file or directory" in r.err
    bom = json.loads(out.read_bytes())
    assert set(ml_components(bom)) == {"clean", "legacy"}
    sources = [p["value"] for p in bom["metadata"]["properties"] if p["name"] == "modelward:source"]
    assert any("error" in s and "not a regular file or directory" in s for s in sources)
    assert cli(*args, "--allow-partial").code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "spdx", "--with-findings"], "--with-findings applies to the cyclonedx"),
        (["--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_usage_errors(cli, models, tmp_path, args, message):
    r = cli("bom", "--source", f"path:{models}", "-o", str(tmp_path / "b.json"), *args)
    assert r.code == 2
    assert message in r.err


def test_no_sources_and_an_unwritable_output(cli, models, tmp_path):
    r = cli("bom", "-o", str(tmp_path / "b.json"), cwd=tmp_path)
    assert r.code == 2
    assert "no sources" in r.err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("bom", "--source", f"path:{models}", "-o", str(blocker / "b.json"))
    assert r.code == 2
    assert "cannot write output directory" in r.err
    r = cli("bom", "--source", f"path:{models}", "-o", str(tmp_path))
    assert r.code == 2
    assert "is a directory; give the BOM's file name" in r.err


def test_config_rejects_an_unknown_bom_setting(cli, models, tmp_path):
    config = write(tmp_path / "modelward.yaml", "bom: {with_finding: true}\n")
    r = cli("bom", "-c", str(config), "--source", f"path:{models}", "-o", str(tmp_path / "b"))
    assert r.code == 2
    assert "unknown key 'with_finding'" in r.err


def test_bom_of_a_live_mlflow_registry(mlflow_registry, tmp_path):
    """The seeded MLflow server (aliases, a dataset input, git provenance, a deleted run,
    hostile tags): both documents validate and every registered version is in them."""
    from tests.servers.mlflow_fixtures import SeededServer

    assert isinstance(mlflow_registry, SeededServer)
    source = f"mlflow:{mlflow_registry.url}"
    out = tmp_path / "bom.cdx.json"
    r = run_subprocess("bom", "--source", source, "--allow-partial", "-o", str(out))
    assert r.code == 0, r.err  # the deleted run makes the source partial: allowed here
    content = out.read_bytes()
    assert cyclonedx_problem(content) is None
    bom = json.loads(content)
    versions = {
        (c["name"], c["version"])
        for c in bom["components"]
        if c["type"] == "machine-learning-model" and "version" in c
    }
    assert {("fraud", "1"), ("fraud", "2"), ("churn", "1")} <= versions
    fraud1 = next(c for c in bom["components"] if (c["name"], c.get("version")) == ("fraud", "1"))
    assert fraud1["purl"].startswith("pkg:mlflow/fraud@1?repository_url=")
    data = [c for c in bom["components"] if c["type"] == "data"]
    assert data, "the seeded run's dataset input is a data component"
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert deps[fraud1["bom-ref"]] == [data[0]["bom-ref"]]

    spdx_out = tmp_path / "bom.spdx.json"
    r = run_subprocess("bom", "--source", source, "--allow-partial", "-o", str(spdx_out))
    assert r.code == 0, r.err
    document = json.loads(spdx_out.read_text(encoding="utf-8"))
    assert spdx_schema_problems(document) == []
    assert spdx_shacl_problems(document) is None
    trained = [
        e
        for e in document["@graph"]
        if e["type"] == "Relationship" and e["relationshipType"] == "trainedOn"
    ]
    assert len(trained) == len([e for e in document["@graph"] if e["type"] == "ai_AIPackage"])
