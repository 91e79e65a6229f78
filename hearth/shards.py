"""Shards: split a portfolio (patches) or a fleet (Modbus gateways) over N workers, stably.

`--shard i/N` (1 <= i <= N) names one of N workers. A key (a patch name, a gateway's
``host:port``) belongs to exactly one shard, chosen by rendezvous hashing: the shard whose
sha256(``"<shard>:<key>"``) is highest. The same key gives the same shard in every process and
on every machine (unlike Python's `hash`, which is salted per process), and when N grows to
N + 1 only about one key in N + 1 moves (a modulo would move most of them), so forecast caches
and collector sessions mostly stay where they are.

Households go with their patch (the registry's ``patch``, never empty), so an officer's patch is
never split between workers. A household that InfluxDB knows but the registry does not has no
patch: it is placed by its own id (``household:<id>``), so it still lands in exactly one shard.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hearth.errors import HearthError
from hearth.registry.db import registry_exists

HOUSEHOLDS_PER_QUERY = 1000  # alternatives in one `"household" =~ /.../` filter


@dataclass(frozen=True)
class Shard:
    """Worker `index` of `count` (1-based, as written on the command line: ``2/3``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise HearthError(f"shard {self.index}/{self.count}: give i/N with 1 <= i <= N,"
                              " e.g. --shard 2/3")

    @classmethod
    def parse(cls, text: str) -> Shard:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not m:
            raise HearthError(f"--shard {text!r}: write i/N, e.g. --shard 2/3 (worker 2 of 3)")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        """For file names and tags: ``2of3``."""
        return f"{self.index}of{self.count}"

    def owns(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) that `key` belongs to: highest sha256 of ``"<shard>:<key>"``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if count == 1:
        return 1
    best, best_score = 1, b""
    for i in range(1, count + 1):
        score = hashlib.sha256(f"{i}:{key}".encode()).digest()
        if score > best_score:
            best, best_score = i, score
    return best


def household_key(household_id: str, patch_of: Mapping[str, str]) -> str:
    """What places a household: its patch, or its own id when the registry has no row."""
    patch = patch_of.get(household_id)
    return patch if patch else f"household:{household_id}"


def households_in(shard: Shard | None, households: Iterable[str],
                  patch_of: Mapping[str, str]) -> list[str]:
    """The households (sorted) of `shard`; all of them when `shard` is None."""
    ids = sorted(set(households))
    if shard is None:
        return ids
    return [h for h in ids if shard.owns(household_key(h, patch_of))]


def registry_patches(path) -> dict[str, str]:
    """household_id -> patch from the registry; {} when there is no registry file yet."""
    if not registry_exists(path):
        return {}
    from hearth.registry.store import Registry

    with Registry(path, migrate_schema=False) as reg:
        return {str(r[0]): str(r[1]) for r in
                reg.query("SELECT household_id, patch FROM households").fetchall()}


def household_filters(households: Sequence[str],
                      per_query: int = HOUSEHOLDS_PER_QUERY) -> list[str]:
    """InfluxQL conditions ``"household" =~ /^(?:a|b)$/``, one per group of `per_query`
    households (each query stays a few tens of kB, whichever server parses it)."""
    out = []
    for lo in range(0, len(households), per_query):
        part = households[lo:lo + per_query]
        alternatives = "|".join(re.escape(h).replace("/", "\\/") for h in part)
        out.append(f'"household" =~ /^(?:{alternatives})$/')
    return out


def gateway_key(host: str, port: int) -> str:
    """What places a Modbus gateway (and every meter behind it) on one collector."""
    return f"{host}:{port}"


def add_shard_argument(parser, what: str) -> None:
    """`--shard i/N` on a command; `what` says what is split."""
    parser.add_argument("--shard", type=shard_type, metavar="i/N",
                        help=f"worker i of N: only {what} (a stable hash of the patch name;"
                             " N workers together cover everything once; docs/sharding.md)")


def shard_type(text: str) -> Shard:
    import argparse

    try:
        return Shard.parse(text)
    except HearthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
