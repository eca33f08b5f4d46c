"""Param overrides (config `params:` and `--param`) applied to policies, type-checked.

An override is scoped to one policy (`MW-IAM-01.max_readers=3`) or to every policy that
declares the param (`max_readers=3`, or `'*'` in config). Unknown policies, undeclared params
and values of the wrong kind for the operators they feed are errors, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import yaml

from scanner.errors import UsageError
from scanner.policy.loader import param_uses
from scanner.policy.model import Policy
from scanner.policy.parse import operand_problem

ALL = "*"


def parse_param_flag(text: str) -> tuple[str, str, Any]:
    """`[POLICY_ID.]name=value` → (scope, name, value); the value is read as a YAML scalar."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param {text!r} is not KEY=VALUE (e.g. MW-IAM-01.max_readers=3)")
    scope, dot, name = key.rpartition(".")
    if (dot and not scope) or not name:
        raise UsageError(f"--param {text!r}: empty policy id or param name")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return (scope if dot else ALL), name, value


def merge(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Later layers win (config, then flags), whatever their scope: `--param max_readers=3`
    overrides a per-policy value from the config file. Within one layer a per-policy value
    beats the same layer's global one."""
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for name, value in layer.get(ALL, {}).items():
            for scope, kept in out.items():
                if scope != ALL:
                    kept.pop(name, None)
            out.setdefault(ALL, {})[name] = value
        for scope, given in layer.items():
            if scope != ALL:
                out.setdefault(scope, {}).update(given)
    return {scope: values for scope, values in out.items() if values}


def from_flags(flags: Iterable[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for flag in flags:
        scope, name, value = parse_param_flag(flag)
        out.setdefault(scope, {})[name] = value
    return out


def _differs(a: Any, b: Any) -> bool:
    """Python says True == 1; a policy comparing with `equals` does not, so neither do we."""
    return type(a) is not type(b) or a != b


def apply(
    policies: Sequence[Policy], overrides: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Policy], dict[str, dict[str, Any]]]:
    """Policies with their effective params, and the overrides that changed a default."""
    by_id = {p.id: p for p in policies}
    for scope, values in overrides.items():
        if scope != ALL and scope not in by_id:
            raise UsageError(f"param override for unknown policy '{scope}'")
        if scope != ALL:
            for name in values:
                if name not in by_id[scope].params:
                    declared = ", ".join(sorted(by_id[scope].params)) or "none"
                    raise UsageError(f"policy {scope} has no param '{name}' (declared: {declared})")
    global_values = overrides.get(ALL, {})
    for name in global_values:
        if not any(name in p.params for p in policies):
            raise UsageError(f"no loaded policy declares param '{name}'")
    changed: dict[str, dict[str, Any]] = {}
    out = []
    for policy in policies:
        effective = dict(policy.params)
        for name, value in {**global_values, **overrides.get(policy.id, {})}.items():
            if name not in effective:
                continue
            for op in sorted(param_uses(policy).get(name, ())):
                problem = operand_problem(op, value)
                if problem:
                    raise UsageError(f"param {policy.id}.{name}={value!r}: {problem}")
            if _differs(value, effective[name]):
                changed.setdefault(policy.id, {})[name] = value
            effective[name] = value
        differs = any(_differs(effective[k], policy.params[k]) for k in effective)
        out.append(replace(policy, params=effective) if differs else policy)
    return out, changed
