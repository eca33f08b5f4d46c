"""The commands of `modelward`: one module per command (or subcommand group).

Each module has `NAME`, `add_parser(subparsers, common)`, which adds the command and its
arguments, and `run(args) -> int`, which does the work in terms of the layers and returns the
exit code (`scanner.commands.interface.Command`). `scanner.cli` builds the top-level parser
from the list of these modules and dispatches by name; nothing else knows the list.

`scanner.cli` imports every command module on every start (it needs every parser for
`--help`), so a command module imports at its top only what its parser needs; the layers it
drives are imported inside `run`. `modelward verify` then does not load the scan pipeline,
and `modelward --help` loads little more than argparse. Of the helpers here, `arguments`
(shared argument groups, help examples) and `interface` are light; `printing`, `documents`,
`gate_settings`, `policy_pack` and `starter` (what `init` detects and writes) are imported only
from `run`.
"""
