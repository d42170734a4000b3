"""Noxus provider against the simulator over loopback: head scan, lingering runs, faults."""

from __future__ import annotations

from functools import partial

import pytest
from structlog.testing import capture_logs

from tests.providers.vendors import seed_runs
from tests.support import Harness, statuses
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

V = "noxus"
seed = partial(seed_runs, vendor=V, status="completed")


async def test_first_poll_pages_through_every_run_within_lookback(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """The first poll pages 100 at a time up to the page crossing lookback, each run once."""
    seed(world, 250)
    seed(world, 60, age=3 * 86400)
    async with Harness(sim, V, clock=clock, baseline="emit", lookback="1d") as h:
        events = await h.poll()
    assert len(events) == len({e["subject"] for e in events}) == 250
    assert world.count(V, "/v1/runs") == 3  # 100 + 100 + the page that crosses lookback


async def test_new_runs_are_seen_even_if_created_and_finished_between_polls(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Runs created between polls are reported, one that already failed as created once."""
    seed(world, 300)
    async with Harness(sim, V, clock=clock) as h:
        assert await h.poll() == []
        clock.advance(15)
        queued = world.add_run(V, "queued", created=clock() - 10)
        flash = world.add_run(V, "running", created=clock() - 8)
        world.set_status(flash, "failed")
        events = await h.poll()
    assert {(e["subject"], e["data"]["status"]) for e in events} == {
        (queued.id, "pending"), (flash.id, "failed")}
    assert statuses(events).count(("run.created", "failed", None)) == 1


async def test_live_run_behind_500_newer_runs_is_seen_to_change(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A live run behind 600 newer runs is seen to fail for one head page and one GET."""
    old = world.add_run(V, "running", created=clock() - 3 * 86400)
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        assert old.id in h.state.live
        clock.advance(15)
        world.set_status(old, "failed")
        before = world.count(V)
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "failed", "running")]
    assert events[0]["subject"] == old.id
    assert world.count(V) - before == 2  # the head page, then GET /v1/runs/{id}
    assert world.requests[-1].path == f"/noxus/v1/runs/{old.id}"


async def test_steady_state_costs_one_page_plus_one_get_per_live_run_below_it(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A quiet cycle costs the head page plus one GET per live run below it."""
    for i in range(3):
        world.add_run(V, "running", created=clock() - 86400 - i)
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        for _ in range(5):
            clock.advance(15)
            before = world.count(V)
            assert await h.poll() == []
            assert world.count(V) - before == 1 + 3


async def test_many_lingering_live_runs_are_paged_to_rather_than_fetched_one_by_one(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Many live runs below the head are paged to, not fetched with one GET each."""
    ids = seed(world, 400, status="running")
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        for rid in ids[::2]:
            world.set_status(rid, "completed")
        before = world.count(V)
        events = await h.poll()
    assert len(events) == 200
    assert world.count(V) - before == 4  # every page, far fewer than 400 GETs
    assert world.count(V, "/v1/runs/") == 0


async def test_awaiting_human_feedback_is_needs_review(sim: Simulator, world: World,
                                                       clock: FrozenClock) -> None:
    """awaiting_human_feedback is reported as needs_review."""
    run = world.add_run(V, "running")
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(run, "awaiting_human_feedback")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "needs_review", "running")]


async def test_broken_order_is_warned_once_scanned_in_full_and_trusted_again_later(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """An out-of-order listing is warned once and scanned in full until three scans are ordered."""
    old = world.add_run(V, "running", created=clock() - 86400)
    seed(world, 600)
    with capture_logs() as logs:
        async with Harness(sim, V, clock=clock, lookback="7d") as h:
            await h.poll()
            reorder = world.faults.add(V, Fault("reorder", times=1000, path="/v1/runs"))
            costs = []
            for _ in range(3):
                clock.advance(15)
                before = world.count(V)
                assert await h.poll() == []
                costs.append(world.count(V) - before)
            clock.advance(15)
            world.set_status(old, "failed")
            new = world.add_run(V, "queued")
            changed = await h.poll()
            reorder.times = 0
            for _ in range(4):
                clock.advance(15)
                before = world.count(V)
                await h.poll()
                costs.append(world.count(V) - before)
    warnings = [e for e in logs if e["log_level"] == "warning" and "order" in e["event"]]
    assert len(warnings) == 1
    assert {(e["subject"], e["data"]["status"]) for e in changed} == {
        (old.id, "failed"), (new.id, "pending")}
    # every page while the order is broken and for 3 ordered scans, then the head page only
    assert costs == [7, 7, 7, 7, 7, 7, 1]
    assert any("order" in e["event"] and e["log_level"] == "info" for e in logs)


async def test_live_run_deleted_at_the_vendor_is_fetched_once_then_left_alone(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A live run deleted at the vendor is fetched once, then left alone, and stays tracked."""
    old = world.add_run(V, "running", created=clock() - 86400)
    seed(world, 300)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        world.delete(old)
        costs = []
        for _ in range(3):
            clock.advance(15)
            before = world.count(V)
            assert await h.poll() == []
            costs.append(world.count(V) - before)
        assert old.id in h.state.live  # absence is not a transition
    assert costs == [2, 1, 1]


async def test_event_describes_the_run_and_trims_bulky_fields(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """An event names the workflow, maps stopped to cancelled, and drops input and definitions."""
    wf = world.workflow(V, "Contract Review")
    run = world.add_run(V, "running", workflow=wf, created=clock() - 60)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(run, "stopped")
        [event] = await h.poll()
    data = event["data"]
    assert (data["workflow_id"], data["workflow_name"], data["status"]) == (
        wf.id, "Contract Review", "cancelled")
    assert data["created_at"].startswith("20") and data["updated_at"] == data["run"]["finished_at"]
    assert not {"input", "definitions"} & set(data["run"])
    assert data["run"]["workflow"] == {"id": wf.id, "name": "Contract Review", "type": "flow"}


@pytest.mark.real_rate_limits
async def test_requests_carry_the_api_key_and_the_page_size_within_the_rate_limit(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Requests carry the API key and page size, under the documented 5 requests a second."""
    world.add_run(V, "queued")
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        assert h.ok  # the simulator answers 401 without X-API-Key
        assert h.provider.http.limiter.rate == 5.0
    assert "size=100" in world.requests[0].query and "page=1" in world.requests[0].query
