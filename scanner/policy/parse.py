"""Condition syntax → condition objects, with every mistake reported at its line and column.

The JSON Schema describes the same language for editors; this parser exists because schema
validators explain a bad `oneOf` poorly, and a policy author deserves "unknown operator
'equal' (did you mean 'equals'?)" at the right line rather than a list of alternatives.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from scanner.policy.model import (
    COMBINATORS,
    OPERATORS,
    QUANTIFIERS,
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    Not,
    ParamRef,
    Quantified,
)
from scanner.yamlpos import JsonPath, LoadedYaml

_FIELD_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z0-9_$-]+)*$")
_VOCABULARY = (*COMBINATORS, *QUANTIFIERS, *OPERATORS, "field")


def _suggest(word: str) -> str:
    close = difflib.get_close_matches(word, _VOCABULARY, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class ConditionParser:
    """Parses one policy's conditions; errors accumulate in `errors` as FILE:LINE:COL lines."""

    def __init__(self, loaded: LoadedYaml, params: Mapping[str, Any]) -> None:
        self.loaded = loaded
        self.params = params
        self.errors: list[str] = []
        # Inside a list quantifier a field test may omit `field` (it then tests the item).
        self.item_depth = 0

    def _err(self, path: JsonPath, message: str) -> None:
        self.errors.append(self.loaded.error_line(path, message))

    def _where(self, path: JsonPath) -> str:
        pos = self.loaded.where(path)
        return f"{self.loaded.path}:{pos.line}:{pos.column}"

    def parse(self, node: Any, path: JsonPath) -> Condition | None:
        if not isinstance(node, Mapping) or not node:
            self._err(
                path,
                "a condition must be a non-empty mapping (all/any/not, "
                "a field test, or a list quantifier)",
            )
            return None
        keys = list(node)
        for key in keys:
            if key not in _VOCABULARY:
                self._err((*path, key), f"unknown operator '{key}'{_suggest(key)}")
        if any(k not in _VOCABULARY for k in keys):
            return None
        combinators = [k for k in keys if k in COMBINATORS]
        if combinators:
            if len(keys) > 1:
                self._err(
                    path,
                    f"'{combinators[0]}' cannot be combined with other keys in the "
                    f"same condition ({', '.join(k for k in keys if k != combinators[0])}); "
                    f"nest them in a list",
                )
                return None
            return self._combinator(combinators[0], node[combinators[0]], (*path, combinators[0]))
        return self._field_condition(node, path)

    def _combinator(self, key: str, value: Any, path: JsonPath) -> Condition | None:
        where = self._where(path)
        if key == "not":
            inner = self.parse(value, path)
            return Not(where=where, item=inner) if inner else None
        if not isinstance(value, list) or not value:
            self._err(path, f"'{key}' takes a non-empty list of conditions")
            return None
        items = [self.parse(item, (*path, i)) for i, item in enumerate(value)]
        if any(item is None for item in items):
            return None
        cls = AllOf if key == "all" else AnyOf
        return cls(where=where, items=tuple(i for i in items if i is not None))

    def _field_condition(self, node: Mapping[str, Any], path: JsonPath) -> Condition | None:
        field = node.get("field", "")
        if "field" in node and (not isinstance(field, str) or not _FIELD_RE.match(field)):
            self._err(
                (*path, "field"),
                f"field must be a dotted path like 'artefact.storage.public', got {field!r}",
            )
            return None
        ops = [k for k in node if k != "field"]
        if not ops:
            self._err(path, "a field test needs an operator (e.g. equals, exists, any_item)")
            return None
        if not field and self.item_depth == 0 and ops[0] not in QUANTIFIERS:
            self._err(
                (*path, ops[0]),
                f"'{ops[0]}' needs a 'field' naming the attribute to test (only "
                f"inside any_item/every_item/no_item may it be left out)",
            )
            return None
        if len(ops) > 1:
            self._err(
                (*path, ops[1]),
                f"one operator per condition, found {', '.join(ops)}; use 'all' to combine them",
            )
            return None
        op = ops[0]
        where = self._where((*path, op))
        if op in QUANTIFIERS:
            if not field:
                self._err((*path, op), f"'{op}' needs a 'field' naming the list")
                return None
            self.item_depth += 1
            try:
                inner = self.parse(node[op], (*path, op))
            finally:
                self.item_depth -= 1
            return (
                Quantified(where=where, field=field, quantifier=op, item=inner) if inner else None
            )
        operand = self._operand(op, node[op], (*path, op))
        if operand is _INVALID:
            return None
        pattern = None
        if op == "matches" and isinstance(operand, str):
            try:
                pattern = re.compile(operand)
            except re.error as exc:
                self._err((*path, op), f"invalid regular expression {operand!r}: {exc}")
                return None
        return FieldTest(where=where, field=field, op=op, operand=operand, pattern=pattern)

    def _operand(self, op: str, value: Any, path: JsonPath) -> Any:
        kind = OPERATORS[op]
        if isinstance(value, Mapping) and set(value) == {"param"} and kind != "bool":
            name = value["param"]
            if not isinstance(name, str):
                self._err(path, f"param name must be text, got {name!r}")
                return _INVALID
            if name not in self.params:
                declared = ", ".join(sorted(self.params)) or "none"
                self._err(
                    path, f"param '{name}' is not declared under params (declared: {declared})"
                )
                return _INVALID
            value = self.params[name]
            problem = operand_problem(op, value)
            if problem:
                self._err(path, f"param '{name}' default {value!r}: {problem}")
                return _INVALID
            return ParamRef(name)
        problem = operand_problem(op, value)
        if problem:
            self._err(path, problem)
            return _INVALID
        if kind == "regex":
            return value
        return value


_INVALID = object()


def operand_problem(op: str, value: Any) -> str | None:
    """Why `value` cannot be the operand of `op` (None if it can). Also used for --param."""
    kind = OPERATORS[op]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool" and not isinstance(value, bool):
        return f"'{op}' takes true or false, got {value!r}"
    if kind == "list" and not isinstance(value, list):
        return f"'{op}' takes a list of values, got {value!r}"
    if kind == "regex":
        if not isinstance(value, str):
            return f"'{op}' takes a regular expression string, got {value!r}"
        try:
            re.compile(value)
        except re.error as exc:
            return f"invalid regular expression {value!r}: {exc}"
    if kind == "number" and not is_number:
        return f"'{op}' takes a number, got {value!r}"
    if kind == "count" and not (
        isinstance(value, int) and not isinstance(value, bool) and value >= 0
    ):
        return f"'{op}' takes a whole number ≥ 0, got {value!r}"
    if op in ("within_days", "older_than_days") and is_number and value < 0:
        return f"'{op}' takes a number of days ≥ 0, got {value!r}"
    return None
