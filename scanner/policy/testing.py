"""Policy unit tests (`modelward policies test DIR`), conftest-verify style.

A `*_test.yaml` file next to the policies holds cases: a small inventory written as resources
(the same shape as results.json, with `{$ref: id}` and `{$unknown: reason}` markers) and the
status expected for each resource. Users test their own policies exactly as the built-in pack
is tested.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner import schemas
from scanner.errors import InputFileError, ModelwardError
from scanner.findings import Finding
from scanner.inventory import RESOURCE_TYPES, Inventory, Resource, from_jsonable
from scanner.policy.conditions import as_datetime
from scanner.policy.evaluate import CHECK_DETAIL, evaluate_policy
from scanner.policy.model import Policy
from scanner.policy.params import apply
from scanner.yamlpos import LoadedYaml, dates_to_text, load_yaml_file


@dataclass(frozen=True)
class CaseResult:
    file: str
    line: int
    name: str
    policy_id: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def test_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            Path(dirpath, n) for n in sorted(filenames) if n.endswith(("_test.yaml", "_test.yml"))
        )
    return found


def _resources(
    loaded: LoadedYaml, items: Sequence[Mapping[str, Any]], path: tuple[str | int, ...]
) -> list[Resource]:
    out = []
    for i, item in enumerate(items):
        if item["type"] not in RESOURCE_TYPES:
            raise InputFileError(
                loaded.error_line((*path, i, "type"), f"unknown resource type '{item['type']}'")
            )
        out.append(
            Resource(
                id=item["id"],
                type=item["type"],
                name=item.get("name", item["id"]),
                source="fixture",
                attributes=from_jsonable(item.get("attributes", {})),
            )
        )
    return out


def _clock(loaded: LoadedYaml, value: Any, path: tuple[str | int, ...]) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    moment = as_datetime(value)
    if moment is None:
        raise InputFileError(loaded.error_line(path, f"'now' is not a date: {value!r}"))
    return moment


def run_file(file: Path, policies: Mapping[str, Policy]) -> list[CaseResult]:
    loaded = load_yaml_file(file, what="policy test file")
    # Dates as text, as in results.json: fixtures then behave exactly like scanned resources.
    loaded.data = dates_to_text(loaded.data)
    schemas.check(loaded, "policy-test.schema.json", "policy test file")
    doc = loaded.data
    shared = _resources(loaded, doc.get("resources", []), ("resources",))
    results = []
    for index, case in enumerate(doc["cases"]):
        path = ("cases", index)
        line = loaded.where(path).line
        policy_id = case.get("policy", doc.get("policy"))
        if not policy_id:
            raise InputFileError(
                loaded.error_line(
                    path, "no 'policy' for this case (set it on the case or at the top of the file)"
                )
            )
        if policy_id not in policies:
            raise InputFileError(
                loaded.error_line(
                    (*path, "policy") if "policy" in case else ("policy",),
                    f"unknown policy id '{policy_id}'",
                )
            )
        policy = policies[policy_id]
        overrides = {**doc.get("params", {}), **case.get("params", {})}
        if overrides:
            try:
                policy = apply([policy], {policy.id: overrides})[0][0]
            except ModelwardError as exc:
                where = (*path, "params") if "params" in case else ("params",)
                raise InputFileError(loaded.error_line(where, exc.message)) from None
        now = _clock(loaded, case.get("now", doc.get("now")), (*path, "now"))
        inventory = Inventory(
            [*shared, *_resources(loaded, case.get("resources", []), (*path, "resources"))]
        )
        findings = {f.resource_id: f for f in evaluate_policy(replace(policy), inventory, now)}
        problems = []
        for resource_id, expected in case["expect"].items():
            want = expected if isinstance(expected, str) else expected["status"]
            got = findings.get(resource_id)
            if got is None:
                problems.append(
                    f"{resource_id}: expected {want}, but the policy produced no finding for it"
                )
                continue
            if got.status != want:
                problems.append(f"{resource_id}: expected {want}, got {got.status} ({got.message})")
            elif (
                isinstance(expected, Mapping)
                and "message_contains" in expected
                and expected["message_contains"] not in _told(got)
            ):
                problems.append(
                    f"{resource_id}: message {got.message!r} does not contain "
                    f"{expected['message_contains']!r}"
                )
        results.append(CaseResult(loaded.path, line, case["name"], policy_id, tuple(problems)))
    return results


def _told(finding: Finding) -> str:
    """What `message_contains` searches: the message and, when a template wrote the message,
    the evaluator's own account (so a test can pin the deciding value either way)."""
    detail = finding.evidence.get(CHECK_DETAIL)
    return f"{finding.message}\n{detail}" if isinstance(detail, str) else finding.message
