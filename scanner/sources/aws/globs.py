"""IAM wildcard patterns (`*`, `?`, policy variables) against strings and string prefixes.

Three questions about a pattern and an object-ARN prefix (`arn:aws:s3:::b/models/x/` stands
for every object under it): `glob_matches` (one exact string), `glob_intersects` (some string
starting with the prefix matches: "could this statement apply?") and `glob_covers` (every one
does: "does this Deny certainly apply?"). fnmatch cannot answer the last two, and treats `[`
as a character class, which IAM does not: hence a small NFA. A policy variable `${...}` may
take any value when asking whether something could be allowed, and never matches when asking
whether something is certainly denied; `${*}`, `${?}`, `${$}` are the literal characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_VAR = "\x00var"  # token for a policy variable ${...}


def _tokens(pattern: str) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("${", i):
            end = pattern.find("}", i)
            if end < 0:
                out.extend(pattern[i:])
                break
            inner = pattern[i + 2 : end]
            # ${*}, ${?}, ${$} are escapes for the literal character.
            out.append(("lit", inner) if inner in ("*", "?", "$") else _VAR)  # type: ignore[arg-type]
            i = end + 1
            continue
        out.append(pattern[i])
        i += 1
    return tuple(out)


def _step(
    tokens: Sequence[Any], states: set[int], char: str, fold: bool, var_is_star: bool
) -> set[int]:
    nxt: set[int] = set()
    for s in states:
        if s >= len(tokens):
            continue
        t = tokens[s]
        if t == "*" or (t == _VAR and var_is_star):
            nxt.add(s)
        elif t == "?":
            nxt.add(s + 1)
        elif t == _VAR:
            continue
        else:
            lit = t[1] if isinstance(t, tuple) else t
            if lit == char or (fold and lit.lower() == char.lower()):
                nxt.add(s + 1)
    return _closure(tokens, nxt, var_is_star)


def _closure(tokens: Sequence[Any], states: set[int], var_is_star: bool) -> set[int]:
    out = set(states)
    stack = list(states)
    while stack:
        s = stack.pop()
        star = s < len(tokens) and (tokens[s] == "*" or (tokens[s] == _VAR and var_is_star))
        if star and s + 1 not in out:
            out.add(s + 1)
            stack.append(s + 1)
    return out


def _run(
    pattern: str, text: str, fold: bool, var_is_star: bool
) -> tuple[tuple[Any, ...], set[int]]:
    tokens = _tokens(pattern)
    states = _closure(tokens, {0}, var_is_star)
    for ch in text:
        states = _step(tokens, states, ch, fold, var_is_star)
        if not states:
            break
    return tokens, states


_WILD = ("*", "?", "${")


def _plain(pattern: str) -> bool:
    return not any(w in pattern for w in _WILD)


@lru_cache(maxsize=65536)
def glob_matches(pattern: str, text: str, *, fold: bool = False, var_is_star: bool = False) -> bool:
    if pattern == "*":
        return True
    if _plain(pattern):
        return pattern.lower() == text.lower() if fold else pattern == text
    tokens, states = _run(pattern, text, fold, var_is_star)
    return len(tokens) in states


@lru_cache(maxsize=65536)
def glob_intersects(pattern: str, prefix: str, *, fold: bool = False) -> bool:
    """Some string starting with `prefix` matches (a variable may take any value)."""
    if pattern == "*":
        return True
    if _plain(pattern) and not fold:
        return pattern.startswith(prefix)
    _, states = _run(pattern, prefix, fold, True)
    return bool(states)


@lru_cache(maxsize=65536)
def glob_covers(pattern: str, prefix: str, *, fold: bool = False) -> bool:
    """Every string starting with `prefix` (including longer ones) matches.

    Exact: after reading `prefix`, explore every set of pattern positions reachable by any
    continuation (characters that are no literal of the pattern behave alike, so one stands
    for all of them); it covers iff every reachable set includes the end of the pattern. A
    variable never matches here, so a Deny with a variable is not taken as certain.
    """
    if pattern == "*":
        return True
    if "*" not in pattern or not pattern.endswith(("*", "?")):
        return False  # a finite pattern, or one ending in a literal, misses some continuation
    tokens, states = _run(pattern, prefix, fold, False)
    if not states:
        return False
    literals = {t[1] if isinstance(t, tuple) else t for t in tokens if t not in ("*", "?", _VAR)}
    alphabet = [*literals, "\x01"]  # \x01: any character the pattern does not name
    end = len(tokens)
    seen: set[frozenset[int]] = set()
    todo = [frozenset(states)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if end not in current:
            return False
        for ch in alphabet:
            todo.append(frozenset(_step(tokens, set(current), ch, fold, False)))
    return True
