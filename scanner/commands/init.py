"""`modelward init`: a commented starter `modelward.yaml` for the sources found here."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_OK, UsageError

NAME = "init"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    init = subparsers.add_parser(
        NAME,
        help="write a starter modelward.yaml for the sources found on this machine",
        description="Write a commented modelward.yaml with a source for each thing found: "
        "MLflow (MLFLOW_TRACKING_URI, or a ./mlruns store), AWS (credentials boto3 would use, "
        "found without calling AWS), Azure (the Azure CLI's default subscription, or "
        "AZURE_SUBSCRIPTION_ID), Google Cloud (gcloud's project and region, with application "
        "default credentials), a ./models directory, an evidence file. Nothing is "
        "contacted. Sources not found are listed as commented examples. An existing file is "
        "never overwritten without --force.",
        epilog=examples(
            "modelward init",
            "modelward init ci/modelward.yaml && modelward scan -c ci/modelward.yaml",
            "modelward init --force",
        ),
    )
    init.add_argument(
        "file",
        nargs="?",
        default="modelward.yaml",
        metavar="FILE",
        help="the file to write (default: modelward.yaml); sources are looked for in its "
        "directory, since the config's relative paths are relative to it",
    )
    init.add_argument("--force", action="store_true", help="overwrite FILE when it exists")
    common(init)


def run(args: argparse.Namespace) -> int:
    import yaml

    from scanner import schemas
    from scanner.commands.starter import detect, hints, render
    from scanner.outputs.interface import prepare_output_dir, write_atomically
    from scanner.yamlpos import display_path

    target = Path(args.file)
    if target.is_dir():
        raise UsageError(f"{args.file}: is a directory; give the config file's name")
    if target.exists() and not args.force:
        raise UsageError(f"{args.file} exists: keep it, or overwrite it with --force")
    found = detect(target.parent if str(target.parent) else Path("."), os.environ)
    text = render(found, hints(os.environ))
    problems = list(schemas.validator("config.schema.json").iter_errors(yaml.safe_load(text)))
    if problems:  # a bug, not the user's: never write a config that scan would refuse
        raise RuntimeError(f"the starter config does not match its schema: {problems[0].message}")
    prepare_output_dir(target.parent)
    write_atomically(target.parent, {target.name: text.encode("utf-8")})
    if not args.quiet:
        shown = display_path(target)
        print(f"wrote {shown}: {len(found)} source(s) found", file=sys.stdout)
        for item in found:
            print(f"  {item.spec}  ({item.why})")
        if found:
            print(f"next: modelward scan{'' if shown == 'modelward.yaml' else f' -c {shown}'}")
        else:
            print(f"next: list a source in {shown} (it has examples), then modelward scan")
    return EXIT_OK
