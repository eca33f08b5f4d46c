"""`modelward scan --source path:` with integrity.trust: signatures and serialization findings
evaluated by policies end to end (MW-INT-01..03-like test policies)."""

from __future__ import annotations

import json

from tests.corpus import GLOBAL_OS_SYSTEM
from tests.helpers import write
from tests.integrity_policies import integrity_pack
from tests.signing import key_pair, model_dir, sign_with_key


def test_scan_reports_signature_and_serialization(cli, tmp_path) -> None:
    keys = key_pair(tmp_path / "keys")
    models = tmp_path / "models"
    good = model_dir(models, "good")
    sign_with_key(good, keys)
    tampered = model_dir(models, "tampered")
    sign_with_key(tampered, keys)
    (tampered / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes() + b" ")
    unsigned = model_dir(models, "unsigned")
    (unsigned / "extra.pkl").write_bytes(GLOBAL_OS_SYSTEM)
    config = write(
        tmp_path / "modelward.yaml",
        """
        sources: [path:./models]
        policies: {builtin: false, dirs: [./policies]}
        integrity:
          trust:
            keys: [./keys/release.pub]
        """,
    )
    integrity_pack(tmp_path / "policies")
    r = cli("scan", "-q", "-c", str(config), "-o", str(tmp_path / "out"))
    assert r.code == 1, r.err
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    attrs = {res["name"]: res["attributes"] for res in doc["resources"]}
    assert attrs["good"]["signature"]["verified"] is True
    assert attrs["good"]["signature"]["identity"].startswith("key release.pub")
    assert attrs["tampered"]["signature"]["verified"] is False
    assert "changed: model.safetensors" in attrs["tampered"]["signature"]["error"]
    assert attrs["unsigned"]["signature"]["present"] is False
    assert attrs["unsigned"]["serialization"]["unsafe"] == [
        {
            "file": "extra.pkl",
            "global": "os.system",
            "reason": "os.system runs operating-system commands or touches files",
            "risk": "runs operating-system commands or touches files",
        }
    ]
    status = {(f["policy_id"], f["resource_name"]): f["status"] for f in doc["findings"]}
    assert status == {
        ("T-INT-01", "good"): "pass",
        ("T-INT-01", "tampered"): "pass",
        ("T-INT-01", "unsigned"): "fail",
        ("T-INT-02", "good"): "pass",
        ("T-INT-02", "tampered"): "fail",
        ("T-INT-02", "unsigned"): "fail",
        ("T-INT-03", "good"): "pass",
        ("T-INT-03", "tampered"): "pass",
        ("T-INT-03", "unsigned"): "fail",
    }  # T-INT-04 reads model versions: none without a registry source (see test_digests)


def test_signature_without_trust_is_an_error_verdict(cli, tmp_path) -> None:
    """No trust configured: verification cannot happen, so the policy errors (exit 3), never
    passes."""
    keys = key_pair(tmp_path / "keys")
    sign_with_key(model_dir(tmp_path / "models", "m"), keys)
    integrity_pack(tmp_path / "policies")
    r = cli(
        "scan",
        "-q",
        "--no-builtin-policies",
        "--policies",
        str(tmp_path / "policies"),
        "--policy",
        "T-INT-02",
        "--source",
        f"path:{tmp_path / 'models'}",
        "-o",
        str(tmp_path / "out"),
    )
    assert r.code == 3
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    (finding,) = doc["findings"]
    assert finding["status"] == "error"
    assert "needs a trusted public key" in finding["message"]


def test_trust_written_as_a_source_option_is_refused(cli, tmp_path) -> None:
    model_dir(tmp_path / "models", "m")
    config = write(
        tmp_path / "modelward.yaml",
        """
        sources:
          - {spec: path:./models, options: {trust: {keys: [a.pub]}}}
        """,
    )
    r = cli("scan", "-q", "--no-builtin-policies", "-c", str(config))
    assert r.code == 2
    assert "trust must come from the config's integrity.trust" in r.err
