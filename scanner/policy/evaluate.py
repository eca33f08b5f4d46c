"""Policies and inventory → findings: one per (policy, resource of its type).

Evaluation is a pure function of the inventory, the policies (with their effective params)
and the clock, so an auditor can re-run it offline from results.json and get the same verdicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from scanner.findings import Finding
from scanner.inventory import Inventory, Resource
from scanner.policy.conditions import (
    EvalContext,
    Outcome,
    Reason,
    describe,
    evaluate,
    texts,
)
from scanner.policy.message import REASONS_SUFFIX, fields_read, render
from scanner.policy.model import Policy
from scanner.policy.outcome import clip_evidence

MAX_MESSAGE = 1000
# Evidence key for the evaluator's own account of a failure when a template tells it in words:
# `$` cannot start an attribute a source reports, so it never collides with a field path.
CHECK_DETAIL = "$check"


def missing_resource_id(resource_type: str) -> str:
    """The id a "required evidence is missing" finding is reported against; stable across scans."""
    return f"modelward:missing/{resource_type}"


def _message(reasons: tuple[Reason, ...]) -> str:
    text = "; ".join(dict.fromkeys(texts(reasons)))
    return text if len(text) <= MAX_MESSAGE else f"{text[:MAX_MESSAGE]}…"


def evaluate_policy(
    policy: Policy,
    inventory: Inventory,
    now: dt.datetime,
    only: frozenset[str] | None = None,
) -> list[Finding]:
    """One finding per resource of the policy's type (of those in `only`, when given: a
    targeted scan judges the resources its target touches, not everything collected)."""
    findings: list[Finding] = []
    in_scope_passed = in_scope_errors = 0
    subjects = inventory.of_type(policy.resource)
    if only is not None:
        subjects = [r for r in subjects if r.id in only]
    # The pass message is the same for every resource: built once, not once per pass.
    passed = f"ok: {describe(policy.check, params=policy.params)}"
    for resource in subjects:
        finding = _evaluate_one(policy, resource, inventory, now, passed)
        findings.append(finding)
        if finding.status == "pass":
            in_scope_passed += 1
        elif finding.status == "error":
            in_scope_errors += 1
    if policy.require_in_scope:
        findings = _apply_requirement(policy, findings, in_scope_passed, in_scope_errors)
    return sorted(findings, key=lambda f: f.resource_id)


def _finding(
    policy: Policy,
    resource_id: str,
    resource_type: str,
    name: str,
    status: str,
    message: str,
    evidence: dict[str, Any],
) -> Finding:
    return Finding(
        policy_id=policy.id,
        title=policy.title,
        severity=policy.severity,
        maturity=policy.maturity,
        resource_id=resource_id,
        resource_type=resource_type,
        resource_name=name,
        status=status,
        message=message,
        evidence=evidence,
    )


def _evaluate_one(
    policy: Policy, resource: Resource, inventory: Inventory, now: dt.datetime, passed: str
) -> Finding:
    ctx = EvalContext(inventory=inventory, params=policy.params, now=now)

    def done(status: str, message: str) -> Finding:
        return _finding(
            policy,
            resource.id,
            resource.type,
            resource.name,
            status,
            message,
            dict(sorted(ctx.evidence.items())),
        )

    if policy.scope is not None:
        scoped = evaluate(policy.scope, resource, ctx)
        if scoped.value is False and scoped.absent:
            # Whether the policy applies hangs on a value nobody reported: fail closed. A
            # policy for which a missing value means "out of scope" says so with `exists`.
            return done(
                "error",
                f"cannot tell whether the policy applies: {_message(scoped.reasons)}",
            )
        if scoped.value is False:
            return done("not_applicable", f"out of scope: {_message(scoped.reasons)}")
        if scoped.value is None:
            return done(
                "error", f"cannot tell whether the policy applies: {_message(scoped.reasons)}"
            )
    outcome: Outcome = evaluate(policy.check, resource, ctx)
    if outcome.value is True:
        return done("pass", passed)
    if outcome.value is None:
        return done("error", f"cannot evaluate: {_message(outcome.reasons)}")

    def record(path: str, value: object) -> None:
        ctx.evidence.setdefault(path, clip_evidence(value))

    if policy.message is None:
        return done("fail", _clip(_fallback(policy, resource, inventory, outcome, record)))
    detail = _message(outcome.reasons)

    text = render(policy.message, resource, inventory, record, detail)
    ctx.evidence[CHECK_DETAIL] = detail
    return done("fail", _clip(text))


def _fallback(
    policy: Policy,
    resource: Resource,
    inventory: Inventory,
    outcome: Outcome,
    record: Callable[[str, Any], None],
) -> str:
    """A failure in words for a policy without a message template: the resource, what the
    check found, and the `<field>_reasons` of each derived attribute the failure names, so a
    policy gets the estate's own explanation ("role X can read … with no VPC condition")
    without writing a template."""
    text = f"{resource.name}: {_message(outcome.reasons)}"
    for path in sorted(fields_read([policy.check])):
        if f"`{path}`" not in text:
            continue
        why = inventory.resolve(resource, path + REASONS_SUFFIX)
        if isinstance(why, list) and why and all(isinstance(w, str) for w in why):
            record(path + REASONS_SUFFIX, why)
            text += f". Why `{path}` is what it is: {'; '.join(dict.fromkeys(why))}"
    return text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else f"{text[:MAX_MESSAGE]}…"


def _apply_requirement(
    policy: Policy, findings: list[Finding], passed: int, errors: int
) -> list[Finding]:
    """Evidence policies: fewer than `at_least` passing resources in scope is itself a finding.

    Once enough evidence passes, older failing evidence (an expired review next to its renewal)
    no longer stands in the way; it is kept, as not_applicable, with the reason.
    """
    assert policy.require_in_scope is not None
    need = policy.require_in_scope.at_least
    if passed >= need:
        return [
            f
            if f.status != "fail"
            else _finding(
                policy,
                f.resource_id,
                f.resource_type,
                f.resource_name,
                "not_applicable",
                f"superseded: {passed} other {policy.resource}(s) satisfy this policy "
                f"({f.message})",
                dict(f.evidence),
            )
            for f in findings
        ]
    in_scope = sum(1 for f in findings if f.status != "not_applicable")
    status = "error" if passed + errors >= need else "fail"
    found = f"{passed} of {in_scope} {policy.resource}(s) in scope pass, {need} required"
    return [
        *findings,
        _finding(
            policy,
            missing_resource_id(policy.resource),
            policy.resource,
            f"(no passing {policy.resource})",
            status,
            f"{policy.require_in_scope.message} ({found})",
            {},
        ),
    ]


def evaluate_all(
    policies: Iterable[Policy],
    inventory: Inventory,
    now: dt.datetime,
    on_policy: Callable[[Policy], None] | None = None,
    only: frozenset[str] | None = None,
) -> list[Finding]:
    findings: list[Finding] = []
    for policy in policies:
        if on_policy:
            on_policy(policy)
        findings.extend(evaluate_policy(policy, inventory, now, only))
    return sorted(findings, key=lambda f: f.key)
