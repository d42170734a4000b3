"""Cortex provider against the simulator over loopback: head scan, status listings, faults."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.providers.vendors import request_cost, seed_runs
from tests.support import Harness, parse_config, statuses, toml
from watcher.errors import ConfigError
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

V = "cortex"
seed = partial(seed_runs, vendor=V, status="COMPLETED")
cost = partial(request_cost, vendor=V)


async def test_first_poll_pages_through_every_run_within_lookback(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """The first poll pages 100 at a time through every run within lookback, and no further."""
    seed(world, 250)
    seed(world, 60, age=3 * 86400)
    async with Harness(sim, V, clock=clock, baseline="emit", lookback="1d") as h:
        events = await h.poll()
    assert len(events) == len({e["subject"] for e in events}) == 250
    assert world.count(V, "/runs") == 3
    assert "take=100" in world.requests[0].query and "origin=ALL" in world.requests[0].query


async def test_only_the_configured_workflow_is_watched(sim: Simulator, world: World,
                                                       clock: FrozenClock) -> None:
    """Runs of workflows other than the configured one are not reported."""
    mine = world.add_run(V, "RUNNING")
    other = world.workflow(V, "Contract Review")
    world.add_run(V, "RUNNING", workflow=other)
    async with Harness(sim, V, clock=clock, baseline="emit") as h:
        events = await h.poll()
    assert [e["subject"] for e in events] == [mine.id]


async def test_new_runs_are_seen_even_if_created_and_finished_between_polls(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Runs created between polls are reported, even one that finished before the next poll."""
    seed(world, 300)
    async with Harness(sim, V, clock=clock) as h:
        assert await h.poll() == []
        clock.advance(15)
        pending = world.add_run(V, "PENDING", created=clock() - 10)
        flash = world.add_run(V, "RUNNING", created=clock() - 8)
        world.set_status(flash, "SKIPPED")
        events = await h.poll()
    assert {(e["subject"], e["data"]["status"]) for e in events} == {
        (pending.id, "pending"), (flash.id, "skipped")}


async def test_live_run_behind_500_newer_runs_is_seen_to_change(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A live run behind 600 newer runs is seen to fail for one head page and one GET."""
    old = world.add_run(V, "RUNNING", created=clock() - 3 * 86400)
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        world.set_status(old, "FAILED", error="Step STEP_1 timed out")
        before = world.count(V)
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "failed", "running")]
    assert events[0]["data"]["error"] == "Step STEP_1 timed out"
    assert cost(world, before) == 2  # the head page, then one GET (cheaper than a listing)
    assert world.requests[-1].path.endswith(f"/runs/{old.id}")


async def test_steady_state_costs_the_head_page_plus_one_listing_per_live_status(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A quiet cycle costs the head page plus one listing per live status, and no GET."""
    for i in range(3):
        world.add_run(V, "RUNNING", created=clock() - 86400 - i)
    world.add_run(V, "PENDING", created=clock() - 86400 - 9)
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        for _ in range(5):
            clock.advance(15)
            before = world.count(V)
            assert await h.poll() == []
            assert cost(world, before) == 1 + 2  # head, status=RUNNING, status=PENDING
    assert world.count(V, "/runs/") == 0


async def test_lingering_run_missing_from_the_live_listings_is_read_by_id(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A tracked live run absent from the status listing is read by id, its change reported."""
    olds = [world.add_run(V, "RUNNING", created=clock() - 86400 - i) for i in range(3)]
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        world.set_status(olds[1], "CANCELLED")
        before = world.count(V)
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "cancelled", "running")]
    assert cost(world, before) == 3  # head, status=RUNNING, GET of the one not in it
    assert "status=RUNNING" in world.requests[-2].query


async def test_broken_order_is_warned_once_and_scanned_in_full(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A listing out of order is warned about once and scanned in full, missing no change."""
    old = world.add_run(V, "RUNNING", created=clock() - 86400)
    seed(world, 600)
    with capture_logs() as logs:
        async with Harness(sim, V, clock=clock, lookback="7d") as h:
            world.faults.add(V, Fault("reorder", times=1000, path="/runs"))
            await h.poll()
            costs = []
            for _ in range(2):
                clock.advance(15)
                before = world.count(V)
                assert await h.poll() == []
                costs.append(cost(world, before))
            clock.advance(15)
            world.set_status(old, "COMPLETED")
            new = world.add_run(V, "PENDING")
            changed = await h.poll()
    assert [e["log_level"] for e in logs if "order" in e["event"]] == ["warning"]
    assert costs == [7, 7]  # every page: 601 runs, 100 a page
    assert {(e["subject"], e["data"]["status"]) for e in changed} == {
        (old.id, "succeeded"), (new.id, "pending")}


async def test_run_without_timestamps_is_still_tracked(sim: Simulator, world: World,
                                                       clock: FrozenClock) -> None:
    """A run without created_at is still reported, with created_at null."""
    run = world.add_run(V, "RUNNING")
    async with Harness(sim, V, clock=clock, baseline="emit") as h:
        world.faults.add(V, Fault("missing_field", field="created_at", path="/runs"))
        events = await h.poll()
    assert [e["subject"] for e in events] == [run.id]
    assert events[0]["data"]["created_at"] is None


async def test_event_describes_the_run_and_trims_bulky_fields(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """An event names the run's workflow and times, and leaves out inputs, outputs and usage."""
    run = world.add_run(V, "RUNNING", created=clock() - 60)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(run, "COMPLETED")
        [event] = await h.poll()
    data = event["data"]
    assert (data["workflow_id"], data["workflow_name"]) == (run.workflow.id, run.workflow.name)
    assert data["updated_at"] == data["run"]["updated_at"] and data["created_at"]
    assert not {"input", "output", "result", "workflow_version", "usage"} & set(data["run"])


def test_app_and_workflow_are_required(world: World) -> None:
    """A Cortex source without app_id and workflow_id is refused, naming both."""
    text = toml({}, [{"name": "c", "provider": "cortex", "token": "t"}])
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert sorted(e.value.problems) == ["sources[0].app_id: is required",
                                        "sources[0].workflow_id: is required"]


@pytest.mark.real_rate_limits
async def test_shares_the_documented_per_ip_budget(sim: Simulator, world: World,
                                                   clock: FrozenClock) -> None:
    """The Cortex limiter allows no more than the documented 500 requests a minute."""
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        assert h.ok
        limiter = h.provider.http.limiter
    assert limiter.rate * 60 + (limiter.burst or 0) <= 500


@pytest.mark.parametrize("count", ["²", "9" * 5000])
async def test_a_count_header_int_refuses_is_no_count_not_a_failed_poll(
        sim: Simulator, world: World, clock: FrozenClock, count: str) -> None:
    """A pagination-count of digits ``int`` refuses (a superscript, 5,000 digits) is read
    as no count: the poll goes on as for a listing that states none."""
    seed(world, 5)
    async with Harness(sim, V, clock=clock, baseline="emit", lookback="1d") as h:
        page = h.provider.page

        async def hostile(*args: Any, **kw: Any) -> tuple[Any, list[Any], dict[str, str]]:
            body, items, headers = await page(*args, **kw)
            return body, items, {**headers, "pagination-count": count}

        h.provider.page = hostile  # type: ignore[method-assign]
        assert len(await h.poll()) == 5
        assert h.poller.state.row.failures == 0
