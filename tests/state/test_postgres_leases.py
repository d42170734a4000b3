"""Leases on the PostgreSQL store: taken, renewed and given back by the database's clock,
and fencing: a replica that lost a lease cannot commit under it.  Two store handles
with different replica ids stand for two replicas."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import pytest

from tests import postgres
from tests.state.runs import entry, state
from watcher.errors import Fenced
from watcher.model import Status
from watcher.state.backends import open_store
from watcher.state.cluster import Cluster
from watcher.state.store import Commit, Fence, SourceRow, Store

pytestmark = pytest.mark.anyio

TTL = 1.0
LEASE = "source:x"


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Replicas "a" and "b" on one state."""
    a = await open_store(pg_url, replica="a")
    b = await open_store(pg_url, replica="b")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def cluster(store: Store) -> Cluster:
    assert store.cluster is not None
    return store.cluster


def commit(page: int, fence: Fence | None, *numbers: int) -> Commit:
    return Commit("x", SourceRow({"page": page}, True), {f"r{page}": state(page, Status.RUNNING)},
                  entries=[entry(n, source="x") for n in numbers], fence=fence)


async def eventually(pred: Callable[[], Awaitable[object]], *, within: float = 10.0) -> None:
    """Until ``pred()`` is truthy (leases expire by the database's clock: real time)."""
    with anyio.fail_after(within):
        while True:
            if await pred():
                return
            await anyio.sleep(0.05)


async def test_a_held_lease_is_not_taken_and_an_expired_one_is_with_a_new_epoch(
        pair: tuple[Store, Store]) -> None:
    """Only a free or expired lease is taken; each takeover grows its epoch."""
    a, b = pair
    assert await cluster(a).acquire([LEASE, "sink:w"], TTL) == {LEASE: 1, "sink:w": 1}
    assert await cluster(b).acquire([LEASE], TTL) == {}
    await eventually(lambda: cluster(b).acquire([LEASE], TTL))
    [row] = [r for r in await cluster(a).leases() if r.name == LEASE]
    assert (row.holder, row.epoch, row.live) == ("b", 2, True)


async def test_renewing_keeps_a_lease_past_its_ttl_and_giving_it_back_frees_it_at_once(
        pair: tuple[Store, Store]) -> None:
    """Upkeep renews what a replica still holds at its epoch (the database judging
    expiry), reports holders and live replicas; a released lease is taken at once."""
    a, b = pair
    held = await cluster(a).acquire([LEASE], TTL)
    for _ in range(6):  # 1.5 ttl of renewals
        up = await cluster(a).upkeep(held, TTL)
        assert up.renewed == {LEASE} and up.holders[LEASE] == "a"
        assert await cluster(b).acquire([LEASE], TTL) == {}
        await anyio.sleep(TTL / 4)
    up = await cluster(b).upkeep({LEASE: 1}, TTL)  # b never held it: nothing renewed
    assert up.renewed == frozenset() and up.live == ("a", "b")
    await cluster(a).release(held)
    assert await cluster(b).acquire([LEASE], TTL) == {LEASE: 2}
    assert (await cluster(a).upkeep(held, TTL)).renewed == frozenset()


async def test_a_replica_that_left_is_not_live(pair: tuple[Store, Store]) -> None:
    """``leave`` takes a replica out of the live set at once; its row stays for status."""
    a, b = pair
    await cluster(a).upkeep({}, TTL)
    assert (await cluster(b).upkeep({}, TTL)).live == ("a", "b")
    await cluster(a).leave()
    assert (await cluster(b).upkeep({}, TTL)).live == ("b",)
    rows = {r.id: r.alive for r in await cluster(b).replicas(TTL)}
    assert rows == {"a": False, "b": True}


async def test_upkeep_is_one_round_trip_however_many_leases(pair: tuple[Store, Store]) -> None:
    """Renewing 300 leases with the heartbeat costs one statement, as does taking them."""
    a, _ = pair
    names = [f"source:s{i}" for i in range(300)]
    trips = a.trips.count  # type: ignore[attr-defined]
    held = await cluster(a).acquire(names, TTL)
    up = await cluster(a).upkeep(held, TTL)
    assert len(held) == len(up.renewed) == 300
    assert a.trips.count - trips == 2  # type: ignore[attr-defined]


async def test_a_commit_under_a_lost_lease_is_refused_and_writes_nothing(
        pair: tuple[Store, Store]) -> None:
    """Once b took the lease over, a's commit at the old epoch is Fenced: no runs, no
    source row, no entries, no number used; b commits at its epoch."""
    a, b = pair
    [epoch] = (await cluster(a).acquire([LEASE], TTL)).values()
    assert [e.seq for e in await a.commit(commit(1, Fence(LEASE, epoch), 1))] == [1]
    await eventually(lambda: cluster(b).acquire([LEASE], TTL))
    with pytest.raises(Fenced) as fenced:
        await a.commit(commit(2, Fence(LEASE, epoch), 2, 3))
    assert fenced.value.lease == LEASE and a.write_error is None
    assert await b.head() == 1
    loaded = (await b.load(["x"]))["x"]
    assert loaded.cursor == {"page": 1} and set(loaded.runs) == {"r1"}
    assert [e.seq for e in await b.commit(commit(3, Fence(LEASE, epoch + 1), 4))] == [2]


async def test_a_cursor_move_under_a_lost_lease_is_refused(pair: tuple[Store, Store]) -> None:
    """A sink's cursor moves only while its lease is held: an expired one refuses it."""
    a, b = pair
    [epoch] = (await cluster(a).acquire(["sink:w"], TTL)).values()
    await a.commit(Commit(cursor=("w", 5), fence=Fence("sink:w", epoch)))
    await eventually(lambda: cluster(b).acquire(["sink:w"], TTL))
    with pytest.raises(Fenced):
        await a.commit(Commit(cursor=("w", 9), fence=Fence("sink:w", epoch)))
    assert (await b.cursors())["w"] == 5


async def test_a_takeover_waits_for_the_commit_in_flight_and_then_sees_it(
        pg_url: str, pair: tuple[Store, Store]) -> None:
    """A commit that passed its fence holds the lease until it ends: a takeover
    waits for it, and the new holder loads what it committed."""
    a, b = pair
    [epoch] = (await cluster(a).acquire([LEASE], TTL)).values()
    blocker = await postgres.connect(pg_url)  # another commit holding the journal's head
    await blocker.execute("BEGIN; UPDATE journal_head SET seq = seq")
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.commit, commit(7, Fence(LEASE, epoch), 1))
        await postgres.wait_for_lock_waiters(pg_url, 1)  # a passed its fence, waits
        await anyio.sleep(TTL * 1.2)  # the lease expires meanwhile
        taken: dict[str, int] = {}

        async def take_over() -> None:
            taken.update(await cluster(b).acquire([LEASE], TTL))
        tg.start_soon(take_over)
        await postgres.wait_for_lock_waiters(pg_url, 2)  # b waits for a's commit
        assert taken == {}
        await blocker.execute("COMMIT")
    await blocker.close()
    assert taken == {LEASE: epoch + 1}
    assert (await b.load(["x"]))["x"].cursor == {"page": 7}
    assert [e.id for e in await b.read(0, 10)] == ["id1"]


async def test_a_replica_gone_past_the_horizon_no_longer_holds_the_journal(
        pair: tuple[Store, Store]) -> None:
    """Pruning forgets a replica silent since before the horizon and its local sinks'
    cursors (``<sink>@<replica>``): they no longer keep entries every live reader passed;
    a live replica's cursor still does."""
    a, b = pair
    await b.commit(Commit(entries=[entry(n, time=1000.0 + n) for n in range(1, 6)]))
    await a.set_cursor("out@a", 1)
    await b.set_cursor("out@b", 3)
    await b.set_cursor("hook", 5)
    await cluster(a).upkeep({}, TTL)
    assert await b.prune_journal(upto=5, before=2000.0) == 1  # a's cursor holds 2..
    await anyio.sleep(0.2)
    horizon = time.time()
    await anyio.sleep(0.2)
    await cluster(b).upkeep({}, TTL)  # b was heard after the horizon, a before it
    assert await b.prune_journal(upto=5, before=horizon) == 2  # b's cursor holds 4, 5
    assert await b.cursors() == {"out@b": 3, "hook": 5}
    assert [r.id for r in await cluster(b).replicas(TTL)] == ["b"]
