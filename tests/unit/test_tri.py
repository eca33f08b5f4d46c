"""`sources.tri`: three-valued or/and/not, where an Unknown is never read as a pass."""

from __future__ import annotations

from scanner.inventory import Unknown
from scanner.sources.tri import t_and, t_not, t_or

DENIED = Unknown("denied: s3:GetBucketPolicy")
THROTTLED = Unknown("throttled past retries")


def test_or_is_true_on_any_true_else_the_first_unknown_else_false() -> None:
    assert t_or(False, DENIED, True) is True
    assert t_or(False, DENIED, THROTTLED) is DENIED
    assert t_or(False, False) is False
    assert t_or() is False


def test_and_is_false_on_any_false_else_the_first_unknown_else_true() -> None:
    assert t_and(True, DENIED, False) is False
    assert t_and(True, THROTTLED, DENIED) is THROTTLED
    assert t_and(True, True) is True
    assert t_and() is True


def test_not_keeps_an_unknown_with_its_reason() -> None:
    assert t_not(True) is False and t_not(False) is True
    assert t_not(DENIED) is DENIED
