"""`modelward scan` end to end: real files on disk, exit codes, messages, results.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import (
    load_results,
    pickle_model,
    policy_pack,
    run_subprocess,
    safe_model,
    write,
)


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return policy_pack(tmp_path / "pack")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    safe_model(root, "clean")
    return root


def scan_process(
    pack: Path,
    root: Path,
    out: Path | None = None,
    skip_gov: bool = True,
    extra: tuple[str, ...] = (),
    unprivileged: bool = False,
):
    """The scan in a real process (file modes, TTY-less streams, escapes on the wire)."""
    args = ["scan", "--no-builtin-policies", "--source", f"path:{root}", "--policies", str(pack)]
    args += ["--skip-policy", "T-GOV-*"] if skip_gov else []
    args += ["-o", str(out)] if out is not None else []
    return run_subprocess(*args, *extra, unprivileged=unprivileged)


def scan(cli, *args: str):
    return cli("scan", "--no-builtin-policies", *args)


def test_clean_estate_passes_and_writes_valid_results(cli, pack: Path, models: Path, tmp_path):
    out = tmp_path / "out"
    r = scan(
        cli,
        "--source",
        f"path:{models}",
        "--policies",
        str(pack),
        "-o",
        str(out),
        "--skip-policy",
        "T-GOV-01",
    )
    assert r.code == 0, r.err
    doc = load_results(out)
    statuses = {(f["policy_id"], f["resource_name"]): f["status"] for f in doc["findings"]}
    assert statuses == {("T-ART-01", "clean"): "pass", ("T-ART-02", "clean"): "pass"}
    assert doc["gate"] == {
        "fail_on": "high",
        "allow_partial": False,
        "soft_fail": False,
        "hard_fail_on": [],
        "soft_fail_on": [],
        "exit_code": 0,
        "passed": True,
        "reasons": [],
        "notes": [],
        "counts": {"hard": 0, "soft": 0, "waived": 0, "baselined": 0},
        "decisions": [],
    }
    assert doc["scan"]["sources"][0] == {
        "name": f"path:{models}",
        "type": "path",
        "status": "ok",
        "error": None,
        "resource_count": 1,
    }
    assert doc["scan"]["policy_pack"]["count"] == 2
    assert "gate (fail-on high)" in r.out


def test_missing_evidence_at_threshold_fails_the_gate(cli, pack, models, tmp_path):
    r = scan(cli, "--source", f"path:{models}", "--policies", str(pack), "--fail-on", "high")
    # T-GOV-01 is high and no attestation exists: exit 1, and the reason names it.
    assert r.code == 1
    assert "T-GOV-01" in r.out
    assert "No threat model attestation" in r.out


def test_critical_finding_exits_1_and_threshold_controls_it(cli, pack, tmp_path):
    root = tmp_path / "m"
    pickle_model(root)
    evidence = write(
        tmp_path / "ev.yaml",
        """
        - kind: threat_model
          statement: Model theft and extraction are in scope
          evidence_uri: https://wiki.example/tm
          owner: security
          date: 2026-06-01
    """,
    )
    common = [
        "--source",
        f"path:{root}",
        "--source",
        f"attestations:{evidence}",
        "--policies",
        str(pack),
        "--as-of",
        "2026-07-01",
    ]
    r = scan(cli, *common)
    assert r.code == 1
    assert "T-ART-01" in r.out and "`serialization.pickle_based` is true, and must not be" in r.out
    assert scan(cli, *common, "--fail-on", "none").code == 0
    assert scan(cli, *common, "--skip-policy", "T-ART-01").code == 0
    assert scan(cli, *common, "--policy", "low").code == 0


def test_param_override_changes_the_verdict(cli, pack, models, tmp_path):
    out = tmp_path / "out"
    r = scan(
        cli,
        "--source",
        f"path:{models}",
        "--policies",
        str(pack),
        "--fail-on",
        "low",
        "--skip-policy",
        "T-GOV-*",
        "--param",
        "T-ART-02.max_files=1",
        "-o",
        str(out),
    )
    assert r.code == 1
    doc = load_results(out)
    f = next(f for f in doc["findings"] if f["policy_id"] == "T-ART-02")
    assert f["status"] == "fail"
    assert f["message"] == f"{f['resource_name']}: `file_count` is 2, more than the 1 allowed"
    assert doc["scan"]["params"] == {"T-ART-02": {"max_files": 1}}


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("nope.max_files=1", "param override for unknown policy 'nope'"),
        ("T-ART-02.max_filez=1", "policy T-ART-02 has no param 'max_filez' (declared: max_files)"),
        ("T-ART-02.max_files=many", "param T-ART-02.max_files='many': 'at_most' takes a number"),
        ("max_files", "is not KEY=VALUE"),
    ],
)
def test_bad_param_is_a_usage_error(cli, pack, models, flag, message):
    r = scan(cli, "--source", f"path:{models}", "--policies", str(pack), "--param", flag)
    assert r.code == 2
    assert message in r.err


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("path:./nope", "{root}/nope: no such file or directory"),
        ("attestations:./nope.yaml", "{root}/nope.yaml: no such file or directory"),
        ("logs:./nope", "{root}/nope: no such file or directory"),
        ("logs:./nope/*.jsonl", "no file matches {root}/nope/*.jsonl"),
        ("access-logs:./nope", "{root}/nope: no such file or directory"),
        ("access-logs:./nope/*.json.gz", "no file matches {root}/nope/*.json.gz"),
        ("oci-layout:./nope", "{root}/nope: no such file or directory"),
        ("docker-archive:./nope.tar", "{root}/nope.tar: no such file or directory"),
    ],
)
def test_a_missing_local_path_is_one_line_and_exit_2_before_any_source(
    cli, pack, models, tmp_path, spec, problem
):
    out = tmp_path / "out"
    r = cli(
        "scan",
        "--source",
        f"path:{models}",  # a good source first: it must not be read
        "--source",
        spec,
        "--policies",
        str(pack),
        "-o",
        str(out),
        "--allow-partial",
        cwd=tmp_path,
    )
    assert r.code == 2
    assert r.err.splitlines() == [
        f"modelward: error: source '{spec}': {problem.format(root=tmp_path)}"
    ]
    assert r.out == ""
    assert not out.exists()


def test_a_missing_path_in_the_config_names_the_source(cli, tmp_path):
    write(
        tmp_path / "modelward.yaml",
        """
        version: 1
        sources:
          - {spec: "path:models", name: team-models}
        """,
    )
    r = cli("scan", "-c", str(tmp_path / "modelward.yaml"))
    assert r.code == 2
    assert r.err.strip() == (
        f"modelward: error: source 'team-models': {tmp_path / 'models'}: no such file or directory"
    )


def test_a_path_that_vanishes_during_the_scan_is_a_failed_source(cli, pack, tmp_path):
    """Past the up-front check, a path that cannot be read fails the source (exit 3) and the
    results keep the record, as for any source."""
    out = tmp_path / "out"
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    lonely.chmod(0)
    try:
        r = run_subprocess(
            "scan",
            "--source",
            f"path:{lonely}",
            "--no-builtin-policies",
            "--policies",
            str(pack),
            "-o",
            str(out),
            "--skip-policy",
            "T-GOV-*",
            unprivileged=True,
        )
    finally:
        lonely.chmod(0o755)
    assert r.code == 3, r.err
    source = load_results(out)["scan"]["sources"][0]
    assert source["status"] == "error"
    assert str(lonely) in source["error"]


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("gcs:bucket", 2, "expected KEY=VALUE options separated by commas"),
        ("gcs:buckets=models", 2, "project=ID is required"),
        ("vertex:project=my-project", 2, "location=REGION is required"),
        ("azure:acct", 2, "expected KEY=VALUE options separated by commas"),
        ("azure:account=Acct_1", 2, "'Acct_1' (account) is not a storage account name"),
        ("azure:subscription=x", 2, "'x' is not a subscription id"),
        ("aws:regions", 2, "expected KEY=VALUE options separated by commas"),
        ("path:", 2, "source spec 'path:' is not KIND:TARGET"),
        (
            "ftp:somewhere",
            2,
            "unknown source type 'ftp' (available: access-logs, attestations, aws, azure, "
            "docker-archive, gcs, logs, mlflow, oci, oci-layout, path, vertex)",
        ),
        ("nocolon", 2, "is not KIND:TARGET"),
    ],
)
def test_bad_source_specs(cli, pack, spec, code, message):
    r = scan(cli, "--source", spec, "--policies", str(pack))
    assert r.code == code
    assert message in r.err


def test_no_sources_is_a_usage_error(cli, tmp_path):
    r = cli("scan", cwd=tmp_path)
    assert r.code == 2
    assert "no sources" in r.err


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("json,bogus", "unknown output format 'bogus'"),
        ("xml", "unknown output format 'xml'"),
    ],
)
def test_unavailable_formats_are_refused_before_scanning(cli, pack, models, tmp_path, fmt, message):
    out = tmp_path / "out"
    r = scan(
        cli, "--source", f"path:{models}", "--policies", str(pack), "-o", str(out), "--format", fmt
    )
    assert r.code == 2
    assert message in r.err
    assert not out.exists()


def test_output_dir_that_cannot_be_created(cli, pack, models, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = scan(cli, "--source", f"path:{models}", "--policies", str(pack), "-o", str(blocker / "out"))
    assert r.code == 2
    assert f"cannot write output directory '{blocker / 'out'}'" in r.err


def test_output_dir_without_write_permission(pack, models, tmp_path):
    """Without the right to write: a clear exit 2 before scanning, nothing written."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    r = scan_process(pack, models, out=locked, skip_gov=False, unprivileged=True)
    assert r.code == 2, r.err
    assert f"cannot write output directory '{locked}': Permission denied" in r.err
    assert "collecting" not in r.err
    assert list(locked.iterdir()) == []


def test_failed_run_leaves_previous_results_untouched(cli, pack, models, tmp_path):
    out = tmp_path / "out"
    assert (
        scan(
            cli,
            "--source",
            f"path:{models}",
            "--policies",
            str(pack),
            "-o",
            str(out),
            "--fail-on",
            "none",
        ).code
        == 0
    )
    before = (out / "results.json").read_bytes()
    write(pack / "broken.yaml", "id: [unclosed\n")
    r = scan(cli, "--source", f"path:{models}", "--policies", str(pack), "-o", str(out))
    assert r.code == 2
    assert (out / "results.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]


def test_results_are_deterministic(cli, pack, tmp_path):
    root = tmp_path / "m"
    safe_model(root, "a")
    pickle_model(root, "b")
    docs = []
    for i in range(2):
        out = tmp_path / f"out{i}"
        scan(cli, "--source", f"path:{root}", "--policies", str(pack), "-o", str(out))
        doc = json.loads((out / "results.json").read_text())
        for key in ("id", "started_at", "finished_at", "as_of"):  # as_of: now, to the second
            doc["scan"].pop(key)
        docs.append(json.dumps(doc, sort_keys=True))
    assert docs[0] == docs[1]


def test_config_file_drives_the_scan(cli, pack, models, tmp_path):
    cfg = write(
        tmp_path / "ci" / "modelward.yaml",
        """
        version: 1
        sources:
          - path:../models
        policies:
          builtin: false
          dirs: [../pack]
          exclude: [T-GOV-*]
        params:
          T-ART-02: {max_files: 1}
        output:
          dir: ../out
        gate:
          fail_on: low
    """,
    )
    assert (tmp_path / "models").exists() and (tmp_path / "pack").exists() and pack and models
    r = cli("scan", "-c", str(cfg), cwd=Path("/"))
    assert r.code == 1, r.err
    doc = load_results(tmp_path / "out")
    assert doc["gate"]["fail_on"] == "low"
    assert doc["scan"]["params"] == {"T-ART-02": {"max_files": 1}}
    # Flags override the config.
    assert cli("scan", "-c", str(cfg), "--fail-on", "critical").code == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: [path:.\n", "modelward.yaml:2:1: YAML syntax error: expected ',' or ']'"),
        ("gate:\n  fail_on: hihg\n", "modelward.yaml:2:3: gate/fail_on: 'hihg' is not one of"),
        ("sources: [path:.]\nsourcse: []\n", "modelward.yaml:2:1: unknown key 'sourcse'"),
        ("- just\n- a list\n", "modelward.yaml:1:1: the config file must be a mapping"),
    ],
)
def test_bad_config_is_exit_2_with_position(cli, tmp_path, text, message):
    write(tmp_path / "modelward.yaml", text)
    r = cli("scan", cwd=tmp_path)
    assert r.code == 2
    assert message in r.err


def test_missing_explicit_config(cli, tmp_path):
    r = cli("scan", "-c", str(tmp_path / "nope.yaml"))
    assert r.code == 2
    assert "config file not found" in r.err


def test_hostile_strings_do_not_reach_the_terminal_raw(pack, tmp_path):
    """A directory name carrying ANSI/OSC escapes and rich markup is shown inert."""
    root = tmp_path / "m"
    hostile = "evil\x1b[31m\x1b]0;pwned\x07[bold red]x[/]"
    pickle_model(root, hostile)
    out = tmp_path / "out"
    r = scan_process(pack, root, out=out)
    assert r.code == 1
    for stream in (r.out, r.err):
        assert "\x1b" not in stream and "\x07" not in stream
    assert "evil\\x1b[31m" in r.out  # shown escaped, not interpreted
    assert "[bold red]x[/]" in r.out  # markup printed as text
    names = {f["resource_name"] for f in load_results(out)["findings"]}
    assert hostile in names  # the data itself is kept verbatim


def test_quiet_prints_only_the_gate_reasons(cli, pack, tmp_path):
    root = tmp_path / "m"
    pickle_model(root)
    r = scan(
        cli, "-q", "--source", f"path:{root}", "--policies", str(pack), "--skip-policy", "T-GOV-*"
    )
    assert r.code == 1
    assert r.out == ""
    assert "T-ART-01" in r.err and "collecting" not in r.err


# Bad model trees: the scan keeps what it could read, names the problem, and exits 3.


def _scan_tree(cli, pack: Path, root: Path, tmp_path: Path, *extra: str):
    out = tmp_path / "out"
    r = scan(
        cli,
        "--source",
        f"path:{root}",
        "--policies",
        str(pack),
        "-o",
        str(out),
        "--skip-policy",
        "T-GOV-*",
        *extra,
    )
    return r, load_results(out)


def test_symlink_loop_is_reported_and_exits_3(cli, pack, tmp_path):
    root = tmp_path / "m"
    safe_model(root, "good")
    (root / "good" / "loop").symlink_to(root)
    (root / "self").symlink_to(root / "self")
    r, doc = _scan_tree(cli, pack, root, tmp_path)
    assert r.code == 3
    problems = doc["scan"]["sources"][0]["problems"]
    assert any("good/loop: symlink loop" in p for p in problems), problems
    assert any("self: symlink loop" in p for p in problems), problems
    assert [x["name"] for x in doc["resources"]] == ["good"]  # nothing lost
    assert "symlink loop" in r.out


@pytest.mark.parametrize(
    ("name", "content", "reason", "no_pickle"),
    [
        # Format unknown: whether it holds a pickle cannot be told, so never "pass".
        ("model.safetensors", b"", "empty file (0 bytes)", "error"),
        ("model.pt", b"PK\x03\x04garbage", "truncated or corrupt zip archive", "error"),
        # Format known but content cut: the format verdict stands, the source still fails.
        ("model.safetensors", b"\xff\x00\x00\x00\x00\x00\x00\x00{", "truncated", "pass"),
        ("model.pkl", b"\x80\x04\x95\x10\x00\x00", "truncated", "fail"),
    ],
)
def test_empty_or_truncated_model_file_exits_3(
    cli, pack, tmp_path, name, content, reason, no_pickle
):
    root = tmp_path / "m"
    (root / "bad").mkdir(parents=True)
    (root / "bad" / name).write_bytes(content)
    r, doc = _scan_tree(cli, pack, root, tmp_path, "--allow-partial")
    # The broken file is a source problem, and whatever depends on it cannot pass.
    problems = doc["scan"]["sources"][0]["problems"]
    assert any(f"bad/{name}: " in p and reason in p for p in problems), problems
    statuses = {f["policy_id"]: f["status"] for f in doc["findings"]}
    assert statuses["T-ART-01"] == no_pickle
    r, doc = _scan_tree(cli, pack, root, tmp_path)
    assert r.code == 3


def test_unreadable_model_file_is_unknown_not_pass(pack, tmp_path):
    root = tmp_path / "m"
    safe_model(root, "locked")
    secret = root / "locked" / "model.pkl"
    secret.write_bytes(b"\x80\x04K\x01.")
    secret.chmod(0o000)
    out = tmp_path / "out"
    r = scan_process(pack, root, out=out, unprivileged=True)
    assert r.code == 3, r.err
    doc = load_results(out)
    problems = doc["scan"]["sources"][0]["problems"]
    assert any("locked/model.pkl" in p and "ermission denied" in p for p in problems), problems
    finding = next(f for f in doc["findings"] if f["policy_id"] == "T-ART-01")
    assert finding["status"] == "error"
    files = doc["resources"][0]["attributes"]["files"]
    entry = next(f for f in files if f["path"] == "model.pkl")
    assert "$unknown" in entry["sha256"]


def test_progress_on_a_terminal_and_plain_lines_otherwise(pack, models, tmp_path):
    """A TTY gets the live display; a pipe (CI) gets one plain line per event."""
    import pty
    import subprocess
    import sys

    from tests.helpers import REPO

    args = [
        sys.executable,
        "-m",
        "scanner",
        "scan",
        "--no-builtin-policies",
        "--source",
        f"path:{models}",
        "--policies",
        str(pack),
        "--skip-policy",
        "T-GOV-*",
    ]
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=child_fd,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"},
    )
    os.close(child_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main_fd)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "✓" in screen and "1 resources" in screen  # rich's display, not the plain lines
    assert "modelward: collecting" not in screen
    plain = scan_process(pack, models, extra=("-v",))
    assert plain.code == 0
    assert f"modelward: collecting path:{models}" in plain.err
    assert "evaluating 2 policies" in plain.err
    assert "\x1b[" not in plain.err


def test_results_record_the_evaluation_date_and_are_world_readable(cli, pack, models, tmp_path):
    out = tmp_path / "out"
    r = scan(
        cli,
        "--source",
        f"path:{models}",
        "--policies",
        str(pack),
        "-o",
        str(out),
        "--as-of",
        "2026-01-31",
    )
    assert r.code in (0, 1)
    doc = load_results(out)
    assert doc["scan"]["as_of"] == "2026-01-31T00:00:00Z"
    old = os.umask(0o022)
    os.umask(old)
    assert (out / "results.json").stat().st_mode & 0o777 == 0o666 & ~old


def test_config_formats_need_an_output_dir(cli, pack, models, tmp_path):
    cfg = write(
        tmp_path / "modelward.yaml",
        f"""
        sources: ["path:{models}"]
        output:
          formats: [json]
    """,
    )
    r = cli("scan", "-c", str(cfg), "--no-builtin-policies", "--policies", str(pack))
    assert r.code == 2
    assert "output.formats needs an output directory" in r.err


def test_flag_params_beat_per_policy_config_params(cli, pack, models, tmp_path):
    cfg = write(
        tmp_path / "modelward.yaml",
        f"""
        sources: ["path:{models}"]
        params:
          T-ART-02: {{max_files: 1}}
    """,
    )
    out = tmp_path / "out"
    base = [
        "scan",
        "-c",
        str(cfg),
        "--no-builtin-policies",
        "--policies",
        str(pack),
        "--skip-policy",
        "T-GOV-*",
        "--fail-on",
        "low",
        "-o",
        str(out),
    ]
    assert cli(*base).code == 1
    assert cli(*base, "--param", "max_files=10").code == 0
    assert load_results(out)["scan"]["params"] == {"T-ART-02": {"max_files": 10}}


def test_unknown_source_option_is_refused(cli, pack, models, tmp_path):
    cfg = write(
        tmp_path / "modelward.yaml",
        f"""
        sources:
          - spec: "path:{models}"
            options: {{hash_worker: 2}}
    """,
    )
    r = cli("scan", "-c", str(cfg), "--no-builtin-policies", "--policies", str(pack))
    assert r.code == 2
    assert (
        "unknown option 'hash_worker' (allowed: follow_links, hash_workers, integrity_max_bytes)"
        in r.err
    )


def test_credentials_in_source_errors_never_reach_results_or_terminal(cli, pack, tmp_path):
    root = tmp_path / "m"
    safe_model(root)
    (root / "clean" / "link.pt").symlink_to("https://user:hunter2@host/x?sig=abc")
    r, _ = _scan_tree(cli, pack, root, tmp_path)
    out = tmp_path / "out"
    assert r.code == 3
    text = (out / "results.json").read_text()
    assert "dangling symlink" in text
    for blob in (text, r.out, r.err):
        assert "hunter2" not in blob and "sig=abc" not in blob
    assert "incomplete: a source failed" in r.out
