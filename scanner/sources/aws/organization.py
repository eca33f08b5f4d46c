"""The accounts of an AWS Organization (`aws:org=true,role_name=NAME`), before any is read.

Read from the management account (or a delegated administrator) with the base credentials:
`organizations:ListAccounts`, and, when the scan is limited to organizational units,
`ListAccountsForParent` and `ListOrganizationalUnitsForParent` down each named OU (an account
in a child OU belongs to its ancestors too). Only ACTIVE accounts are read: a suspended or
closing account answers nothing. The list itself failing stops the source (nothing can be
read without it); an OU that does not exist is a problem line, and the other OUs are read.

Every page passes the source's shape checks (`answers`): an empty or HTML 200, or a page
without its `Accounts`, would otherwise read as an organisation with no accounts, and a scan
of nothing passes every gate. An account is active by its `State` (AWS replaced `Status` with
it in 2025 and stops returning `Status`); `Status` is read where `State` is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scanner.sources.aws import answers
from scanner.sources.aws.options import AwsOptions
from scanner.sources.faults import MalformedAnswer
from scanner.sources.interface import SourceError

# Deeper than AWS allows (five levels of OUs under the root): a loop guard, not a limit.
MAX_OU_DEPTH = 10


@dataclass(frozen=True)
class Candidate:
    """An account to read, before its role is assumed (a shard picks from these first)."""

    account: str
    label: str
    role_arn: str | None = None  # None: the base credentials' own account
    name: str | None = None
    ou: str | None = None


@dataclass(frozen=True)
class Member:
    account: str
    name: str
    partition: str


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(exc).__name__)


def _pages(client: Any, method: str, key: str, **params: Any) -> list[Any]:
    paginator = client.get_paginator(method)
    model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[method])
    items: list[Any] = []
    for page in paginator.paginate(**params):
        answers.check_fields("organizations", model, page)
        for item in page[key]:
            if not isinstance(item, dict) or not isinstance(item.get("Id"), str) or not item["Id"]:
                raise MalformedAnswer(answers.operation_name(model), f"an item without Id in {key}")
        items.extend(page[key])
    return items


def client_for(session: Any, region: str, config: Any) -> Any:
    """An Organizations client whose answers are checked for their wire format first."""
    client = session.client("organizations", region_name=region, config=config)
    client.meta.events.register("before-parse", answers.check_body)
    return client


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MalformedAnswer) else _code(exc)


def members(text: str, client: Any) -> list[Member]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        listed = _pages(client, "list_accounts", "Accounts")
    except MalformedAnswer as exc:
        raise SourceError(
            f"source {text!r}: cannot list the organization's accounts ({exc})"
        ) from None
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(
            f"source {text!r}: cannot list the organization's accounts "
            f"(organizations:ListAccounts: {_code(exc)}); org=true needs the management "
            "account or a delegated administrator"
        ) from None
    out = []
    for account in listed:
        if str(account.get("State") or account.get("Status") or "ACTIVE") != "ACTIVE":
            continue
        arn = str(account.get("Arn", "arn:aws:"))
        out.append(Member(str(account["Id"]), str(account.get("Name", "")), arn.split(":")[1]))
    return out


def under(client: Any, ou: str) -> set[str]:
    """Every account id in `ou` and the OUs below it."""
    found: set[str] = set()
    level = [ou]
    for _ in range(MAX_OU_DEPTH):
        if not level:
            break
        children: list[str] = []
        for parent in level:
            found.update(
                str(a["Id"]) for a in _pages(client, "list_accounts_for_parent", "Accounts",
                                             ParentId=parent)
            )  # fmt: skip
            children += [
                str(o["Id"])
                for o in _pages(
                    client, "list_organizational_units_for_parent", "OrganizationalUnits",
                    ParentId=parent,
                )
            ]  # fmt: skip
        level = children
    return found


def accounts(
    text: str, options: AwsOptions, session: Any, region: str, config: Any
) -> tuple[list[Candidate], list[str]]:
    """A candidate for every active member the filters keep; problems with the filters."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = client_for(session, region, config)
    found = members(text, client)
    problems: list[str] = []
    in_ou: dict[str, str] = {}
    excluded: set[str] = set()
    for ou, into in [*((o, True) for o in options.ous), *((o, False) for o in options.exclude_ous)]:
        try:
            ids = under(client, ou)
        except (BotoCoreError, ClientError, MalformedAnswer) as exc:
            problems.append(f"organizational unit {ou}: cannot list its accounts ({_why(exc)})")
            continue
        if into:
            for account in sorted(ids):
                in_ou.setdefault(account, ou)
        else:
            excluded |= ids
    if options.ous:
        found = [m for m in found if m.account in in_ou]
    found = [m for m in found if m.account not in excluded]
    role = options.role_name
    return [
        Candidate(
            account=m.account,
            label=f"account {m.account}",
            role_arn=f"arn:{m.partition}:iam::{m.account}:role/{role}",
            name=m.name or None,
            ou=in_ou.get(m.account),
        )
        for m in found
    ], problems
