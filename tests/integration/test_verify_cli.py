"""`modelward verify`: the deploy gate's exit codes, lines and JSON, on real signed models."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
import yaml

from tests.corpus import GLOBAL_OS_SYSTEM
from tests.helpers import REPO, run_subprocess, write
from tests.signing import key_pair, model_dir, pki, sign_with_certificate, sign_with_key


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    return key_pair(root, "release"), key_pair(root, "attacker")


def test_signed_clean_model_passes(cli, tmp_path, keys) -> None:
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0])
    r = cli("verify", str(model), "--key", str(keys[0].public))
    assert r.code == 0, r.out + r.err
    assert r.out.startswith(f"verified {model}: signed by key release.pub (sha256:")
    assert "no unsafe serialization in 4 file(s)" in r.out


def test_each_problem_is_one_line_and_exit_1(cli, tmp_path, keys) -> None:
    model = model_dir(tmp_path)
    (model / "head.pkl").write_bytes(GLOBAL_OS_SYSTEM)
    sign_with_key(model, keys[0])  # signed, and still unsafe: a signature vouches for origin only
    (model / "config.json").write_text("{}")
    r = cli("verify", str(model), "--key", str(keys[0].public))
    assert r.code == 1
    assert r.out.splitlines() == [
        "FAIL signature model.sig: verification failed: files do not match the signature: "
        "changed: config.json",
        "FAIL head.pkl imports os.system (runs operating-system commands or touches files) "
        "when loaded",
        f"2 problem(s): {model} must not be deployed",
    ]


def test_unsigned_model_fails(cli, tmp_path, keys) -> None:
    r = cli("verify", str(model_dir(tmp_path)), "--key", str(keys[0].public))
    assert r.code == 1
    assert "FAIL signature: no signature found" in r.out


def test_wrong_key_fails(cli, tmp_path, keys) -> None:
    model = model_dir(tmp_path)
    sign_with_key(model, keys[1])
    r = cli("verify", str(model), "--key", str(keys[0].public))
    assert r.code == 1 and "not signed by the trusted key release.pub" in r.out


def test_json_output(cli, tmp_path, keys) -> None:
    model = model_dir(tmp_path)
    (model / "weights.pkl").write_bytes(pickle.dumps({"w": [1.0]}, protocol=4))
    sign_with_key(model, keys[0])
    r = cli("verify", str(model), "--key", str(keys[0].public), "--json")
    assert r.code == 0, r.out
    doc = json.loads(r.out)
    assert doc["passed"] is True and doc["exit_code"] == 0 and doc["problems"] == []
    assert doc["signature"]["verified"] is True and doc["signature"]["kind"] == "model-signing"
    assert doc["serialization"] == {"unsafe": [], "lambda_layers": []}
    assert {m["path"] for m in doc["signature"]["manifest"]} >= {"weights.pkl", "config.json"}


def test_single_file(cli, tmp_path, keys) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(GLOBAL_OS_SYSTEM)
    sign_with_key(model, keys[0])
    r = cli("verify", str(model), "--key", str(keys[0].public), "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["signature"]["verified"] is True
    assert [u["global"] for u in doc["serialization"]["unsafe"]] == ["os.system"]


def test_certificate_chain_from_config(cli, tmp_path) -> None:
    ca = pki(tmp_path / "pki")
    model = model_dir(tmp_path / "models")
    sign_with_certificate(model, ca)
    config = write(
        tmp_path / "ci" / "modelward.yaml",
        f"""
        integrity:
          trust:
            certificate_chains:
              - {{path: ../pki/{ca.root_ca.name}, identity: release@acme.test}}
        """,
    )
    r = cli("verify", str(model), "-c", str(config))
    assert r.code == 0, r.out + r.err
    assert "signed by release@acme.test" in r.out


def test_per_model_trust_replaces_the_global_one(cli, tmp_path, keys) -> None:
    model = model_dir(tmp_path / "models", "fraud")
    sign_with_key(model, keys[0])
    config = write(
        tmp_path / "modelward.yaml",
        f"""
        integrity:
          trust:
            keys: [{keys[0].public}]
            models:
              - match: "*/models/fraud"
                keys: [{keys[1].public}]
        """,
    )
    r = cli("verify", str(model), "-c", str(config))
    assert r.code == 1 and "not signed by the trusted key attacker.pub" in r.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no trust given"),
        (["--identity", "a@b"], "--identity needs --issuer and --trust-root"),
        (["--issuer", "https://x"], "--issuer and --trust-root go with --identity"),
        (["--key", "missing.pub"], "command line.keys[0]: no such file"),
    ],
)
def test_usage_errors_exit_2(cli, tmp_path, args, message) -> None:
    model = model_dir(tmp_path)
    r = cli("verify", str(model), *args, cwd=tmp_path)
    assert r.code == 2 and message in r.err


def test_missing_model_and_other_schemes_are_exit_2(cli, tmp_path, keys) -> None:
    r = cli("verify", str(tmp_path / "nope"), "--key", str(keys[0].public))
    assert r.code == 2 and "no such file or directory" in r.err
    r = cli("verify", "gs://bucket/models/fraud", "--key", str(keys[0].public))
    assert r.code == 2 and "only local paths" in r.err  # s3:// is tested against moto


def test_config_trust_file_missing_is_a_config_error(cli, tmp_path) -> None:
    config = write(tmp_path / "modelward.yaml", "integrity: {trust: {keys: [nope.pub]}}\n")
    r = cli("verify", str(model_dir(tmp_path)), "-c", str(config))
    assert r.code == 2
    assert f"integrity.trust.keys[0]: no such file: {tmp_path / 'nope.pub'}" in r.err


def test_config_schema_rejects_unknown_trust_keys(cli, tmp_path) -> None:
    config = write(tmp_path / "modelward.yaml", "integrity: {trust: {key: [a.pub]}}\n")
    r = cli("verify", str(model_dir(tmp_path)), "-c", str(config))
    assert r.code == 2 and "unknown key 'key'" in r.err


def test_real_process_exit_codes(tmp_path: Path, keys) -> None:
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0])
    assert run_subprocess("verify", str(model), "--key", str(keys[0].public)).code == 0
    (model / "extra.bin").write_bytes(b"x")
    r = run_subprocess("verify", str(model), "--key", str(keys[0].public), "-q")
    assert r.code == 1
    assert r.out == (
        "FAIL signature model.sig: verification failed: files do not match the signature: "
        "added: extra.bin\n"
    )


def test_symlinked_directories_are_a_problem_not_a_blind_spot(cli, tmp_path, keys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(GLOBAL_OS_SYSTEM)
    model = model_dir(tmp_path)
    sign_with_key(model, keys[0])
    (model / "linked").symlink_to(outside, target_is_directory=True)
    r = cli("verify", str(model), "--key", str(keys[0].public))
    assert r.code == 1
    assert "FAIL linked: symlinked directory, not followed: its files are unchecked" in r.out


def _two_models(root: Path, keys) -> tuple[Path, Path]:
    """Two single-file models, each signed beside itself (FILE.sig), as pre-commit sees them:
    a clean pickle and one that runs os.system when loaded."""
    good = root / "good.pkl"
    good.write_bytes(pickle.dumps({"w": [1.0]}, protocol=4))
    bad = root / "bad.pkl"
    bad.write_bytes(GLOBAL_OS_SYSTEM)
    for model in (good, bad):
        sign_with_key(model, keys[0])
    return good, bad


def test_several_models_in_a_real_process_exit_with_the_worst(tmp_path, keys) -> None:
    good, bad = _two_models(tmp_path, keys)
    r = run_subprocess("verify", "--key", str(keys[0].public), str(good), str(bad))
    assert r.code == 1, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith(f"verified {good}: signed by key release.pub (sha256:")
    assert lines[1:] == [
        f"FAIL {bad}: bad.pkl imports os.system (runs operating-system commands or touches "
        "files) when loaded",
        f"1 problem(s): {bad} must not be deployed",
    ]
    both_good = run_subprocess("verify", "--key", str(keys[0].public), str(good), str(good))
    assert both_good.code == 0, both_good.out + both_good.err
    assert both_good.out.count(f"verified {good}") == 2


def test_the_pre_commit_hook_passes_every_staged_model(tmp_path, keys) -> None:
    """What pre-commit runs: the hook's entry, its args, then the staged files."""
    hook = next(
        h
        for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
        if h["id"] == "modelward-verify"
    )
    assert hook["pass_filenames"] is True
    good, bad = _two_models(tmp_path, keys)
    staged = [
        str(p)
        for p in (good, bad, good.with_name("good.pkl.sig"))
        if re.search(hook["files"], str(p))
    ]
    assert staged == [str(good), str(bad)]
    entry = hook["entry"].split()
    assert entry[:2] == ["modelward", "verify"]
    r = run_subprocess(*entry[1:], "--key", str(keys[0].public), "-q", *staged)
    assert r.code == 1
    assert r.out.splitlines() == [
        f"FAIL {bad}: bad.pkl imports os.system (runs operating-system commands or touches "
        "files) when loaded"
    ]


def test_several_models_as_json_are_a_list(cli, tmp_path, keys) -> None:
    good, bad = _two_models(tmp_path, keys)
    r = cli("verify", str(good), str(bad), "--key", str(keys[0].public), "--json")
    assert r.code == 1
    docs = json.loads(r.out)
    assert [(d["model"], d["passed"], d["exit_code"]) for d in docs] == [
        (str(good), True, 0),
        (str(bad), False, 1),
    ]
    single = json.loads(cli("verify", str(good), "--key", str(keys[0].public), "--json").out)
    assert single == docs[0]  # one model: the object itself, as before


def test_several_models_usage_errors_come_before_any_verification(cli, tmp_path, keys) -> None:
    good, _ = _two_models(tmp_path, keys)
    r = cli("verify", str(good), str(tmp_path / "nope.pkl"), "--key", str(keys[0].public))
    assert r.code == 2 and r.out == ""
    assert f"{tmp_path / 'nope.pkl'}: no such file or directory" in r.err
    r = cli("verify", str(good), str(good), "--key", str(keys[0].public), "--signature", "x.sig")
    assert r.code == 2 and "--signature names one model's signature" in r.err


def test_several_models_each_get_their_trust_from_the_config(cli, tmp_path, keys) -> None:
    fraud = model_dir(tmp_path / "models", "fraud")
    churn = model_dir(tmp_path / "models", "churn")
    sign_with_key(fraud, keys[1])
    sign_with_key(churn, keys[0])
    config = write(
        tmp_path / "modelward.yaml",
        f"""
        integrity:
          trust:
            keys: [{keys[0].public}]
            models:
              - match: "*/models/fraud"
                keys: [{keys[1].public}]
        """,
    )
    r = cli("verify", str(fraud), str(churn), "-c", str(config))
    assert r.code == 0, r.out + r.err
    assert "signed by key attacker.pub" in r.out and "signed by key release.pub" in r.out
    only_fraud = write(
        tmp_path / "only-fraud.yaml",
        f"""
        integrity:
          trust:
            models:
              - match: "*/models/fraud"
                keys: [{keys[1].public}]
        """,
    )
    r = cli("verify", str(fraud), str(churn), "-c", str(only_fraud))
    assert r.code == 2 and f"no trust given for {churn}" in r.err


# --- --serialization-only: the gate on code in model files, for teams that do not sign yet ---


def test_serialization_only_passes_a_clean_unsigned_model(tmp_path) -> None:
    model = model_dir(tmp_path)
    r = run_subprocess("verify", str(model), "--serialization-only", cwd=tmp_path)
    assert r.code == 0, r.out + r.err
    assert r.out.strip() == (
        f"verified {model}: signature not checked; no unsafe serialization in 3 file(s)"
    )


def test_serialization_only_fails_a_malicious_file_naming_the_global(tmp_path) -> None:
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_System("id"), protocol=4))
    r = run_subprocess("verify", str(evil), "--serialization-only", cwd=tmp_path)
    assert r.code == 1, r.out + r.err
    assert r.out.splitlines() == [
        "FAIL evil.pkl imports posix.system (runs operating-system commands or touches files) "
        "when loaded",
        f"1 problem(s): {evil} must not be deployed",
    ]


def test_serialization_only_json_has_no_signature_block(tmp_path) -> None:
    model = model_dir(tmp_path)
    (model / "extra.bin").write_bytes(GLOBAL_OS_SYSTEM)
    r = run_subprocess("verify", str(model), "--serialization-only", "--json", cwd=tmp_path)
    doc = json.loads(r.out)
    assert r.code == 1 and doc["signature"] is None and not doc["passed"]
    assert doc["serialization"]["unsafe"][0]["risk"].startswith("runs operating-system")


def test_serialization_only_refuses_trust_flags(cli, tmp_path, keys) -> None:
    r = cli(
        "verify", str(model_dir(tmp_path)), "--serialization-only", "--key", str(keys[0].public)
    )
    assert r.code == 2 and "--serialization-only checks no signature" in r.err


class _System:
    """Pickles as os.system(cmd) (posix.system on Linux); never unpickled here."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (self.cmd,)
