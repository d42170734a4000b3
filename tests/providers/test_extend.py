"""Extend provider against the simulator over loopback: paging, incremental cost, faults."""

from __future__ import annotations

import orjson
import pytest

from tests.support import Harness, statuses
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio


def seed(world: World, n: int, *, status: str = "PROCESSED", age: float = 600.0) -> list[str]:
    now = world.clock()
    return [world.add_run("extend", status, created=now - age - i, updated=now - age - i).id
            for i in range(n)]


async def test_first_poll_pages_through_everything_within_lookback(sim: Simulator, world: World,
                                                                   clock: FrozenClock) -> None:
    """The first poll pages 1000 at a time through all 2500 runs, each reported once."""
    seed(world, 2500)
    async with Harness(sim, clock=clock, baseline="emit") as h:
        events = await h.poll()
    assert len(events) == 2500
    assert len({e["subject"] for e in events}) == 2500
    assert world.count("extend", "/workflow_runs") == 3  # 1000 + 1000 + 500


async def test_first_poll_stops_at_lookback(sim: Simulator, world: World,
                                            clock: FrozenClock) -> None:
    """The first poll stops at the page that crosses lookback."""
    seed(world, 1500, age=600)
    seed(world, 1500, age=3 * 86400)
    async with Harness(sim, clock=clock, baseline="emit", lookback="1d") as h:
        events = await h.poll()
    assert 1500 <= len(events) <= 2000  # whole pages; the older page's runs are simply known
    assert world.count("extend", "/workflow_runs") == 2


async def test_steady_state_costs_one_request_per_cycle(sim: Simulator, world: World,
                                                        clock: FrozenClock) -> None:
    """With 3000 runs tracked, a quiet cycle costs one request."""
    seed(world, 3000)
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        before = world.count("extend")
        for _ in range(5):
            clock.advance(15)
            assert await h.poll() == []
        assert world.count("extend") - before == 5


async def test_baseline_is_silent_then_new_run_is_created(sim: Simulator, world: World,
                                                          clock: FrozenClock) -> None:
    """The baseline emits nothing; a run added after it is reported created."""
    seed(world, 5)
    async with Harness(sim, clock=clock) as h:
        assert await h.poll() == []
        clock.advance(15)
        run = world.add_run("extend", "PENDING")
        events = await h.poll()
    assert statuses(events) == [("run.created", "pending", None)]
    assert events[0]["subject"] == run.id


async def test_old_run_that_changes_is_detected(sim: Simulator, world: World,
                                                clock: FrozenClock) -> None:
    """A run days old, live behind 3000 newer runs, is seen to fail for one list and one GET."""
    now = clock()
    old = world.add_run("extend", "PROCESSING", created=now - 3 * 86400,
                        updated=now - 3 * 86400)
    seed(world, 3000, age=60)
    async with Harness(sim, clock=clock, lookback="7d") as h:
        await h.poll()
        assert old.id in h.state.live
        clock.advance(15)
        world.set_status(old, "FAILED", error="boom")
        requests = world.count("extend")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "failed", "running")]
    assert events[0]["data"]["error"] == "boom"  # fetched from the single-run GET
    # one list request, plus one GET for the failure message
    assert world.count("extend") - requests == 2


async def test_every_transition_of_a_busy_world_is_seen_once(sim: Simulator, world: World,
                                                             clock: FrozenClock) -> None:
    """Every transition of 200 runs over three busy cycles is reported exactly once."""
    ids = seed(world, 200, status="PENDING")
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        for rnd, status in enumerate(["PROCESSING", "NEEDS_REVIEW", "PROCESSED"]):
            clock.advance(15)
            for i, rid in enumerate(ids):
                if i % 3 != rnd % 3 or status == "PROCESSED":
                    world.set_status(rid, status)
            await h.poll()
        bodies = [e.body for e in h.entries]
    changes = [t for t in world.transitions if t.previous is not None]
    seen = [(e["subject"], e["data"]["raw_status"]) for e in map(orjson.loads, bodies)]
    assert sorted(seen) == sorted((t.run_id, t.status) for t in changes)


async def test_run_moving_to_the_head_while_paging_is_seen_next_cycle(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A run that moves to the head while later pages are read is reported next cycle, once."""
    ids = seed(world, 2500, status="PROCESSING")
    async with Harness(sim, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        for rid in ids[:1200]:  # enough changes that the cycle needs several pages
            world.set_status(rid, "PROCESSED")
        shift = world.faults.add("extend", Fault("shift", after=1, path="/workflow_runs"))
        first = await h.poll()
        assert shift.fired == 1
        assert len(first) < 1200  # the moved run was missed this cycle...
        clock.advance(15)
        second = await h.poll()
    subjects = [e["subject"] for e in first + second]
    assert len(subjects) == len(set(subjects)) == 1200  # ...and seen on the next, once


async def test_duplicate_item_across_pages_produces_one_event(sim: Simulator, world: World,
                                                              clock: FrozenClock) -> None:
    """A run listed on two pages of one poll produces one event."""
    ids = seed(world, 1500, status="PROCESSING")
    async with Harness(sim, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        for rid in ids:
            world.set_status(rid, "FAILED")
        dup = world.faults.add("extend", Fault("duplicate", after=1, path="/workflow_runs"))
        events = await h.poll()
        assert dup.fired == 1
    assert len(events) == len({e["subject"] for e in events}) == 1500


async def test_stuck_fires_once(sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A run live past stuck_after is reported stuck once, not at later polls."""
    world.add_run("extend", "PROCESSING")
    async with Harness(sim, clock=clock, stuck_after="10m") as h:
        assert await h.poll() == []
        clock.advance(9 * 60)
        assert await h.poll() == []
        clock.advance(2 * 60)
        stuck = await h.poll()
        clock.advance(60 * 60)
        later = await h.poll()
    assert statuses(stuck) == [("run.stuck", "running", None)]
    assert later == []


async def test_sends_version_header_and_workspace(sim: Simulator, world: World,
                                                  clock: FrozenClock) -> None:
    """Requests carry the API version and workspace headers and the configured query."""
    world.add_run("extend", "PENDING")
    async with Harness(sim, clock=clock, workspace_id="ws_123", params={"workflowId": "x"}) as h:
        await h.poll()
        assert h.ok  # the simulator answers 400 without x-extend-api-version
        assert h.provider.http.headers["x-extend-workspace-id"] == "ws_123"
    query = world.requests[0].query
    assert "workflowId=x" in query and "maxPageSize=1000" in query and "sortBy=updatedAt" in query


async def test_wrong_key_is_an_auth_error_and_emits_nothing(sim: Simulator, world: World,
                                                            clock: FrozenClock) -> None:
    """A refused key fails the poll as an auth error naming the 401, and emits nothing."""
    world.add_run("extend", "PENDING")
    async with Harness(sim, clock=clock) as h:
        world.tokens["extend"] = "a-rotated-key"
        assert await h.poll() == []
        assert not h.ok
        assert h.poller is not None
        assert h.poller.stats.errors["auth"] == 1
        assert "401" in (h.poller.stats.last_error or "")
