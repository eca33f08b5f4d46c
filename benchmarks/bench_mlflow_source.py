"""`mlflow:` source against a real server: scan time and HTTP requests per model version.

The estate (default 200 models of 10 versions) is written into the sqlite store in-process
(through MLflow's own store, ~10x faster than the REST API) before the server starts: every
version has its own training run (tags, a param, a dataset input); 45% are registered from
`runs:/…` and 45% from MLflow 3 logged models, both with files the server stores (written
straight into its artifact directory); 10% point at S3. The floor sends the very requests
the source sent (recorded from a warm-up run at the HTTP adapter) on plain `requests`
sessions with as many threads, reading each answer and doing nothing with it; paging through
models and versions alone is shown too. Requests are counted at the HTTP adapter, so retries
of one request count once and every artifact listing counts. Run:
`python -m benchmarks.bench_mlflow_source [--models 200 --versions 10]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests.adapters

from scanner.sources.interface import SourceSpec
from scanner.sources.mlflow import MlflowSource
from tests.servers.mlflow_server import mlflow_server

_count = 0
_lock = threading.Lock()
_send = requests.adapters.HTTPAdapter.send
# (method, url, body, content type) of every request sent while recording is on.
_recorded: list[tuple[str, str, bytes | None, str | None]] | None = None


def _counting_send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
    global _count
    with _lock:
        _count += 1
        if _recorded is not None:
            body = request.body.encode() if isinstance(request.body, str) else request.body
            _recorded.append(
                (request.method, request.url, body, request.headers.get("Content-Type"))
            )
    return _send(self, request, *args, **kwargs)


def replay(calls: list[tuple[str, str, bytes | None, str | None]], workers: int) -> float:
    """The floor: the source's own requests, sent again on plain sessions with as many
    threads as the source uses, the answers read and dropped."""
    local = threading.local()

    def one(call: tuple[str, str, bytes | None, str | None]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        method, url, body, kind = call
        headers = {"Content-Type": kind} if kind else {}
        answer = session.request(method, url, data=body, headers=headers, timeout=60)
        _ = answer.content

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, calls))
    return time.perf_counter() - t0


def requests_sent() -> int:
    return _count


def seed(root: Path, models: int, versions: int) -> int:
    """Write the estate into root/mlflow.db and root/artifacts; returns the version count."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Param, RunTag

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)  # the registry store finds logged models through it
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    store = client._tracking_client.store
    exp = client.create_experiment("bench", artifact_location="mlflow-artifacts:/bench")
    art = root / "artifacts" / "bench"
    total = 0
    for m in range(models):
        name = f"model-{m:04d}"
        client.create_registered_model(name, tags={"owner": f"team{m % 7}", "ip_value": "high"})
        for v in range(versions):
            run = store.create_run(exp, "bench", int(time.time() * 1000), [], f"r{m}-{v}")
            run_id = run.info.run_id
            store.log_batch(
                run_id,
                metrics=[],
                params=[Param("learning_rate", "0.1")],
                tags=[
                    RunTag("mlflow.user", "bench"),
                    RunTag("mlflow.source.git.commit", f"{m:04x}{v:04x}"),
                ],
            )
            dataset = Dataset("train", f"d{m}", "s3", json.dumps({"uri": f"s3://data/{m}.parquet"}))
            store.log_inputs(
                run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])]
            )
            kind = v % 10
            if kind == 9:
                source, model_id = f"s3://models/{name}/{v}", None
            elif kind % 2 == 0:
                source, model_id = f"runs:/{run_id}/model", None
                _files(art / run_id / "artifacts" / "model")
            else:
                lm = store.create_logged_model(exp, name=name, source_run_id=run_id)
                source, model_id = f"models:/{lm.model_id}", lm.model_id
                _files(art / "models" / lm.model_id / "artifacts")
            client._get_registry_client().store.create_model_version(
                name, source, run_id=run_id, model_id=model_id
            )
            total += 1
        client.set_registered_model_alias(name, "champion", str(versions))
    return total


def _files(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "MLmodel").write_text("flavors: {python_function: {}}\n")
    (d / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")


def floor(url: str) -> float:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    t0 = time.perf_counter()
    token = None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        token = page.token
        if not token:
            break
    while True:
        page = client.search_model_versions(max_results=1000, page_token=token)
        token = page.token
        if not token:
            break
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        total = seed(root, args.models, args.versions)
        t_seed = time.perf_counter() - t0
        with mlflow_server(root) as server:
            floor(server.url)  # warm the server's caches for both contenders
            t_floor = floor(server.url)
            requests.adapters.HTTPAdapter.send = _counting_send  # type: ignore[method-assign]
            spec = SourceSpec("mlflow", server.url, "bench", {"workers": args.workers})
            global _recorded
            _recorded = []
            MlflowSource(spec).collect(lambda message: None)  # warm-up, and what to replay
            calls, _recorded = _recorded, None
            replay(calls, args.workers)  # warm-up of the floor's sessions
            t_replay = replay(calls, args.workers)
            before = requests_sent()
            t0 = time.perf_counter()
            collection = MlflowSource(spec).collect(lambda message: None)
            t_scan = time.perf_counter() - t0
            sent = requests_sent() - before
    assert not collection.problems, collection.problems[:3]
    kinds = {t: sum(1 for r in collection.resources if r.type == t) for t in ("model",
             "model_version", "artefact")}  # fmt: skip
    assert kinds["model_version"] == total, kinds
    print(f"{args.models} models, {total} versions seeded in {t_seed:.1f} s; resources: {kinds}")
    print(f"page through models and versions only:   {t_floor:6.2f} s")
    print(f"floor (the source's {len(calls)} requests, replayed): {t_replay:6.2f} s")
    print(f"mlflow: source (everything):             {t_scan:6.2f} s  {total / t_scan:7.0f} v/s")
    print(f"HTTP requests: {sent} ({sent / total:.2f} per model version, target <= 3)")
    print(f"ratio source/floor: {t_scan / t_replay:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
