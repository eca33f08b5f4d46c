"""Policies and conditions as frozen data, independent of how they were written in YAML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES), start=1)}
# The ladder; "foundational" is the floor nobody has to earn, so no policy sits on it.
RUNGS = ("foundational", "applied", "advanced", "strategic")

# operator → kind of operand. Kept in one table so the loader, the schema test and the docs
# agree on the vocabulary.
OPERATORS: dict[str, str] = {
    "exists": "bool",
    "equals": "any",
    "not_equals": "any",
    "in": "list",
    "not_in": "list",
    "contains": "any",
    "matches": "regex",
    "at_least": "number",
    "at_most": "number",
    "count_at_least": "count",
    "count_at_most": "count",
    "within_days": "number",
    "older_than_days": "number",
    "in_future": "bool",
}
QUANTIFIERS = ("any_item", "every_item", "no_item")
COMBINATORS = ("all", "any", "not")


@dataclass(frozen=True)
class ParamRef:
    """`{param: name}` in place of an operand: resolved from the policy's effective params."""

    name: str


@dataclass(frozen=True)
class Condition:
    """Base of every condition node; `where` is "FILE:LINE:COL" for messages about it."""

    where: str


@dataclass(frozen=True)
class AllOf(Condition):
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf(Condition):
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not(Condition):
    item: Condition


@dataclass(frozen=True)
class FieldTest(Condition):
    """`field` compared with one operator. An empty field means the current item itself."""

    field: str
    op: str
    operand: Any
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Quantified(Condition):
    """`any_item` / `every_item` / `no_item`: a condition over each element of a list field."""

    field: str
    quantifier: str
    item: Condition


@dataclass(frozen=True)
class RequireInScope:
    """Policies about evidence that must exist (attestations): none in scope is a failure."""

    at_least: int
    message: str


@dataclass(frozen=True)
class MessageTemplate:
    """A parsed message template (scanner/policy/message.py): literal text and field paths,
    alternating (literal first)."""

    source: str
    parts: tuple[str, ...]  # even indexes: literal text; odd indexes: field paths
    offsets: tuple[int, ...] = ()  # where each placeholder starts in `source`

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parts[1::2]


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    severity: str
    maturity: str
    resource: str
    check: Condition
    scope: Condition | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    require_in_scope: RequireInScope | None = None
    description: str = ""
    rationale: str = ""
    # `summary`, `console`, `cli`, `terraform`, `other` (provider-neutral text), `providers`
    # (provider name → the same keys, for that provider only) and `providers_note`.
    remediation: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    file: str = ""
    line: int = 1
    # How a failure is told in words; None falls back to the evaluator's own reasons.
    message: MessageTemplate | None = None
    # The document as written (plain data); hashed for the policy-pack digest and shown by
    # `policies show`.
    document: Mapping[str, Any] = field(default_factory=dict)
