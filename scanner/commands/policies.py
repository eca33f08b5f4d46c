"""`modelward policies list|show|validate|test|schema`: the policy pack, for its authors."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from scanner.commands.arguments import add_policy_selection, examples
from scanner.commands.interface import AddCommon, Subparsers
from scanner.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from scanner.outputs.remediation import PROVIDERS, one_provider

NAME = "policies"


def add_parser(subparsers: Subparsers, common: AddCommon) -> None:
    pol = subparsers.add_parser(
        NAME,
        help="list, show, validate and test policies",
        description="The policy pack: the built-in policies and your own (--policies DIR).",
        epilog=examples(
            "modelward policies list",
            "modelward policies show MW-STO-01",
            "modelward policies validate ./my-policies",
            "modelward policies test ./my-policies",
            "modelward policies schema > policy.schema.json",
        ),
    )
    pol_sub = pol.add_subparsers(dest="policies_command", metavar="ACTION", required=True)
    p_list = pol_sub.add_parser(
        "list",
        help="list the policies",
        description="The policies that would be evaluated: id, severity, maturity rung, the "
        "resource type each checks, and its title.",
        epilog=examples(
            "modelward policies list",
            "modelward policies list --policies ./my-policies --json",
            "modelward policies list --no-builtin-policies --policies ./my-policies",
        ),
    )
    add_policy_selection(p_list)
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_show = pol_sub.add_parser(
        "show",
        help="show one policy",
        description="One policy as its YAML file has it (remediation snippets keep their "
        "lines), preceded by the file it comes from.",
        epilog=examples(
            "modelward policies show MW-INT-03",
            "modelward policies show ACME-ART-01 --policies ./my-policies",
        ),
    )
    p_show.add_argument("policy_id", metavar="ID")
    p_show.add_argument(
        "--provider",
        choices=PROVIDERS,
        help="show only this provider's remediation steps (besides the provider-neutral ones)",
    )
    add_policy_selection(p_show)
    p_val = pol_sub.add_parser(
        "validate",
        help="validate policy files (exit 2 on any error)",
        description="Check policy files against the policy schema and the evaluator's rules; "
        "exit 2 with one line per problem (FILE:LINE:COL).",
        epilog=examples("modelward policies validate ./my-policies ./team-policies"),
    )
    p_val.add_argument("dirs", nargs="+", metavar="DIR")
    p_test = pol_sub.add_parser(
        "test",
        help="run policy unit tests (*_test.yaml)",
        description="Run the *_test.yaml files under DIR against the policies they name; exit "
        "1 when a case fails. See docs/policy-authoring.md.",
        epilog=examples(
            "modelward policies test ./my-policies",
            "modelward policies test ./my-policies/no-pickle_test.yaml -v",
            "modelward policies test ./my-policies --with-builtin",
        ),
    )
    p_test.add_argument("dir", metavar="DIR")
    p_test.add_argument(
        "--policies",
        action="append",
        default=[],
        metavar="DIR",
        help="more policy directories the tests may use",
    )
    p_test.add_argument(
        "--with-builtin", action="store_true", help="the tests may also use the built-in pack"
    )
    pol_sub.add_parser(
        "schema",
        help="print the policy JSON Schema (for editors: yaml-language-server, IDEs)",
        description="Print the JSON Schema of a policy file, for editors that complete and "
        "check YAML as it is typed.",
        epilog=examples("modelward policies schema > .schemas/policy.schema.json"),
    )
    for p in (p_list, p_show, p_val, p_test):
        common(p)


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.policies_command](args)


def _list(args: argparse.Namespace) -> int:
    from scanner.commands.policy_pack import load_pack
    from scanner.commands.printing import dump_json, table

    pack = load_pack(args)
    rows = [
        {
            "id": p.id,
            "severity": p.severity,
            "maturity": p.maturity,
            "resource": p.resource,
            "title": p.title,
            "file": p.file,
        }
        for p in pack.policies
    ]
    if args.json:
        dump_json(rows)
    else:
        table(["id", "severity", "maturity", "resource", "title"], rows)
        print(f"{len(rows)} policies")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    import yaml

    from scanner.commands.policy_pack import load_pack

    dumper = _block_dumper()
    policy = load_pack(args).by_id().get(args.policy_id)
    if policy is None:
        raise UsageError(f"no policy with id '{args.policy_id}'")
    document = dict(policy.document)
    if args.provider:
        document = one_provider(document, args.provider)
    print(f"# {policy.file}")
    print(
        yaml.dump(
            document,
            Dumper=dumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        ),
        end="",
    )
    return EXIT_OK


def _block_dumper() -> type:
    """A YAML dumper that writes multi-line strings (CLI and Terraform snippets) as literal
    blocks, the way policy files hold them, instead of one quoted line full of `\\n`."""
    import yaml

    class BlockDumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    BlockDumper.add_representer(str, text)
    return BlockDumper


def _schema(args: argparse.Namespace) -> int:
    from scanner.commands.printing import dump_json
    from scanner.schemas import load_schema

    dump_json(load_schema("policy/schema/policy.schema.json"))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from scanner.policy.loader import load_policy_dirs

    pack = load_policy_dirs(args.dirs)
    print(f"{len(pack.policies)} policies valid in {', '.join(args.dirs)}")
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    from scanner.bundled import bundled_dir
    from scanner.policy.loader import load_policy_dirs
    from scanner.policy.testing import run_file, test_files
    from scanner.terminal import safe

    root = Path(args.dir)
    if not root.exists():
        raise UsageError(f"{args.dir}: no such file or directory")
    dirs = [bundled_dir("policies")] if args.with_builtin else []
    policy_root = root if root.is_dir() else root.parent
    pack = load_policy_dirs([*dirs, policy_root, *args.policies])
    files = test_files(root)
    if not files:
        raise UsageError(f"{args.dir}: no policy test files (*_test.yaml)")
    by_id = pack.by_id()
    outcomes = []
    for file in files:
        outcomes.extend(run_file(file, by_id))
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        if o.ok and not args.verbose:
            continue
        mark = "PASS" if o.ok else "FAIL"
        print(f"{mark} {o.file}:{o.line} {o.policy_id}: {safe(o.name)}")
        for problem in o.problems:
            print(f"     {safe(problem, 600)}")
    tested = sorted({o.policy_id for o in outcomes})
    untested = sorted(
        set(by_id)
        - set(tested)
        - ({p.id for p in load_policy_dirs(dirs).policies} if dirs else set())
    )
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} policy test cases passed "
        f"({len(files)} file(s), {len(tested)} policies tested)"
    )
    if untested:
        print(f"policies without tests: {', '.join(untested)}")
    return EXIT_FINDINGS if failed else EXIT_OK


# The actions `add_parser` declares, by the name argparse stores in `policies_command`.
ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _list,
    "show": _show,
    "validate": _validate,
    "test": _test,
    "schema": _schema,
}
