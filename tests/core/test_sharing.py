"""Sharing leases between replicas: every lease held once, a fair share each, an assignment
that stays put while nothing changes and moves little when a replica comes or goes.
Replicas are simulated as rounds of ``plan`` over one table of holders."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.sharing import plan, preferred


class Cluster:
    """Holders of leases, changed by replicas running ``plan`` one round at a time (as
    the database would: a take succeeds only on a free lease)."""

    def __init__(self, leases: list[str], replicas: list[str]) -> None:
        self.leases = leases
        self.live = list(replicas)
        self.holders: dict[str, str | None] = {}
        self.moves = 0

    def round(self, me: str) -> bool:
        held = [n for n, h in self.holders.items() if h == me]
        p = plan(me, self.leases, held, self.holders, self.live)
        for n in p.give:
            self.holders[n] = None
        for n in p.take:
            if self.holders.get(n) is None:
                self.holders[n] = me
                self.moves += 1
        return bool(p.give or p.take)

    def settle(self, rng: random.Random, rounds: int = 40) -> int:
        """Rounds in random order until a full pass changes nothing; passes taken."""
        for n in range(1, rounds + 1):
            order = list(self.live)
            rng.shuffle(order)
            if not any([self.round(r) for r in order]):
                return n
        raise AssertionError(f"no settled assignment after {rounds} passes: {self.holders}")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.live, 0)
        for h in self.holders.values():
            if h is not None:
                out[h] += 1
        return out


def leases(n: int) -> list[str]:
    return [f"source:s{i}" for i in range(n)]


def assert_fair(c: Cluster) -> None:
    assert all(c.holders.get(n) in c.live for n in c.leases), "a lease is not held"
    assert max(c.counts().values()) <= math.ceil(len(c.leases) / len(c.live))


def test_replicas_starting_together_hold_every_lease_once_within_their_share() -> None:
    """Three replicas and 300 leases settle with every lease held by one replica, none
    above ceil(300 / 3), and another pass moves nothing."""
    c = Cluster(leases(300), ["a", "b", "c"])
    c.settle(random.Random(1))
    assert_fair(c)
    before = dict(c.holders)
    assert not any(c.round(r) for r in c.live)
    assert c.holders == before


def test_a_new_replica_gets_its_share_and_few_leases_move() -> None:
    """A fourth replica joining three settled ones ends with work, and the leases that
    move are about the quarter it takes, not a reshuffle."""
    c = Cluster(leases(300), ["a", "b", "c"])
    rng = random.Random(2)
    c.settle(rng)
    c.moves = 0
    c.live.append("d")
    c.settle(rng)
    assert_fair(c)
    assert c.counts()["d"] >= 60
    assert c.moves <= 110


def test_a_dead_replicas_leases_go_to_the_others_and_theirs_stay() -> None:
    """When a replica dies (its leases expire), the survivors take them and keep every
    lease they held."""
    c = Cluster(leases(90), ["a", "b", "c"])
    rng = random.Random(3)
    c.settle(rng)
    kept = {n: h for n, h in c.holders.items() if h != "c"}
    c.live.remove("c")
    c.holders = {n: (None if h == "c" else h) for n, h in c.holders.items()}
    c.settle(rng)
    assert_fair(c)
    assert all(c.holders[n] == h for n, h in kept.items())


def test_leases_leaving_the_config_are_given_back() -> None:
    """A lease no longer wanted (its source removed) is given back by its holder."""
    c = Cluster(leases(10), ["a"])
    c.settle(random.Random(4))
    p = plan("a", leases(8), [n for n, h in c.holders.items() if h == "a"], c.holders,
             ["a"])
    assert sorted(p.give) == ["source:s8", "source:s9"] and p.take == ()


def test_the_preferred_replica_does_not_depend_on_the_order_replicas_are_listed() -> None:
    """Rendezvous hashing names one replica for a lease whatever the list's order."""
    live = ["a", "b", "c", "d"]
    for n in leases(50):
        assert len({preferred(n, order) for order in (live, live[::-1], live[1:] + live[:1])}
                   ) == 1


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 60), st.integers(1, 6), st.integers(0, 2**16))
def test_any_cluster_settles_fair_and_stable(n_leases: int, n_replicas: int, seed: int) -> None:
    """Any number of leases and replicas, rounds in any order: every lease ends held,
    within the fair share, and the settled assignment does not change again."""
    c = Cluster(leases(n_leases), [f"r{i}" for i in range(n_replicas)])
    c.settle(random.Random(seed))
    assert_fair(c)
    before = dict(c.holders)
    for r in c.live:
        c.round(r)
    assert c.holders == before
