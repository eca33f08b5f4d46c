"""Builders for test estates: model directories, policy packs, evidence files."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from scanner import results

REPO = Path(__file__).resolve().parents[1]
# Node tools the tests use, pinned by requirements/npm/package-lock.json (`make install`).
NODE_TOOLS = REPO / "requirements" / "npm" / "node_modules"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


# Tests run as root in CI, and root reads and writes through any file mode. To test
# "permission denied" for real, drop the two capabilities that bypass file modes; the process
# stays uid 0 (so the interpreter under /root stays reachable) but file modes now apply.
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def run_subprocess(
    *args: str,
    cwd: Path | None = None,
    unprivileged: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run modelward in a real process (exit codes, TTY-less output, file permissions)."""
    prefix = UNPRIVILEGED if unprivileged and os.geteuid() == 0 else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "scanner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


POLICIES = {
    "no_pickle.yaml": """
        id: T-ART-01
        title: Artefacts hold no pickle-based files
        severity: critical
        maturity: applied
        resource: artefact
        check:
          field: serialization.pickle_based
          equals: false
        remediation: Convert the weights to safetensors.
    """,
    "few_files.yaml": """
        id: T-ART-02
        title: Artefacts are small
        severity: low
        maturity: advanced
        resource: artefact
        check:
          field: file_count
          at_most: {param: max_files}
        params:
          max_files: 3
    """,
    "threat_model.yaml": """
        id: T-GOV-01
        title: A current threat model exists
        severity: high
        maturity: advanced
        resource: attestation
        scope: {field: kind, equals: threat_model}
        require_in_scope:
          message: No threat model attestation (kind threat_model, reviewed within 365 days)
        check:
          field: date
          within_days: 365
    """,
}


def policy_pack(root: Path) -> Path:
    for name, text in POLICIES.items():
        write(root / name, text)
    return root


def safetensors_bytes(payload: bytes = b"\x00" * 16) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, len(payload)]}})
    blob = header.encode()
    return struct.pack("<Q", len(blob)) + blob + payload


def safe_model(root: Path, name: str = "clean") -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.safetensors").write_bytes(safetensors_bytes())
    (d / "config.json").write_text('{"arch": "mlp"}')
    return d


def pickle_model(root: Path, name: str = "legacy") -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    return d


def load_results(out: Path) -> dict:
    """Read results.json back through the validating loader: every written file must validate."""
    return results.load(out / "results.json")


def make_policy(pid: str, severity: str = "high", **extra: object):
    """A policy as outputs see it (its text and file); the check itself is never evaluated."""
    from scanner.policy.model import AllOf, Policy

    return Policy(
        id=pid,
        title=extra.pop("title", f"Title of {pid}"),  # type: ignore[arg-type]
        severity=severity,
        maturity="applied",
        resource="artefact",
        check=AllOf(where="", items=()),
        **extra,  # type: ignore[arg-type]
    )


def make_document(
    findings: list,
    policies: list | None = None,
    resources: list | None = None,
    frameworks: list | None = None,
    gate: dict | None = None,
    sources: list | None = None,
) -> dict:
    """A valid results document (checked against the schema) around hand-made findings."""
    from scanner.frameworks import maturity
    from scanner.gate import GateSettings, decide

    policies = policies if policies is not None else []
    sources = sources if sources is not None else []
    doc = results.build(
        scan={
            "id": "11111111-2222-3333-4444-555555555555",
            "started_at": "2025-06-30T00:00:00Z",
            "finished_at": "2025-06-30T00:00:01Z",
            "as_of": "2025-06-30T00:00:00Z",
            "sources": sources,
            "policy_pack": {"count": len(policies), "sha256": "0" * 64},
            "params": {},
        },
        policies=policies,
        resources=resources or [],
        findings=findings,
        frameworks=frameworks or [],
        maturity=maturity(policies, findings),
        gate=gate if gate is not None else decide(findings, sources, GateSettings()),
    )
    problems = results.problems(doc)
    assert not problems, problems
    return results.plain(doc)  # as read back from results.json: plain, mutable data
