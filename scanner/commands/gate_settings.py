"""The gate settings of a scan: flags beat the config file, which beats the defaults."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from scanner.config import Config
from scanner.gate import GateSettings, Selector


def split(values: Sequence[str]) -> list[str]:
    """Repeatable, comma-separated flag values as one list (`--hard-fail-on a,b --hard-...`)."""
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def gate_settings(args: argparse.Namespace, config: Config) -> GateSettings:
    """Flags beat the config file; a list given as flags replaces the config's list."""

    def pick(flag: Any, configured: Any, default: Any) -> Any:
        return flag if flag not in (None, []) else configured if configured is not None else default

    return GateSettings(
        fail_on=args.fail_on or config.fail_on or "high",
        allow_partial=bool(pick(args.allow_partial, config.allow_partial, False)),
        hard_fail_on=Selector.parse(pick(split(args.hard_fail_on), config.hard_fail_on, ())),
        soft_fail_on=Selector.parse(pick(split(args.soft_fail_on), config.soft_fail_on, ())),
        soft_fail=bool(pick(args.soft_fail, config.soft_fail, False)),
    )
