"""Which shard of a sharded scan owns a unit of work: a source, or one account of a source.

`modelward scan --shard K/N` runs on a job system that already exists (a CI matrix, a
Kubernetes Indexed Job); each of the N jobs must pick its share without talking to the others,
and the shares must not move when the estate grows, or a job's history (its baseline, its
run time) would follow a different set of accounts every week. Rendezvous hashing gives both:
every shard scores every unit with a hash of (unit, shard index) and the highest score owns it,
so a new account or registry lands in one shard and nothing else moves; going from N to N+1
shards moves only the units the new shard now wins (about one in N+1). SHA-256 rather than
Python's `hash`, which is salted per process.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from scanner.errors import UsageError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 10_000


def owner(unit: str, count: int) -> int:
    """The shard (1..count) that owns `unit`."""
    best, best_score = 1, b""
    for index in range(1, count + 1):
        score = hashlib.sha256(f"{index}\0{unit}".encode()).digest()
        if score > best_score:
            best, best_score = index, score
    return best


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as people count jobs (GitLab's CI_NODE_INDEX is 1-based too)
    count: int

    def owns(self, unit: str) -> bool:
        return owner(unit, self.count) == self.index

    @property
    def text(self) -> str:
        return f"{self.index}/{self.count}"

    @staticmethod
    def parse(text: str) -> Shard:
        match = _SHARD.match(text)
        if match is None:
            raise UsageError(f"--shard {text!r} is not K/N (e.g. 2/8: the second of eight shards)")
        index, count = int(match.group(1)), int(match.group(2))
        if not 1 <= count <= MAX_SHARDS:
            raise UsageError(f"--shard {text!r}: N must be between 1 and {MAX_SHARDS}")
        if not 1 <= index <= count:
            raise UsageError(f"--shard {text!r}: K must be between 1 and N ({count})")
        return Shard(index, count)


def source_unit(name: str) -> str:
    """The unit a whole source is (a registry, a path, a provider that reads one account)."""
    return f"source:{name}"


def account_unit(provider: str, account: str) -> str:
    """The unit one account of a multi-account source is: by provider and account id, not by
    source name, so renaming the source does not move its accounts between shards."""
    return f"account:{provider}:{account}"
