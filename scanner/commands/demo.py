"""`modelward demo`: a local estate (MLflow + emulated AWS), scanned end to end.

The estate itself (servers, seeding, the generated config) is `scanner.demo`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.commands.arguments import examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.demo import DEFAULT_PORT
from scanner.errors import UsageError

NAME = "demo"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    demo = subparsers.add_parser(
        NAME,
        help="start a local demo estate (MLflow + emulated AWS), scan it, write every output",
        description="Start an MLflow registry and an emulated AWS account on this machine, "
        "seed them with a realistic mix of well-kept and misconfigured models, buckets, roles "
        "and endpoints, scan them with the built-in pack and write every output format. "
        "Nothing leaves the machine. The config it scanned with is written to "
        "DIR/estate/modelward.yaml, a worked example. Needs the demo extra: "
        "pip install 'modelward[demo]' (make demo installs it). Exits 0 when the demo ran "
        "(its findings are the point), 3 when a source could not be read.",
        epilog=examples(
            "modelward demo",
            "modelward demo --keep-running     # explore the estate after the scan",
            "modelward demo -o /tmp/demo2 && modelward diff out/demo/results.json "
            "/tmp/demo2/results.json",
            notes=(
                "Resource ids are the same from run to run (MLflow on port 27100, the emulated "
                "AWS account on 27101, unless --port says otherwise or they are taken), so "
                "diff of two demo runs shows only what changed.",
            ),
        ),
    )
    demo.add_argument(
        "-o",
        "--output-dir",
        default="out/demo",
        metavar="DIR",
        help="where to write the outputs (default: out/demo)",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="after the scan, keep MLflow and the emulated AWS account running (and print "
        "their addresses) until Ctrl-C",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="PORT",
        help=f"MLflow listens on PORT, the emulated AWS account on PORT+1 (default: "
        f"{DEFAULT_PORT}; free ports when taken)",
    )
    common(demo)


def run(args: argparse.Namespace) -> int:
    from scanner.commands import scan
    from scanner.demo.runner import run_demo

    if not 1024 <= args.port <= 65534:
        raise UsageError(f"--port {args.port}: give a port from 1024 to 65534")
    return run_demo(
        Path(args.output_dir),
        scan.run_with_config,
        base_port=args.port,
        keep_running=args.keep_running,
    )
