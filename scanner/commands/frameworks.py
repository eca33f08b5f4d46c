"""`modelward frameworks list|show`: the framework mappings and the policies behind each control."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from scanner.commands.arguments import add_framework_selection, add_policy_selection, examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_OK

if TYPE_CHECKING:
    from scanner.frameworks import Framework

NAME = "frameworks"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    frw = subparsers.add_parser(
        NAME,
        help="list and show framework mappings",
        description="The compliance frameworks results are mapped to, and which policies "
        "(or which attestations, for manual controls) stand behind each control.",
        epilog=examples(
            "modelward frameworks list", "modelward frameworks show iso-iec-42001-2023"
        ),
    )
    frw_sub = frw.add_subparsers(dest="frameworks_command", metavar="ACTION", required=True)
    f_list = frw_sub.add_parser(
        "list",
        help="list the frameworks",
        description="Every loaded framework mapping: id, title, version, number of controls.",
        epilog=examples(
            "modelward frameworks list",
            "modelward frameworks list --framework-file ./acme-controls.yaml --json",
        ),
    )
    f_show = frw_sub.add_parser(
        "show",
        help="show a framework's controls and their policies",
        description="A framework's controls, each with the policies that check it, or "
        "'manual' with the attestation kind that evidences it.",
        epilog=examples(
            "modelward frameworks show owasp-llm-top10-2025",
            "modelward frameworks show maturity --json",
        ),
    )
    f_show.add_argument("framework_id", metavar="ID")
    for p in (f_list, f_show):
        add_framework_selection(p)
        add_policy_selection(p)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        common(p)


def run(args: argparse.Namespace) -> int:
    from scanner import frameworks as fw
    from scanner.commands.policy_pack import load_pack

    pack = load_pack(args)
    files = fw.framework_files(args.framework_file, builtin=not args.no_builtin_policies)
    loaded = fw.load_frameworks(files, [p.id for p in pack.policies])
    return ACTIONS[args.frameworks_command](args, loaded)


def _list(args: argparse.Namespace, loaded: tuple[Framework, ...]) -> int:
    from scanner import frameworks as fw
    from scanner.commands.printing import dump_json, table

    rows = [dict(fw.describe_framework(f)) for f in loaded]
    if args.json:
        dump_json(rows)
    else:
        table(["id", "title", "version", "controls"], rows)
        print(f"{len(rows)} frameworks")
    return EXIT_OK


def _show(args: argparse.Namespace, loaded: tuple[Framework, ...]) -> int:
    from scanner import frameworks as fw
    from scanner.commands.printing import dump_json, table

    found = fw.select(loaded, [args.framework_id])[0]
    controls = [
        {
            "id": c.id,
            "title": c.title,
            "policies": ", ".join(c.policies)
            or f"manual{f' ({c.attestation})' if c.attestation else ''}",
        }
        for c in found.controls
    ]
    if args.json:
        dump_json(
            {
                **fw.describe_framework(found),
                "controls": [
                    {
                        "id": c.id,
                        "title": c.title,
                        "policies": list(c.policies),
                        "attestation": c.attestation,
                    }
                    for c in found.controls
                ],
            }
        )
    else:
        print(f"{found.title} ({found.id}{', ' + found.version if found.version else ''})")
        table(["id", "title", "policies"], controls)
    return EXIT_OK


# The actions `add_parser` declares, by the name argparse stores in `frameworks_command`.
ACTIONS: dict[str, Callable[[argparse.Namespace, tuple[Framework, ...]], int]] = {
    "list": _list,
    "show": _show,
}
