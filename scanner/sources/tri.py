"""Three-valued logic over `bool | Unknown`, for the access evaluations of the providers.

Unknown is never pass (docs/design.md): an `or` is True as soon as one side is True and
otherwise carries the first Unknown (with its reason) before it settles on False; an `and` is
False as soon as one side is False and otherwise carries the first Unknown before True. The
reason of the Unknown that decided travels with the answer.
"""

from __future__ import annotations

from scanner.inventory import Unknown

Tri = bool | Unknown


def t_or(*values: Tri) -> Tri:
    if any(v is True for v in values):
        return True
    return next((v for v in values if isinstance(v, Unknown)), False)


def t_and(*values: Tri) -> Tri:
    if any(v is False for v in values):
        return False
    return next((v for v in values if isinstance(v, Unknown)), True)


def t_not(value: Tri) -> Tri:
    return value if isinstance(value, Unknown) else not value
