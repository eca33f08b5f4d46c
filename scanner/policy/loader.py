"""Policy files → `Policy` objects, or every problem in every file as `FILE:LINE:COL: message`.

Loading never stops at the first bad file: an author fixing a pack wants the whole list.
A set with any error is refused as a whole (exit 2), so a scan never runs half a pack.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import InputFileError
from scanner.inventory import RESOURCE_TYPES, to_jsonable
from scanner.policy.message import (
    OWN_FIELDS,
    REASONS_SUFFIX,
    TemplateError,
    fields_read,
    parse_template,
    unknown_placeholders,
)
from scanner.policy.model import (
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    MessageTemplate,
    Not,
    ParamRef,
    Policy,
    Quantified,
    RequireInScope,
)
from scanner.policy.parse import ConditionParser
from scanner.schemas import violations
from scanner.yamlpos import LoadedYaml, display_path, load_yaml_file

POLICY_SCHEMA = "policy/schema/policy.schema.json"
MAX_POLICY_BYTES = 1024 * 1024


class PolicyError(InputFileError):
    """A policy file or pack is invalid (exit 2)."""


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]

    def by_id(self) -> dict[str, Policy]:
        return {p.id: p for p in self.policies}

    @property
    def sha256(self) -> str:
        """Digest of the pack as evaluated: ids and documents, independent of file paths."""
        h = hashlib.sha256()
        for policy in self.policies:
            h.update(json.dumps(to_jsonable(policy.document), sort_keys=True).encode())
            h.update(b"\n")
        return h.hexdigest()


def is_policy_file(path: Path) -> bool:
    """Policy files are `*.yaml`/`*.yml`; `*_test.yaml` files hold policy unit tests."""
    return path.suffix in (".yaml", ".yml") and not path.stem.endswith("_test")


def iter_policy_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if not name.startswith(".") and is_policy_file(path):
                yield path


def load_policy_dirs(paths: Iterable[str | os.PathLike[str]]) -> PolicySet:
    """Load every policy under the given files/directories, in order, all or nothing."""
    errors: list[str] = []
    policies: list[Policy] = []
    first_seen: dict[str, Policy] = {}
    seen_roots: set[Path] = set()
    seen_files: set[Path] = set()
    for root in paths:
        root_path = Path(root)
        if root_path.resolve() in seen_roots:  # the same folder named twice is loaded once
            continue
        seen_roots.add(root_path.resolve())
        if not root_path.exists():
            errors.append(f"{display_path(root_path)}: policy directory not found")
            continue
        for file in iter_policy_files(root_path):
            if file.resolve() in seen_files:  # overlapping folders: each file is read once
                continue
            seen_files.add(file.resolve())
            try:
                loaded = load_yaml_file(file, what="policy file", max_bytes=MAX_POLICY_BYTES)
            except InputFileError as exc:
                errors.append(exc.message)
                continue
            policy, file_errors = parse_policy(loaded)
            errors.extend(file_errors)
            if policy is None:
                continue
            if policy.id in first_seen:
                other = first_seen[policy.id]
                errors.append(
                    loaded.error_line(
                        ("id",),
                        f"duplicate policy id '{policy.id}' "
                        f"(first defined in {other.file}:{other.line})",
                    )
                )
                continue
            first_seen[policy.id] = policy
            policies.append(policy)
    if errors:
        summary = errors[0] + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
        raise PolicyError(summary, details=errors)
    return PolicySet(tuple(sorted(policies, key=lambda p: p.id)))


def parse_policy(loaded: LoadedYaml) -> tuple[Policy | None, list[str]]:
    doc = loaded.data
    if not isinstance(doc, Mapping):
        kind = "empty" if doc is None else f"a {type(doc).__name__}"
        return None, [
            loaded.error_line((), f"a policy file must hold one mapping, this one is {kind}")
        ]
    declared = doc.get("params")
    parser_params: Mapping[str, Any] = declared if isinstance(declared, Mapping) else {}
    parser = ConditionParser(loaded, parser_params)
    scope = parser.parse(doc["scope"], ("scope",)) if "scope" in doc else None
    check = parser.parse(doc["check"], ("check",)) if "check" in doc else None
    errors = list(parser.errors)
    # Schema errors inside conditions repeat what the parser said better; keep the rest.
    for path, line in violations(loaded, POLICY_SCHEMA):
        if parser.errors and path[:1] in (("scope",), ("check",)):
            continue
        errors.append(line)
    resource = doc.get("resource")
    if isinstance(resource, str) and resource not in RESOURCE_TYPES:
        close = difflib.get_close_matches(resource, RESOURCE_TYPES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        errors.append(
            loaded.error_line(
                ("resource",),
                f"unknown resource type '{resource}' ({hint}known: {', '.join(RESOURCE_TYPES)})",
            )
        )
    message = None
    if check is not None and isinstance(doc.get("message"), str):
        message = _message_template(loaded, doc["message"], (scope, check), errors)
    if errors or check is None:
        return None, sorted(set(errors), key=_line_key)
    require = doc.get("require_in_scope")
    pos = loaded.where(())
    return Policy(
        id=doc["id"],
        title=doc["title"],
        severity=doc["severity"],
        maturity=doc["maturity"],
        resource=doc["resource"],
        check=check,
        scope=scope,
        params=dict(parser_params),
        require_in_scope=RequireInScope(require.get("at_least", 1), require["message"])
        if require
        else None,
        description=doc.get("description", ""),
        rationale=doc.get("rationale", ""),
        remediation=_remediation(doc.get("remediation")),
        references=tuple(doc.get("references", ())),
        tags=tuple(doc.get("tags", ())),
        file=loaded.path,
        line=pos.line,
        message=message,
        document=doc,
    ), []


def _message_template(
    loaded: LoadedYaml,
    text: str,
    conditions: tuple[Condition | None, ...],
    errors: list[str],
) -> MessageTemplate | None:
    """Parse `message` and check every placeholder names something the policy reads, so a
    typo is refused here rather than printed as a hole in every report."""
    try:
        template = parse_template(text)
    except TemplateError as exc:
        errors.append(
            loaded.error_line(("message",), f"message template, character {exc.offset + 1}: {exc}")
        )
        return None
    read = fields_read(conditions)
    for path, offset in unknown_placeholders(template, read):
        usable = sorted(
            {*OWN_FIELDS, *(f.split(".")[0] for f in read)}
            | {f.split(".")[0] + REASONS_SUFFIX for f in read}
        )
        errors.append(
            loaded.error_line(
                ("message",),
                f"message template, character {offset + 1}: {{{path}}} names a value the "
                f"policy does not read (usable: {', '.join(usable)})",
            )
        )
    return template


def _remediation(value: Any) -> dict[str, Any]:
    """The remediation as plain data: a string is the summary; `providers` stays nested, one
    mapping of steps per provider (the schema has checked the keys)."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"summary": value}
    out: dict[str, Any] = {k: v for k, v in value.items() if k != "providers"}
    if "providers" in value:
        out["providers"] = {name: dict(steps) for name, steps in value["providers"].items()}
    return out


def _line_key(line: str) -> tuple[str, int, int]:
    parts = line.split(":", 3)
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return line, 0, 0


def param_uses(policy: Policy) -> dict[str, set[str]]:
    """Which operators each param feeds, so overrides can be type-checked against them."""
    uses: dict[str, set[str]] = {}

    def walk(cond: Condition | None) -> None:
        if isinstance(cond, AllOf | AnyOf):
            for item in cond.items:
                walk(item)
        elif isinstance(cond, Not | Quantified):
            walk(cond.item)
        elif isinstance(cond, FieldTest) and isinstance(cond.operand, ParamRef):
            uses.setdefault(cond.operand.name, set()).add(cond.op)

    walk(policy.scope)
    walk(policy.check)
    return uses
