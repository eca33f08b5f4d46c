"""`modelward demo`: start the estate, seed it, scan it with a generated config, stop it.

The scan is the one a user runs (`modelward scan -c FILE`), handed in by the `demo` command as
a function of the config file, with the config written next to the outputs, so the demo
doubles as a worked example of a config for MLflow + AWS + Azure + Google Cloud +
attestations. Azure and Google Cloud are scanned when their emulators are installed
(`clouds.py`); otherwise the demo says which it skipped and why, and scans the rest. Being
handed the scan keeps this package below the command line: it never imports `scanner.cli`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.demo import DEFAULT_PORT
from scanner.demo.aws_estate import TRAIL_LOGS
from scanner.demo.clouds import CloudEstate
from scanner.errors import EXIT_SOURCE, ModelwardError, UsageError

if TYPE_CHECKING:
    from scanner.demo.signing_estate import SigningEstate

DEMO_EXTRA = "pip install 'modelward[demo]' (or run `make demo`)"


def _require_demo_extra() -> None:
    missing = [m for m in ("mlflow.server", "moto.server", "boto3", "duckdb") if not _importable(m)]
    if missing:
        raise UsageError(
            f"modelward demo needs the MLflow server and the moto server ({', '.join(missing)} "
            f"not installed): {DEMO_EXTRA}"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def write_evidence(path: Path, today: dt.date) -> Path:
    """What a consultant collects in interviews: some current, one expired, one stale."""

    def day(delta: int) -> str:
        return (today + dt.timedelta(days=delta)).isoformat()

    path.write_text(
        f"""# Organisational evidence for the demo estate (modelward attestations: source)
version: 1
attestations:
  - kind: threat_model
    id: tm-ml-platform
    statement: >-
      The ML platform threat model names model theft (artefact exfiltration from S3 and the
      registry) and functional extraction through the scoring APIs, with owners per mitigation.
    evidence_uri: https://wiki.acme.example/security/threat-models/ml-platform
    owner: security-architecture@acme.example
    date: {day(-40)}
    expires: {day(325)}
  - kind: incident_playbook
    id: pb-12
    statement: Incident playbook PB-12 covers model theft and API extraction.
    evidence_uri: https://wiki.acme.example/ir/pb-12
    owner: csirt@acme.example
    date: {day(-120)}
  - kind: high_value_assessment
    id: hva-2026
    statement: >-
      fraud-detector, credit-scoring and pricing-llm-adapter are the models of highest IP value;
      they get customer-managed keys, JIT-only human access and minimal outputs.
    evidence_uri: https://grc.acme.example/assessments/hva-2026
    owner: cro-office@acme.example
    date: {day(-60)}
  - kind: red_team
    id: rt-2024
    statement: External red team attempted model extraction through the fraud scoring API.
    evidence_uri: https://jira.acme.example/browse/SEC-311
    owner: appsec@acme.example
    date: {day(-500)}
    expires: {day(-135)}
  - kind: privacy_assessment
    id: dpia-credit
    statement: >-
      Membership-inference and inversion risk assessed for credit-scoring; mitigations chosen:
      label-only outputs and per-client quotas.
    evidence_uri: https://grc.acme.example/dpia/credit
    owner: dpo@acme.example
    date: {day(-400)}
""",
        encoding="utf-8",
    )
    return path


MOTO_SEED = 20260101  # any fixed value: the emulator's random ids repeat from run to run


@dataclass(frozen=True)
class Ports:
    mlflow: int
    aws: int
    preferred: bool  # False: a preferred port was taken, so ids differ from other runs


def choose_ports(base: int) -> Ports:
    """MLflow on BASE and the emulated AWS account on BASE+1, the same in every run: MLflow's
    resource ids hold its address, so the same port keeps them the same (and the written
    config keeps pointing at the estate a later `demo --keep-running` starts). When either is
    taken, free ports instead: the demo still runs, and says its ids differ."""
    from scanner.demo.servers import free_port, port_is_free

    if port_is_free(base) and port_is_free(base + 1):
        return Ports(base, base + 1, True)
    return Ports(free_port(), free_port(), False)


def write_config(
    path: Path,
    mlflow_url: str,
    evidence: Path,
    env_file: Path,
    formats: list[str],
    signing: SigningEstate,
    cloud_sources: Sequence[tuple[str, str]] = (),
) -> Path:
    """The config the demo scans with, written so it can be used again: outputs relative to
    the file (the directory above it), the signers it trusts relative to it too, and a comment
    that says how. `cloud_sources` are (spec, name) of the Azure and Google Cloud sources whose
    estates were seeded."""
    base = path.parent
    out = _shown(path.parent.parent)
    demo = "modelward demo" + ("" if out == "out/demo" else f" -o {out}") + " --keep-running"
    clouds = "".join(f'  - spec: "{spec}"\n    name: {name}\n' for spec, name in cloud_sources)
    scanned = "an MLflow registry, an AWS account"
    if any(spec.startswith("azure:") for spec, _ in cloud_sources):
        scanned += ", an Azure subscription"
    if any(spec.startswith(("gcs:", "vertex:")) for spec, _ in cloud_sources):
        scanned += ", a Google Cloud project (Cloud Storage, Vertex AI)"
    path.write_text(
        f"""# The config `modelward demo` scanned with: {scanned}
# (emulated on this machine; the AWS account with a trail of S3 data events) and a file of
# organisational evidence. Paths are relative to this file.
#
# To scan the demo estate again, keep it running (first shell), then use this file (second):
#   {demo}
#   . {_shown(env_file)} && modelward scan -c {_shown(path)}
#
# For your own estate: point mlflow: at your tracking server, keep aws: (it then reads your
# account with your usual AWS credentials, read-only), point access-logs: at your trail's
# S3 prefix, list your own evidence, or let `modelward init` write a starter file for what it
# finds on your machine.
version: 1
sources:
  - spec: mlflow:{mlflow_url}
    name: mlflow-registry
  - spec: "aws:"
    name: aws-account
{clouds}  - spec: attestations:{evidence.name}
    name: evidence
  - spec: access-logs:s3://{TRAIL_LOGS}/AWSLogs/
    name: cloudtrail-data-events
# Who may sign the models: the release key, and the training pipeline's keyless identity
# (pinned to the demo Sigstore's trusted root, so verification never leaves the machine).
integrity:
  trust:
    keys: [{signing.release_key.relative_to(base).as_posix()}]
    identities:
      - identity: {signing.identity}
        issuer: {signing.issuer}
        trust_root: {signing.trusted_root.relative_to(base).as_posix()}
params:
  MW-INT-05:
    trusted_builders: [{signing.builder}]
output:
  dir: ..
  formats: [{", ".join(formats)}]
gate:
  fail_on: high
""",
        encoding="utf-8",
    )
    return path


def write_env(path: Path, env: Mapping[str, str | None]) -> Path:
    """What the demo's scan had in its environment: the emulators' addresses and their fake
    credentials (None: a variable the scan ran without, so the user's own cloud set-up does
    not steer a second scan away from the demo)."""
    lines = [
        "# Source this file (. FILE) to point cloud calls at the demo's emulated estate, e.g. to",
        "# scan it again with modelward.yaml beside it while `modelward demo --keep-running` runs.",
        *(
            f"unset {key}" if value is None else f"export {key}={shlex.quote(value)}"
            for key, value in sorted(env.items())
        ),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_demo(
    out_dir: Path,
    scan: Callable[[Path], int],
    say: Callable[[str], None] = print,
    *,
    base_port: int = DEFAULT_PORT,
    keep_running: bool = False,
) -> int:
    """Seed the estate, `scan(config_file)` it (returns the scan's exit code), report; with
    `keep_running`, leave the estate up until Ctrl-C (or SIGTERM)."""
    _require_demo_extra()
    from scanner.demo import (
        access_estate,
        aws_estate,
        clouds,
        registry_estate,
        serving_estate,
        signing_estate,
    )
    from scanner.demo.servers import environment, mlflow_server, moto_server
    from scanner.outputs.registry import WRITERS

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    started = time.monotonic()
    out_dir = out_dir.resolve()
    estate_dir = out_dir / "estate"
    estate_dir.mkdir(parents=True, exist_ok=True)
    formats = sorted(WRITERS)
    ports = choose_ports(base_port)
    if not ports.preferred:
        say(
            f"demo: port {base_port} or {base_port + 1} is taken; using {ports.mlflow} and "
            f"{ports.aws}, so MLflow ids differ from runs on the usual ports"
        )
    with (
        tempfile.TemporaryDirectory(prefix="modelward-demo-") as tmp,
        ExitStack() as stack,
    ):
        moto = stack.enter_context(moto_server(port=ports.aws))
        moto.seed(MOTO_SEED)
        env: dict[str, str | None] = {
            **moto.env(),
            "MLFLOW_S3_ENDPOINT_URL": moto.url,
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        }
        stack.enter_context(environment(env))
        say(f"demo: emulated AWS account at {moto.url}; seeding S3, IAM, CloudTrail, VPC ...")
        estate = aws_estate.seed_aws(moto)
        say("demo: starting an MLflow server (artefacts in the emulated S3) ...")
        ml = stack.enter_context(
            mlflow_server(Path(tmp), artifact_root=estate.artifact_root, port=ports.mlflow)
        )
        say(f"demo: MLflow at {ml.url}; registering models ...")
        registry = registry_estate.seed_registry(ml.url, estate.release_root)
        serving_estate.seed_serving(moto, estate, registry)
        access_estate.seed_access_logs(moto, registry, dt.datetime.now(dt.UTC))
        say("demo: signing the production models (release key; keyless, local Sigstore)")
        signing = signing_estate.sign_production_models(
            moto.client("s3", aws_estate.REGION), registry, estate_dir
        )
        aws_estate.lock_down_artifacts(moto.client("s3", aws_estate.REGION))
        seeded = [
            stack.enter_context(clouds.azure(Path(tmp) / "azure", say)),
            stack.enter_context(clouds.gcp(Path(tmp) / "gcp", say)),
        ]
        cloud_sources = [source for c in seeded if c is not None for source in c.sources]
        for cloud in seeded:
            if cloud is not None:
                stack.enter_context(environment(cloud.env))
                env.update(cloud.env)
        evidence = write_evidence(estate_dir / "evidence.yaml", dt.date.today())
        env_file = write_env(estate_dir / "demo.env", env)
        config = write_config(
            estate_dir / "modelward.yaml",
            ml.url,
            evidence,
            env_file,
            formats,
            signing,
            cloud_sources,
        )
        say(f"demo: estate seeded in {time.monotonic() - started:.0f} s; scanning ...")
        try:
            code = scan(config)
        except ModelwardError as exc:  # the summary below still says where things are
            say(f"demo: the scan failed: {exc.message}")
            code = exc.exit_code
        _summary(say, code, out_dir)
        if keep_running:
            _keep_running(say, ml.url, moto.url, env_file, config, [c for c in seeded if c])
    shutil.rmtree(estate_dir / "__pycache__", ignore_errors=True)
    return _demo_exit(code, out_dir / "results.json")


def _summary(say: Callable[[str], None], code: int, out_dir: Path) -> None:
    report = out_dir / "report.html"
    say("")
    why = " (the estate is deliberately misconfigured)" if code in (0, 1) else ""
    say(f"demo: scan exit code {code}{why}")
    say(f"demo: outputs in {out_dir}")
    say(f"demo: open {report if report.exists() else out_dir / 'results.json'}")


def _keep_running(
    say: Callable[[str], None],
    mlflow_url: str,
    aws_url: str,
    env_file: Path,
    config: Path,
    clouds: Sequence[CloudEstate] = (),
) -> None:
    """Wait, with the servers up, until Ctrl-C or SIGTERM; the caller's context managers then
    stop them."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    say("")
    say("demo: the estate keeps running; explore it:")
    say(f"  MLflow registry (UI and API)  {mlflow_url}")
    say(f"  emulated AWS account          {aws_url}  (credentials and endpoint: {env_file})")
    for cloud in clouds:
        names = ", ".join(name for _, name in cloud.sources)
        say(f"  {cloud.cloud + ' (' + names + ')':<30}endpoints and credentials in {env_file}")
    again = f". {_shown(env_file)} && modelward scan -c {_shown(config)}"
    say(f"  scan it again (second shell)  {again}")
    say("demo: press Ctrl-C to stop the servers")
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("demo: stopping the servers")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _demo_exit(scan_code: int, results_file: Path) -> int:
    """Failing findings, and checks the emulator cannot answer (Unknown → exit 3), are the
    point of the demo; a source that failed or a scan that did not run is a broken demo."""
    if scan_code == 2 or not results_file.exists():
        return scan_code or EXIT_SOURCE
    from scanner import results

    document = results.load(results_file)
    if any(source["status"] != "ok" for source in document["scan"]["sources"]):
        return EXIT_SOURCE
    return 0
