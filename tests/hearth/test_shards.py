"""The shard key (hearth.shards): parsing, stability, partition, little movement when N grows,
and the InfluxQL household filters."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import Counter

import pytest

from hearth.errors import HearthError
from hearth.shards import (
    Shard,
    household_filters,
    household_key,
    households_in,
    shard_of,
)

PATCHES = [f"Patch {i}" for i in range(1, 2001)]


@pytest.mark.parametrize("text, shard", [("1/3", Shard(1, 3)), (" 3 / 3 ", Shard(3, 3)),
                                         ("1/1", Shard(1, 1))])
def test_parse(text, shard):
    assert Shard.parse(text) == shard
    assert str(shard) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/3", ""])
def test_parse_rejects_with_a_clear_error(text):
    with pytest.raises(HearthError, match="i/N"):
        Shard.parse(text)


def test_every_key_in_exactly_one_shard_and_roughly_even():
    for n in (1, 2, 3, 7):
        owners = [[s for s in range(1, n + 1) if Shard(s, n).owns(p)] for p in PATCHES]
        assert all(len(o) == 1 for o in owners)
        counts = Counter(o[0] for o in owners)
        assert min(counts.values()) > 0.8 * len(PATCHES) / n  # binomial spread is ~3%


def test_stable_across_processes_and_independent_of_python_hash():
    # Python's str hash is salted per process; the shard key must not be.
    code = ("from hearth.shards import shard_of; "
            "print([shard_of(f'Patch {i}', 5) for i in range(1, 200)])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
            for seed in ("1", "2", "random")}
    assert len(outs) == 1
    assert outs.pop().strip() == str([shard_of(f"Patch {i}", 5) for i in range(1, 200)])
    # rendezvous by sha256, written out independently of the implementation
    key = "Riverside"
    best = max(range(1, 4), key=lambda i: hashlib.sha256(f"{i}:{key}".encode()).digest())
    assert shard_of(key, 3) == best


def test_growing_from_3_to_4_moves_about_a_quarter():
    moved = sum(shard_of(p, 3) != shard_of(p, 4) for p in PATCHES)
    assert 0.18 < moved / len(PATCHES) < 0.32  # a modulo would move about three quarters
    # and a key that moves goes to the new shard only
    assert all(shard_of(p, 4) == 4 for p in PATCHES if shard_of(p, 3) != shard_of(p, 4))


def test_households_follow_their_patch_and_unknown_ones_their_id():
    patch_of = {f"H{i:06d}": f"Patch {i % 40}" for i in range(600)}
    unknown = [f"X{i}" for i in range(30)]  # in InfluxDB, not in the registry
    parts = [households_in(Shard(i, 3), list(patch_of) + unknown, patch_of) for i in (1, 2, 3)]
    flat = [h for p in parts for h in p]
    assert sorted(flat) == sorted(list(patch_of) + unknown) and len(flat) == len(set(flat))
    for part in parts:
        patches = {patch_of[h] for h in part if h in patch_of}
        others = {patch_of[h] for p in parts if p is not part for h in p if h in patch_of}
        assert not patches & others  # a patch is never split between workers
    assert household_key("X1", patch_of) == "household:X1"
    assert households_in(None, ["b", "a"], {}) == ["a", "b"]


def test_household_filters_group_and_escape():
    ids = [f"H{i:06d}" for i in range(2500)] + ["we/ird.id"]
    filters = household_filters(ids, per_query=1000)
    assert len(filters) == 3
    alts = [re.fullmatch(r'"household" =~ /\^\(\?:(.*)\)\$/', f).group(1) for f in filters]
    assert sum(a.count("|") + 1 for a in alts) == len(ids)
    assert r"we\/ird\.id" in alts[-1]
    assert household_filters([]) == []
