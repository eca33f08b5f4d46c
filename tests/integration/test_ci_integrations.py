"""The pipeline integrations in the repository: the composite action (its scan step run for
real), the example workflows, and the pre-commit hooks; every command they call must exist."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scanner.cli import build_parser
from scanner.outputs.registry import WRITERS
from tests.helpers import REPO, pickle_model, policy_pack, safe_model
from tests.signing import key_pair
from tests.unit.test_sarif_writer import sarif_validator

ACTION_DIR = REPO / ".github" / "actions" / "modelward"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def subparser(*names: str):
    """The argparse parser of a command path (`scan`, `policies validate`), or KeyError."""
    parser = build_parser()
    for name in names:
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = sub.choices[name]
    return parser


def parses(argv: list[str]) -> bool:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def test_action_is_a_composite_that_gates_last():
    action = load(ACTION_DIR / "action.yml")
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    scan = next(s for s in steps if s.get("id") == "scan")
    assert scan["run"] == 'bash "$GITHUB_ACTION_PATH/scan.sh"'
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["if"].startswith("always()")
    assert upload["with"]["sarif_file"] == "${{ steps.scan.outputs.upload-sarif }}"
    assert steps[-1]["name"] == "Gate"
    assert steps[-1]["run"] == 'exit "${MW_EXIT:-3}"'
    assert set(action["outputs"]) == {"exit-code", "results", "sarif", "evidence-pack"}
    # inputs reach shells through env only: `${{ inputs.x }}` inside `run:` is script injection
    for step in steps:
        assert "${{" not in step.get("run", ""), step


def test_action_inputs_are_all_used():
    action = load(ACTION_DIR / "action.yml")
    text = (ACTION_DIR / "action.yml").read_text()
    for name in action["inputs"]:
        assert f"inputs.{name}" in text, name


def test_scan_script_only_uses_flags_that_exist():
    script = (ACTION_DIR / "scan.sh").read_text()
    calls = {
        "scan": [m.group(1) for m in re.finditer(r"args\+?=\((.*)\)", script)],
        "report": [m.group(1) for m in re.finditer(r'"\$\{mw\[@\]\}" report (.*)', script)],
    }
    assert len(calls["scan"]) == 8 and len(calls["report"]) == 1
    for command, parts in calls.items():
        known = {o for a in subparser(command)._actions for o in a.option_strings}
        used = {f for part in parts for f in re.findall(r"(?:^|\s)(--?[a-z][a-z-]*)", part)}
        assert used and used <= known, (command, used - known)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    policy_pack(tmp_path / "pack")
    safe_model(tmp_path / "models", "clean")
    return tmp_path


def run_scan_step(workspace: Path, **env: str) -> tuple[int, dict[str, str], str]:
    """Run scan.sh as the runner would, with modelward from this checkout."""
    outputs = workspace / "github_output"
    summary = workspace / "step_summary"
    outputs.write_text("")
    summary.write_text("")
    proc = subprocess.run(
        ["bash", str(ACTION_DIR / "scan.sh")],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "MODELWARD_BIN": f"{sys.executable} -m scanner",
            "MW_PYTHON": sys.executable,
            "RUNNER_TEMP": str(workspace),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            "MW_ARGS": "--no-builtin-policies --policies pack --skip-policy T-GOV-* "
            "--source path:models",
            **env,
        },
    )
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return proc.returncode, values, summary.read_text()


def test_scan_step_passing(workspace):
    code, outputs, summary = run_scan_step(workspace)
    assert code == 0  # the step itself never fails: the Gate step does
    upload = outputs.pop("upload-sarif")
    assert outputs == {
        "exit-code": "0",
        "results": "modelward-results/results.json",
        "sarif": "modelward-results/results.sarif",
    }
    assert not list(sarif_validator().iter_errors(json.loads(Path(upload).read_text())))
    sarif = json.loads((workspace / outputs["sarif"]).read_text())
    assert not list(sarif_validator().iter_errors(sarif))
    assert (workspace / "modelward-results" / "results.junit.xml").is_file()
    if "md" in WRITERS:  # the Markdown report, once this modelward has it
        assert summary.strip() and "the gate passed." not in summary
    else:
        assert "modelward scan: the gate passed." in summary


def test_scan_step_failing_still_reports(workspace):
    pickle_model(workspace / "models", "legacy")
    code, outputs, summary = run_scan_step(
        workspace, MW_OUTPUT_DIR="out dir", MW_FAIL_ON="critical"
    )
    assert code == 0
    assert outputs["exit-code"] == "1"
    assert outputs["sarif"] == "out dir/results.sarif"  # a path with a space survives
    sarif = json.loads((workspace / "out dir" / "results.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["T-ART-01"]
    if "md" not in WRITERS:
        assert "the gate failed: findings at or above the threshold (exit 1)" in summary


def test_scan_step_with_waivers_uploads_without_suppressed_results(workspace):
    """GitHub opens an alert for a suppressed SARIF result, so the upload leaves waived ones
    out; results.sarif keeps them (every output shows waived findings)."""
    pickle_model(workspace / "models", "legacy")
    (workspace / "w.yaml").write_text(
        "waivers:\n  - {policy: T-ART-01, resource: legacy, justification: j, approved_by: a,"
        " expires: 2099-01-01}\n"
    )
    _, outputs, _ = run_scan_step(
        workspace, MW_WAIVERS="w.yaml", MW_ARGS="--no-builtin-policies --policies pack "
        "--skip-policy T-GOV-* --source path:models --as-of 2098-06-01",
    )  # fmt: skip
    assert outputs["exit-code"] == "0"
    kept = json.loads((workspace / outputs["sarif"]).read_text())["runs"][0]["results"]
    assert [r["properties"]["status"] for r in kept] == ["waived"]
    uploaded = json.loads(Path(outputs["upload-sarif"]).read_text())
    assert uploaded["runs"][0]["results"] == []
    assert (
        uploaded["runs"][0]["tool"]
        == json.loads((workspace / outputs["sarif"]).read_text())["runs"][0]["tool"]
    )


def test_scan_step_usage_error(workspace):
    code, outputs, summary = run_scan_step(workspace, MW_ARGS="--source nope")
    assert code == 0
    assert outputs == {"exit-code": "2"}  # no results, no SARIF to upload
    assert "the scan did not run: usage, config or input error (exit 2)" in summary


def test_scan_step_writes_a_signed_evidence_pack(workspace, cli):
    keys = key_pair(workspace / "keys")
    code, outputs, _ = run_scan_step(
        workspace,
        MW_EVIDENCE_PACK="modelward-results/evidence-pack.zip",
        MW_EVIDENCE_KEY=str(keys.private),
    )
    assert code == 0 and outputs["exit-code"] == "0"
    assert outputs["evidence-pack"] == "modelward-results/evidence-pack.zip"
    r = cli("evidence", "verify", str(workspace / outputs["evidence-pack"]), "--key",
            str(keys.public))  # fmt: skip
    assert r.code == 0, r.out


def test_scan_step_signs_keyless_by_default_and_stops_without_an_oidc_token(workspace):
    """Without a key the pack is signed by the workflow's OIDC identity; a job without one
    (no `id-token: write`) stops before scanning, with the reason in the log."""
    env = {
        name: ""
        for name in os.environ
        if name.startswith(
            ("ACTIONS_ID_TOKEN", "SIGSTORE_", "GITLAB", "BUILDKITE", "CIRCLE", "GOOGLE_")
        )
    }
    code, outputs, summary = run_scan_step(
        workspace, MW_EVIDENCE_PACK="modelward-results/evidence-pack.zip", **env
    )
    assert code == 0
    assert outputs == {"exit-code": "2"}
    assert "the scan did not run: usage, config or input error (exit 2)" in summary
    assert not (workspace / "modelward-results" / "evidence-pack.zip").exists()


def test_example_github_workflow_uses_the_action():
    workflow = load(REPO / "docs" / "ci" / "github-actions.yml")
    assert workflow["permissions"]["security-events"] == "write"
    # keyless signing of the evidence pack with the workflow's identity
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["model-compliance"]["steps"]
    step = next(s for s in steps if s.get("id") == "modelward")
    path = step["uses"].split("/", 2)[2].split("@")[0]
    assert (REPO / path / "action.yml").is_file()
    inputs = load(ACTION_DIR / "action.yml")["inputs"]
    assert set(step["with"]) <= set(inputs)
    args = shlex.split(step["with"]["args"])
    assert parses(["scan", *args, "--fail-on", step["with"]["fail-on"]])
    # the signed pack lands inside what the next step keeps as a build artefact
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert step["with"]["evidence-pack"].startswith(upload["with"]["path"])


def test_example_gitlab_job_commands_parse():
    jobs = load(REPO / "docs" / "ci" / "gitlab-ci.yml")
    commands = [
        line for job in jobs.values() for line in job["script"] if line.startswith("modelward ")
    ]
    assert len(commands) == 3
    for line in commands:
        assert parses(shlex.split(line)[1:]), line
    assert jobs["modelward"]["artifacts"]["reports"]["junit"].endswith("results.junit.xml")
    # keyless: the job's OIDC token under the name Sigstore clients read, audience sigstore
    assert jobs["modelward"]["id_tokens"]["SIGSTORE_ID_TOKEN"]["aud"] == "sigstore"
    scan = shlex.split(jobs["modelward"]["script"][1])
    pack = scan[scan.index("--evidence-pack") + 1]
    assert "--evidence-keyless" in scan
    assert any(pack.startswith(p) for p in jobs["modelward"]["artifacts"]["paths"])
    # the auditor's side pins the identity that must have signed it
    verify = shlex.split(jobs["modelward-evidence-verify"]["script"][1])
    assert verify[:4] == ["modelward", "evidence", "verify", pack]
    assert verify[verify.index("--issuer") + 1] == "https://gitlab.com"
    assert verify[verify.index("--identity") + 1].startswith("https://gitlab.com/")


def test_pre_commit_hooks_call_existing_commands(cli, tmp_path):
    hooks = {h["id"]: h for h in load(REPO / ".pre-commit-hooks.yaml")}
    assert set(hooks) == {"modelward-policies-validate", "modelward-verify"}
    for hook in hooks.values():
        entry = hook["entry"].split()
        assert entry[0] == "modelward"
        subparser(*entry[1:])  # the command exists (KeyError otherwise)
        assert hook["language"] == "python"
        re.compile(hook["files"])
    # pass_filenames: pre-commit appends the changed files; validate takes several
    validate = hooks["modelward-policies-validate"]
    pack = policy_pack(tmp_path / "pack")
    files = sorted(str(p) for p in pack.glob("*.yaml") if re.search(validate["files"], str(p)))
    assert not any(re.search(validate["exclude"], f) for f in files)
    r = cli(*validate["entry"].split()[1:], *files)
    assert r.code == 0, r.err
    assert f"{len(files)} policies valid" in r.out
    assert re.search(validate["exclude"], "pack/few_files_test.yaml")
    assert re.search(hooks["modelward-verify"]["files"], "models/fraud/model.safetensors")
