"""What a command module provides, so `scanner.cli` can hold the commands in one typed table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Protocol, TypeAlias

# argparse has no public name for what `add_subparsers()` returns (generic only in the stubs).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# Adds the arguments every command has (-q, -v): `scanner.commands.arguments.add_common`.
AddCommon = Callable[[argparse.ArgumentParser], None]


class Command(Protocol):
    """A command module (`scanner.commands.scan`, ...): modules satisfy protocols."""

    NAME: str

    def add_parser(self, subparsers: Subparsers, common: AddCommon) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...
