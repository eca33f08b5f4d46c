"""Talking to MLflow: the client, every listing paginated, runs fetched in bounded batches, and
the client's errors turned into one line that names the registry and never a credential.

Requests are kept few because a registry with thousands of versions is common and each request
is a round trip: registered models and versions come in pages of `page_size`; runs and logged
models are read with searches filtered on up to `RUN_BATCH` ids at a time (one request for a
hundred runs instead of a hundred `get_run` calls), on a bounded thread pool, each id at most
once; only those that a search answered without can be asked for one by one, to learn why.

A failure costs what it touches (docs/design.md, "Fail-closed at the wire"). The two listings
the registry is (models, versions) failing is a `SourceError`; a run, logged model or file
listing that cannot be read - refused, reset, stalled, malformed - is a `RequestFailed` for
that item alone, an Unknown on the version it describes. So one bad answer never costs the
source, and a server that stops answering does not cost every item its timeout: after
`UNANSWERED_LIMIT` items in a row got no answer, the rest are not asked. Answers are checked
(`checked_*`): an entity that does not carry the id it was asked for is malformed.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from scanner.redact import redact_text
from scanner.sources.faults import MalformedAnswer
from scanner.sources.interface import SourceError
from scanner.sources.mlflow.settings import Settings
from scanner.sources.watch import CallWatch

T = TypeVar("T")
RUN_BATCH = 100
# Items in a row without an answer (timeout, refused, reset) after which the rest are not asked.
UNANSWERED_LIMIT = 3
_ENV_LOCK = threading.Lock()
# MLflow's defaults retry 7 times with a backoff factor of 2: minutes before an unreachable
# server is reported. The source sets its own bounded values unless the user set the variables.
_BACKOFF_FACTOR = "1"  # an integer for MLflow

# What a missing `sqlalchemy` (the skinny client) means for the user.
LOCAL_STORE_HINT = (
    "reading a local MLflow store needs the full mlflow package, which mlflow-skinny "
    "does not include: pip install 'modelward[mlflow-local]'"
)


class RequestFailed(Exception):
    """One request failed in a way that concerns one item (a run, a listing), not the source."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Failure:
    """An exception from the MLflow client, classified."""

    status: int | None  # HTTP-like status: 401, 403, 404, 5xx; None when there was no answer
    reason: str  # one line, redacted
    # Nothing more will be readable (no answer, refused credentials, a failing server, a client
    # that cannot work): stop the source rather than repeat the failure for every item.
    source_wide: bool = False


def classify(exc: BaseException) -> Failure:
    """What went wrong, in one redacted line, from an MLflow client exception."""
    from mlflow.exceptions import MlflowException

    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    missing = next((e for e in chain if isinstance(e, ModuleNotFoundError)), None)
    malformed = next((e for e in chain if isinstance(e, MalformedAnswer)), None)
    if malformed is not None:
        return Failure(None, str(malformed))
    if missing is not None:
        module = (missing.name or "").split(".")[0]
        if module in ("sqlalchemy", "alembic"):
            return Failure(None, LOCAL_STORE_HINT, True)
        return Failure(None, f"the MLflow client needs the Python module {module or '?'}", True)
    if "response body was not in a valid JSON format" in text or (
        "JSONDecodeError" in names or "ParseError" in names
    ):
        return Failure(None, "malformed answer (not a JSON object)")  # the caller names it
    if "Timeout" in text or any("Timeout" in n for n in names):
        return Failure(None, "no answer within the timeout", True)
    if "too many" in text and "error responses" in text:
        code = _first_status(text)
        return Failure(code or 500, f"server error (HTTP {code or '5xx'}) after retries", True)
    if any(n in names for n in ("ConnectionError", "NewConnectionError", "MaxRetryError")) or (
        "Failed to establish a new connection" in text or "Max retries exceeded" in text
    ):
        why = "connection refused" if "refused" in text.lower() else "cannot connect"
        if "Name or service not known" in text or "nodename nor servname" in text:
            why = "host name not found"
        if "SSLError" in names or "CERTIFICATE_VERIFY_FAILED" in text:
            why = "TLS error (set MLFLOW_TRACKING_SERVER_CERT_PATH or MLFLOW_TRACKING_INSECURE_TLS)"
        return Failure(None, why, True)
    if isinstance(exc, MlflowException):
        status = exc.get_http_status_code()  # type: ignore[no-untyped-call]  # mlflow is untyped
        if status == 401:
            return Failure(
                401,
                "authentication failed (HTTP 401): set MLFLOW_TRACKING_TOKEN or "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
                True,
            )
        if status == 403:
            return Failure(403, "permission denied (HTTP 403)", True)
        message = _first_line(exc.message if hasattr(exc, "message") else str(exc))
        return Failure(status, message)  # a real 5xx was retried and reported above
    return Failure(None, f"{type(exc).__name__}: {_first_line(str(exc))}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _first_status(text: str) -> int | None:
    m = re.search(r"too many (\d{3}) error responses", text)
    return int(m.group(1)) if m else None


def _first_line(text: str, limit: int = 300) -> str:
    # MLflow quotes a failed answer's whole body ("Response body: '<html>...'"): the line says
    # what failed, never the body (a proxy's page, possibly a kilobyte of it).
    text = text.split(". Response body:", 1)[0]
    line = redact_text(text.strip().splitlines()[0] if text.strip() else "no message")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def configure_http(settings: Settings) -> None:
    """Bound MLflow's retries and timeouts (read from the environment at each request)."""
    with _ENV_LOCK:
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings.timeout)
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.max_retries)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", _BACKOFF_FACTOR)
        if settings.target.kind == "file":
            # MLflow 3 refuses the file store unless asked; reading an existing one is our job.
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"


class Registry:
    """The MLflow client for one tracking URI, with paginated, deduplicated reads."""

    def __init__(
        self, settings: Settings, describe: Callable[[str], str], watch: CallWatch | None = None
    ) -> None:
        self.settings = settings
        self._describe = describe  # "mlflow server http://h:p: <reason>" for SourceError
        self._experiments: list[str] | None = None
        self.watch = watch or CallWatch()
        self._unanswered = 0  # item requests in a row without an answer
        self._unanswered_lock = threading.Lock()
        self._last_unanswered = ""
        # What the answers say that cannot be right (each one problem line of the source).
        self.anomalies: list[str] = []
        configure_http(settings)
        self._check_local_target()
        try:
            from mlflow import MlflowClient

            uri = settings.target.uri
            # Both URIs explicit: unset, MLflow 3 silently falls back to sqlite:///mlflow.db.
            self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        except Exception as exc:
            raise self.fatal(exc) from None

    def _check_local_target(self) -> None:
        """Local stores are created on first use by MLflow: check they exist, so that a typo
        fails instead of writing a new empty store (the scanner is read-only)."""
        target = self.settings.target
        if target.kind == "file":
            from urllib.parse import unquote, urlsplit

            path = unquote(urlsplit(target.uri).path)
            if not os.path.isdir(path):
                raise SourceError(self._describe(f"no such directory: {path}"))
        elif target.uri.startswith("sqlite:///"):
            path = target.uri[len("sqlite:///") :]
            if not os.path.isfile(path) or os.path.getsize(path) == 0:
                raise SourceError(self._describe(f"no such MLflow database: {path}"))

    def fatal(self, exc: BaseException) -> SourceError:
        return SourceError(self._describe(classify(exc).reason))

    def _call(self, fn: Callable[[], T], what: str) -> T:
        """A request of the registry's own listings: any failure stops the source."""
        if self.watch.deadline.passed():
            raise SourceError(self._describe(f"the scan's time limit passed before {what}"))
        try:
            with self.watch.call(f"mlflow {what}"):
                return fn()
        except Exception as exc:
            reason = classify(exc).reason
            if reason.startswith("malformed answer"):  # name the answer that was malformed
                reason = reason.replace("malformed answer", f"malformed answer from {what}", 1)
            raise SourceError(self._describe(reason)) from None

    def _pages(self, fetch: Callable[[str | None], Any], what: str) -> Iterator[Any]:
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page = self._call(partial(fetch, token), what)
            yield from page
            token = getattr(page, "token", None)
            if not token or token in seen_tokens:  # a server repeating a token would loop
                return
            seen_tokens.add(token)

    def registered_models(self, name: str | None = None) -> Iterator[Any]:
        """Every registered model, or the one named `name` (a targeted scan)."""
        size = self.settings.page_size
        where = f"name = {_quoted(name)}" if name is not None else None
        return self._pages(
            lambda t: self.client.search_registered_models(
                filter_string=where, max_results=size, page_token=t
            ),
            "registered-models/search",
        )

    def model_versions(self, name: str | None = None) -> Iterator[Any]:
        """Every model version, or those of the model named `name`."""
        size = self.settings.page_size
        where = f"name = {_quoted(name)}" if name is not None else None
        return self._pages(
            lambda t: self.client.search_model_versions(
                filter_string=where, max_results=size, page_token=t
            ),
            "model-versions/search",
        )

    def experiment_ids(self) -> list[str]:
        """Every experiment, deleted ones too (their runs still back versions); read once."""
        from mlflow.entities import ViewType

        if self._experiments is None:
            size = self.settings.page_size
            experiments = self._pages(
                lambda t: self.client.search_experiments(
                    view_type=ViewType.ALL, max_results=size, page_token=t
                ),
                "experiments/search",
            )
            self._experiments = [str(e.experiment_id) for e in experiments if e.experiment_id]
        return self._experiments

    def runs(self, run_ids: Iterable[str]) -> dict[str, Any]:
        """Each run once: `run_id → Run`, or `RequestFailed` for runs that cannot be read."""
        wanted = sorted(set(run_ids))
        if not wanted:
            return {}
        return self._batched(wanted, self._search_runs, self._get_run, "runs/search")

    def logged_models(self, model_ids: Iterable[str]) -> dict[str, Any]:
        """Each logged model once, searched a hundred ids at a time like runs; the ones search
        does not return (or a store whose search cannot filter on ids) one by one."""
        wanted = sorted(set(model_ids))
        if not wanted:
            return {}
        return self._batched(wanted, self._search_logged, self._get_logged, "logged-models/search")

    def _batched(
        self,
        wanted: list[str],
        search: Callable[[list[str], list[str]], dict[str, Any]],
        get: Callable[[str], Any],
        what: str,
    ) -> dict[str, Any]:
        """Search `wanted` a batch at a time; a failed batch's ids get its failure (asking each
        again would cost a request, and a timeout, per id); ids a search answered without are
        asked for one by one, to learn why (deleted, purged)."""
        experiments = self._experiment_ids_for(what)
        batches = [wanted[i : i + RUN_BATCH] for i in range(0, len(wanted), RUN_BATCH)]
        found: dict[str, Any] = {}
        if experiments:
            for batch, result in zip(
                batches, self.map(lambda b: search(experiments, b), batches, what), strict=True
            ):
                if isinstance(result, RequestFailed):
                    found.update(dict.fromkeys(batch, result))
                else:
                    found.update((k, v) for k, v in result.items() if k in batch)
        missing = [i for i in wanted if i not in found]
        single = what.replace("/search", "/get")
        for item, result in zip(missing, self.map(get, missing, single), strict=True):
            found[item] = result
        return found

    def _experiment_ids_for(self, what: str) -> list[str]:
        """Every store has at least its Default experiment: none listed is a malformed answer,
        and the items are then asked for one by one instead of searched."""
        experiments = self.experiment_ids()
        if not experiments:
            self.anomalies.append(
                self._describe(f"malformed answer from experiments/search (no experiment); {what}"
                               " replaced by one request per item")
            )  # fmt: skip
        return experiments

    def _search_runs(self, experiments: list[str], batch: list[str]) -> dict[str, Any]:
        from mlflow.entities import ViewType

        quoted = ", ".join(f"'{r}'" for r in batch if _is_run_id(r))
        if not quoted:
            return {}
        found: dict[str, Any] = {}
        token: str | None = None
        while True:
            page = self.client.search_runs(
                experiments,
                filter_string=f"attributes.run_id IN ({quoted})",
                run_view_type=ViewType.ALL,
                max_results=len(batch),
                page_token=token,
            )
            for run in page:
                found[_checked_id(run.info.run_id, None, "runs/search")] = run
            token = page.token
            if not token:
                return found

    def _get_run(self, run_id: str) -> Any:
        run = self.client.get_run(run_id)
        _checked_id(run.info.run_id, run_id, "runs/get")
        return run

    def _get_logged(self, model_id: str) -> Any:
        logged = self.client.get_logged_model(model_id)
        _checked_id(logged.model_id, model_id, "logged-models/get")
        return logged

    def _search_logged(self, experiments: list[str], batch: list[str]) -> dict[str, Any]:
        quoted = ", ".join(f"'{m}'" for m in batch if _is_run_id(m.removeprefix("m-")))
        if not quoted:
            return {}
        found: dict[str, Any] = {}
        token: str | None = None
        while True:
            page = self.client.search_logged_models(
                experiments,
                filter_string=f"attributes.model_id IN ({quoted})",
                max_results=len(batch),
                page_token=token,
            )
            for m in page:
                found[_checked_id(m.model_id, None, "logged-models/search")] = m
            token = page.token
            if not token:
                return found

    def map(self, fn: Callable[[Any], T], items: list[Any], what: str) -> list[T | RequestFailed]:
        """`fn` over items on the bounded pool, in order. Any failure of one item - refused,
        reset, stalled, malformed - is that item's `RequestFailed`, never the source's."""

        def guarded(item: Any) -> T | RequestFailed:
            skipped = self._not_asked(what)
            if skipped is not None:
                return skipped
            try:
                with self.watch.call(f"mlflow {what} {str(item)[:60]}"):
                    result = fn(item)
            except Exception as exc:
                failure = classify(exc)
                self._answered(failure.status is not None or not failure.source_wide, failure)
                return RequestFailed(failure.reason, failure.status)
            self._answered(True, None)
            return result

        if not items:
            return []
        if len(items) == 1 or self.settings.workers == 1:
            return [guarded(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.settings.workers, len(items))) as pool:
            return list(pool.map(guarded, items))

    def _not_asked(self, what: str) -> RequestFailed | None:
        if self.watch.deadline.passed():
            return RequestFailed(f"not read: the scan's time limit passed before {what}")
        with self._unanswered_lock:
            if self._unanswered >= UNANSWERED_LIMIT:
                return RequestFailed(
                    f"not asked: the server stopped answering ({self._last_unanswered})"
                )
        return None

    def _answered(self, answered: bool, failure: Failure | None) -> None:
        with self._unanswered_lock:
            if answered:
                self._unanswered = 0
            else:
                self._unanswered += 1
                self._last_unanswered = failure.reason if failure is not None else ""

    def list_files(self, uri: str, cap: int) -> tuple[list[tuple[str, int | None]], bool]:
        """Every file below an artifact URI the server stores (`mlflow-artifacts:`) or a local
        directory, as (relative path, size), breadth first, one request per directory; stops
        at `cap` files (the bool says it did)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo = get_artifact_repository(uri, tracking_uri=self.settings.target.uri)
        files: list[tuple[str, int | None]] = []
        pending: list[str | None] = [None]
        seen: set[str | None] = set()
        while pending:
            directory = pending.pop(0)
            if directory in seen:
                continue
            seen.add(directory)
            for info in repo.list_artifacts(directory):
                path = info.path
                if not isinstance(path, str) or not path or path in seen:
                    raise MalformedAnswer("mlflow artifacts/list", "an entry without a path")
                if info.is_dir:
                    pending.append(path)
                    continue
                if len(files) >= cap:
                    return files, True
                size = info.file_size
                if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
                    raise MalformedAnswer("mlflow artifacts/list", f"size of {path} not a number")
                files.append((path, size))
        return files, False


def _checked_id(found: Any, asked: str | None, what: str) -> str:
    """The id an answer carries: text, and the one asked for (an empty `{}` answer reads as an
    entity with an empty id in the MLflow client)."""
    if not isinstance(found, str) or not found or (asked is not None and found != asked):
        raise MalformedAnswer(f"mlflow {what}", "not the entity asked for")
    return found


def _is_run_id(run_id: str) -> bool:
    """Ids go into a filter string; anything but hex would be an injection or a typo."""
    return bool(run_id) and all(c in "0123456789abcdefABCDEF-" for c in run_id)


def _quoted(text: str) -> str:
    """A string literal for an MLflow search filter: single quotes, the quote escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
