"""The demo estate behind fault-injecting proxies, scanned with and without a fault, compared.

Shared by the CI matrix (`tests/integration/test_wire_faults.py`: one representative call per
API family per fault kind) and the full sweep (`scripts/fault_sweep.py`: every operation the
scan makes, every fault kind, every request or only the first).

The estate is the one `modelward demo` scans (MLflow with its artefacts in S3, S3 buckets with
public and private grants, IAM readers, CloudTrail, SageMaker endpoints behind API Gateway,
VPCs, GuardDuty): real moto and MLflow servers, each behind its own `FaultProxy`. A faulted
scan reads the faulted source again and reuses the other source's fault-free collection, so
a cell of the matrix costs one source's collection plus evaluation.

The property (`violations`), from the fault-free scan to the faulted one: no finding moves
from fail to pass or to not_applicable, no finding becomes pass or not_applicable that was
something else, no finding disappears unless the scan exits 3, --allow-partial does not pass
what the fault-free scan fails; and no computed value goes from something to a definite empty
or false (`attribute_violations`: a failed call is Unknown, never "none").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.gate import GateSettings, decide
from scanner.progress import Reporter
from scanner.scan import Prepared, ScanRequest, prepare
from scanner.scan import run as run_scan
from scanner.sources.interface import Collection, Progress, SourceSpec
from scanner.sources.registry import parse_spec
from tests.aws_estate import aws_env
from tests.servers.fault_proxy import KINDS, FaultProxy
from tests.servers.moto import MotoServer

AWS, MLFLOW = "aws-account", "mlflow-registry"
# One representative call per API family the collectors use.
FAMILIES: dict[str, tuple[str, str]] = {
    "sts": (AWS, "sts:GetCallerIdentity"),
    "s3-buckets": (AWS, "s3:ListBuckets"),
    "s3-bucket-settings": (AWS, "s3:GetBucketAcl"),
    "s3-objects": (AWS, "s3:ListObjectsV2"),
    "s3-object-reads": (AWS, "s3:GetObject"),
    "s3-control": (AWS, "s3control:GetPublicAccessBlock"),
    "iam": (AWS, "iam:GetAccountAuthorizationDetails"),
    "kms": (AWS, "kms:DescribeKey"),
    "cloudtrail": (AWS, "cloudtrail:DescribeTrails"),
    "sagemaker": (AWS, "sagemaker:Search"),
    "apigateway": (AWS, "apigateway:GetRestApis"),
    "ec2": (AWS, "ec2:DescribeVpcs"),
    "guardduty": (AWS, "guardduty:ListDetectors"),
    "mlflow-models": (MLFLOW, "mlflow:registered-models/search"),
    "mlflow-versions": (MLFLOW, "mlflow:model-versions/search"),
    "mlflow-experiments": (MLFLOW, "mlflow:experiments/search"),
    "mlflow-runs": (MLFLOW, "mlflow:runs/search"),
}
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
# Short timeouts, so that a stalled call costs seconds: a stall is retried once, then Unknown.
FAST = {"aws": {"read_timeout": 1, "max_attempts": 2}, "mlflow": {"timeout": 1, "max_retries": 1}}
PATIENT = {"aws": {"read_timeout": 20}, "mlflow": {"timeout": 20}}


class CachedSource:
    """A source that answers with a collection read earlier (the source not under fault)."""

    def __init__(self, spec: SourceSpec, collection: Collection, produces: frozenset[str]):
        self.spec = spec
        self.collection = collection
        self.produces = produces

    def collect(self, progress: Progress) -> Collection:
        return self.collection


@dataclass
class FaultedEstate:
    moto: MotoServer
    proxies: dict[str, FaultProxy]  # by source name
    mlflow_url: str
    baseline: dict[str, Any] = field(default_factory=dict)
    collections: dict[str, Collection] = field(default_factory=dict)
    operations: list[str] = field(default_factory=list)  # every one the fault-free scan made

    def specs(self, timeouts: dict[str, dict[str, Any]]) -> tuple[SourceSpec, SourceSpec]:
        return (
            parse_spec("aws:", name=AWS, options=dict(timeouts["aws"])),
            parse_spec(
                f"mlflow:{self.proxies[MLFLOW].url}", name=MLFLOW, options=dict(timeouts["mlflow"])
            ),
        )

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """What the scanner's process sees: AWS_ENDPOINT_URL at the AWS proxy; MLflow's
        retries without back-off sleeps."""
        with aws_env(MotoServer(self.proxies[AWS].url)):
            saved = os.environ.get("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR")
            os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "0"
            try:
                yield
            finally:
                if saved is None:
                    os.environ.pop("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", None)
                else:
                    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = saved

    def scan(
        self,
        faulted: str | None,
        timeouts: dict[str, dict[str, Any]],
        *,
        timeout: float | None = None,
        reporter: Reporter | None = None,
    ) -> dict[str, Any]:
        """One scan: every source read live when `faulted` is None, else only that source,
        the other one answering with its fault-free collection. `timeout`: the scan's limit."""
        request = ScanRequest(sources=self.specs(timeouts), as_of=NOW, timeout=timeout)
        prepared = prepare(request)
        if faulted is not None:
            prepared = _with_cached(prepared, faulted, self.collections)
        with self.environment():
            return run_scan(prepared, reporter or Reporter())

    def read_baseline(self) -> None:
        for proxy in self.proxies.values():
            proxy.clear()
        prepared = prepare(ScanRequest(sources=self.specs(PATIENT), as_of=NOW))
        recorded = _Recording(prepared)
        with self.environment():
            self.baseline = run_scan(recorded.prepared, Reporter())
        self.collections = recorded.collections
        self.operations = sorted({op for proxy in self.proxies.values() for op in proxy.seen})
        statuses = {s["name"]: s["status"] for s in self.baseline["scan"]["sources"]}
        if set(statuses.values()) != {"ok"}:
            raise RuntimeError(f"the fault-free scan has failed sources: {self.baseline['scan']}")

    def fault(
        self,
        kind: str,
        operation: str,
        times: int | None = None,
        *,
        also: bool = False,
        subject: str | None = None,
    ) -> str:
        """Set a fault (`also`: beside the ones set, else instead); returns the name of the
        source it hits."""
        if not also:
            for proxy in self.proxies.values():
                proxy.clear()
        source = AWS if not operation.startswith("mlflow:") else MLFLOW
        self.proxies[source].fault(kind, operation, times, subject)
        return source

    def rules_hit(self) -> int:
        return sum(rule.hits for proxy in self.proxies.values() for rule in proxy.rules)


class _Recording:
    """Wraps the sources of a prepared scan to keep each one's collection."""

    def __init__(self, prepared: Prepared) -> None:
        self.collections: dict[str, Collection] = {}
        wrapped = []
        for source in prepared.sources:
            wrapped.append(_Recorder(source, self.collections))
        self.prepared = replace(prepared, sources=tuple(wrapped))


class _Recorder:
    def __init__(self, source: Any, into: dict[str, Collection]) -> None:
        self.source = source
        self.spec = source.spec
        self.produces = source.produces
        self.into = into

    def collect(self, progress: Progress) -> Collection:
        collection: Collection = self.source.collect(progress)
        self.into[self.spec.name] = collection
        return collection


def _with_cached(prepared: Prepared, live: str, collections: dict[str, Collection]) -> Prepared:
    sources = tuple(
        s
        if s.spec.name == live
        else CachedSource(s.spec, collections[s.spec.name], getattr(s, "produces", frozenset()))
        for s in prepared.sources
    )
    return replace(prepared, sources=sources)


@contextlib.contextmanager
def faulted_estate(workdir: Path | None = None) -> Iterator[FaultedEstate]:
    """The demo estate on moto and MLflow, each behind a fault proxy, with its fault-free scan."""
    from scanner.demo import aws_estate, registry_estate, serving_estate
    from scanner.demo.servers import environment, mlflow_server, moto_server

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:
        tmp = Path(workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="mw-wire-")))
        moto = stack.enter_context(moto_server({"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}))
        env = {
            **moto.env(),
            "MLFLOW_S3_ENDPOINT_URL": moto.url,
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        }
        stack.enter_context(environment(env))
        estate = aws_estate.seed_aws(moto)
        ml = stack.enter_context(
            mlflow_server(
                tmp / "mlflow", artifact_root=estate.artifact_root, extra_env=env, timeout=300
            )
        )
        registry = registry_estate.seed_registry(ml.url, estate.release_root)
        serving_estate.seed_serving(moto, estate, registry)
        _acl_public_bucket(moto)
        aws_estate.lock_down_artifacts(moto.client("s3", aws_estate.REGION))
        proxies = {
            AWS: stack.enter_context(FaultProxy(moto.url, stall_max=10)),
            MLFLOW: stack.enter_context(FaultProxy(ml.url, stall_max=10)),
        }
        faulted = FaultedEstate(moto, proxies, ml.url)
        faulted.read_baseline()
        yield faulted


# Public through its ACL alone (the demo's public bucket is public through its policy).
ACL_PUBLIC = "acme-acl-public-models"


def _acl_public_bucket(moto: MotoServer) -> None:
    from scanner.demo.registry_estate import safetensors_bytes

    s3 = moto.client("s3")
    s3.create_bucket(Bucket=ACL_PUBLIC, ACL="public-read")
    key = "exports/fraud/model.safetensors"
    s3.put_object(Bucket=ACL_PUBLIC, Key=key, Body=safetensors_bytes())


def findings(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["policy_id"], f["resource_id"]): f["status"] for f in document["findings"]}


def attribute_violations(baseline: dict[str, Any], faulted: dict[str, Any]) -> list[str]:
    """Computed values that a fault turned from something into a definite empty or false: a
    true that became false, a list with items that became empty, a count above zero that
    became zero. "No data" must read as Unknown, never as "none"."""
    before = {r["id"]: r for r in baseline["resources"]}
    out: list[str] = []
    for resource in faulted["resources"]:
        old = before.get(resource["id"])
        if old is not None:
            _compare(old["attributes"], resource["attributes"], resource["id"], "", out)
    return out


def _compare(old: Any, new: Any, rid: str, path: str, out: list[str]) -> None:
    if isinstance(new, dict) and set(new) == {"$unknown"}:
        return  # Unknown is always allowed: it says "not known"
    if old is True and new is False:
        out.append(f"{rid} {path}: true -> false")
    elif isinstance(old, list) and old and new == []:
        out.append(f"{rid} {path}: {len(old)} item(s) -> empty")
    elif _count(old) and _count(new) == 0 and new is not False:
        out.append(f"{rid} {path}: {old} -> 0")
    elif isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            if key in new:
                _compare(value, new[key], rid, f"{path}.{key}".lstrip("."), out)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def violations(baseline: dict[str, Any], faulted: dict[str, Any]) -> list[str]:
    """Where the faulted scan says more than it knows (see the module docstring)."""
    before, after = findings(baseline), findings(faulted)
    exit_code = faulted["gate"]["exit_code"]
    failed = any(s["status"] == "error" for s in faulted["scan"]["sources"])
    out = []
    for key, status in sorted(before.items()):
        now = after.get(key)
        if now is None:
            # Gone is allowed only with a source reporting its failure (so exit 3 whatever the
            # findings say: the demo estate exits 3 anyway, on checks moto cannot answer).
            if exit_code != 3 or not failed:
                out.append(f"{key[0]} on {key[1]}: {status} -> gone, no source failed")
        elif status == "fail" and now in ("pass", "not_applicable"):
            out.append(f"{key[0]} on {key[1]}: fail -> {now}")
        elif now in ("pass", "not_applicable") and now != status:
            out.append(f"{key[0]} on {key[1]}: {status} -> {now}")
    for key, now in sorted(after.items()):
        if key not in before and now in ("pass", "not_applicable"):
            out.append(f"{key[0]} on {key[1]}: new finding, {now}")
    if _gate_passes_with_allow_partial(faulted) and not _gate_passes_with_allow_partial(baseline):
        out.append("with --allow-partial the gate passes, where the fault-free scan fails")
    return out + attribute_violations(baseline, faulted)


def _gate_passes_with_allow_partial(document: dict[str, Any]) -> bool:
    from scanner.findings import Finding

    statuses = document["scan"]["sources"]
    fields = ("policy_id", "title", "severity", "maturity", "resource_id", "resource_type",
              "resource_name", "status", "message")  # fmt: skip
    reread = [Finding(*(f[name] for name in fields)) for f in document["findings"]]
    return bool(decide(reread, statuses, GateSettings(allow_partial=True))["passed"])


def problems(document: dict[str, Any]) -> list[str]:
    return [
        p
        for s in document["scan"]["sources"]
        for p in s.get("problems") or ([s["error"]] if s.get("error") else [])
    ]


__all__ = ["FAMILIES", "FAST", "KINDS", "FaultedEstate", "faulted_estate", "violations"]
