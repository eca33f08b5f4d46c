"""`modelward verify MODEL_PATH...`: the gate before deploy, for model directories or files.

Passes only when the model's signature verifies with the given trust and no file would run
code when loaded. Everything else is a problem, one line each: no signature, a signature that
fails or cannot be checked with the trust given, an unsafe global, a file that could not be
scanned. Uses the same sniffing, serialization scan and signature check as the `path:` source.

`serialization_only` checks what the files would run and nothing else: a team that does not
sign its models yet still gets the gate on code in model files, with no trust configured.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.artefacts.formats import MODEL_EXTENSIONS, sniff
from scanner.artefacts.hashing import bounded_map, default_workers
from scanner.artefacts.integrity import (
    ScanTarget,
    attestation_as_signature,
    scan_files,
    serialization_facts,
)
from scanner.artefacts.s3fetch import DEFAULT_BUDGET, fetch
from scanner.artefacts.serialization import issue_message
from scanner.artefacts.signatures import SignatureResult, check, find_signature
from scanner.artefacts.signatures.trust import TrustSet
from scanner.errors import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE, UsageError, one_line
from scanner.inventory import Unknown, to_jsonable

SKIPPED_DIRS = frozenset({".git"})


@dataclass(frozen=True)
class VerifyReport:
    model: str
    signature: SignatureResult
    unsafe: list[dict[str, Any]] | Unknown
    lambda_layers: list[str]
    files: int
    problems: list[str] = field(default_factory=list)
    incomplete: bool = False  # not verified at all (an S3 model over the byte budget)
    serialization_only: bool = False  # the signature was not checked (asked not to)

    @property
    def passed(self) -> bool:
        return not self.problems and not self.incomplete

    @property
    def exit_code(self) -> int:
        if self.incomplete:
            return EXIT_SOURCE
        return EXIT_OK if self.passed else EXIT_FINDINGS

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = to_jsonable(
            {
                "model": self.model,
                "passed": self.passed,
                "exit_code": self.exit_code,
                "files": self.files,
                "signature": None if self.serialization_only else self.signature.attributes(),
                "serialization": {"unsafe": self.unsafe, "lambda_layers": self.lambda_layers},
                "problems": self.problems,
            }
        )
        return document


def verify_model(
    target: str,
    trust: TrustSet,
    signature: str | None = None,
    workers: int | None = None,
    max_bytes: int = DEFAULT_BUDGET,
    serialization_only: bool = False,
) -> VerifyReport:
    check_target(target)
    if target.startswith("s3://"):
        return _verify_s3(target, trust, signature, workers, max_bytes, serialization_only)
    model = local_path(target)
    workers = workers or default_workers()
    rels, problems = _files(model)
    targets = _sniffed(model, rels, workers, problems)
    scans = scan_files({"": targets}, workers)[""]
    facts = serialization_facts(targets, scans)
    if serialization_only:
        result = SignatureResult(present=False, verified=Unknown("not checked (asked not to)"))
    else:
        sig_path = Path(signature) if signature else find_signature(model, rels)
        if sig_path is not None and not sig_path.is_file():
            raise UsageError(f"{signature}: no such signature file")
        result = check(model, sig_path, trust)
        if result.kind == "in-toto" and sig_path is not None and result.file is not None:
            result = attestation_as_signature(model, sig_path, result.file, rels, trust)
        problems.extend(_signature_problems(result))
    unsafe = facts["unsafe"]
    if isinstance(unsafe, Unknown):
        problems.append(f"serialization: {unsafe.reason}")
    else:
        problems.extend(issue_message(issue) for issue in unsafe)
    return VerifyReport(
        str(model),
        result,
        unsafe,
        facts["lambda_layers"],
        len(rels),
        [one_line(p) for p in problems],
        serialization_only=serialization_only,
    )


def check_target(target: str) -> None:
    """A usage error for a target that cannot be verified at all: an unknown URI scheme, a
    missing path, a path that is neither a file nor a directory. Cheap, so a command checks
    every target before verifying any."""
    if target.startswith("s3://"):
        return
    if "://" in target:
        raise UsageError(
            f"{target}: only local paths (a directory or a file) and s3:// URIs can be verified"
        )
    model = local_path(target)
    if not model.exists():
        raise UsageError(f"{target}: no such file or directory")
    if not (model.is_dir() or model.is_file()):
        raise UsageError(f"{target}: not a regular file or directory")


def local_path(target: str) -> Path:
    """The absolute path a local target names (`~` expanded, symlinks kept as given)."""
    return Path(os.path.abspath(os.path.expanduser(target)))


def _verify_s3(
    uri: str,
    trust: TrustSet,
    signature: str | None,
    workers: int | None,
    max_bytes: int,
    serialization_only: bool,
) -> VerifyReport:
    """Download within the budget, verify the copy, report under the S3 URI."""
    uri = uri.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="modelward-verify-") as tmp:
        fetched = fetch(uri, Path(tmp), max_bytes)
        if fetched.path is None:
            reason = f"{uri}: not verified: {fetched.over_budget}"
            return VerifyReport(
                uri,
                SignatureResult(present=False, verified=Unknown(reason)),
                Unknown(reason),
                [],
                fetched.objects,
                [reason],
                incomplete=True,
            )
        report = verify_model(
            str(fetched.path), trust, signature, workers, serialization_only=serialization_only
        )
    return replace(report, model=uri)


def _files(model: Path) -> tuple[list[str], list[str]]:
    """Regular files of the model (posix paths relative to it), and why any were skipped."""
    if model.is_file():
        return [model.name], []
    rels: list[str] = []
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(
        model,
        onerror=lambda e: problems.append(f"{e.filename}: cannot read directory: {e.strerror}"),
    ):
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):  # os.walk does not follow them
                rel = (Path(dirpath) / d).relative_to(model).as_posix()
                problems.append(
                    f"{rel}: symlinked directory, not followed: its files are unchecked"
                )
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIPPED_DIRS and not os.path.islink(os.path.join(dirpath, d))
        )
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(model).as_posix()
            if full.is_file():
                rels.append(rel)
            else:
                problems.append(f"{rel}: not a regular file, not verified")
    return rels, problems


def _sniffed(model: Path, rels: list[str], workers: int, problems: list[str]) -> list[ScanTarget]:
    base = model if model.is_dir() else model.parent
    targets: list[ScanTarget] = []
    for rel, result in sorted(
        bounded_map(lambda r: sniff(base / r), rels, workers, batch_cost=64), key=lambda x: x[0]
    ):
        fmt: str | Unknown | None
        if isinstance(result, Exception):
            fmt = Unknown(f"cannot read: {result}")
            problems.append(f"{rel}: cannot read: {result}")
        elif result.format is None and result.problem is not None:
            fmt = Unknown(result.problem)
        else:
            fmt = result.format
        if isinstance(fmt, Unknown) and Path(rel).suffix.lower() not in MODEL_EXTENSIONS:
            fmt = None
        targets.append(ScanTarget(rel, str(base / rel), fmt))
    return targets


def _signature_problems(result: SignatureResult) -> list[str]:
    if not result.present:
        return ["signature: no signature found (model.sig, or FILE.sig beside a single file)"]
    where = f"signature {result.file}"
    if isinstance(result.verified, Unknown):
        return [f"{where}: not verified: {result.verified.reason}"]
    if result.verified is not True:
        return [f"{where}: verification failed: {result.error}"]
    return []
