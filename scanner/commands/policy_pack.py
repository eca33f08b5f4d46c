"""The policy pack the listing commands (`policies`, `frameworks`) load."""

from __future__ import annotations

import argparse

from scanner.bundled import bundled_dir
from scanner.policy.loader import PolicySet, load_policy_dirs


def load_pack(args: argparse.Namespace) -> PolicySet:
    """The built-in pack (unless --no-builtin-policies), then the --policies directories."""
    dirs = [] if getattr(args, "no_builtin_policies", False) else [bundled_dir("policies")]
    return load_policy_dirs([*dirs, *getattr(args, "policies", [])])
