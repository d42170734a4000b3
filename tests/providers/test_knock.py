"""Knock provider against the simulator over loopback: window, live listing, failure rule."""

from __future__ import annotations

import time
from functools import partial

import pytest
from structlog.testing import capture_logs

from tests.providers.vendors import request_cost, seed_runs
from tests.support import Harness, statuses
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

V = "knock"
seed = partial(seed_runs, vendor=V, status="completed")
cost = partial(request_cost, vendor=V)


async def test_first_poll_pages_through_every_run_within_lookback(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """The first poll pages 50 at a time from starting_at: runs older than lookback are not read."""
    seed(world, 130)
    seed(world, 40, age=3 * 86400)
    async with Harness(sim, V, clock=clock, baseline="emit", lookback="1d") as h:
        events = await h.poll()
    assert len(events) == len({e["subject"] for e in events}) == 130
    assert world.count(V) == 3  # 50 + 50 + 30: starting_at keeps older runs out
    assert "starting_at=" in world.requests[0].query and "page_size=50" in world.requests[0].query
    assert "after=" in world.requests[1].query


async def test_new_runs_are_seen_even_if_created_and_finished_between_polls(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Runs created between polls are reported, one that also completed with errors as failed."""
    seed(world, 300)
    async with Harness(sim, V, clock=clock) as h:
        assert await h.poll() == []
        clock.advance(15)
        queued = world.add_run(V, "queued", created=clock() - 10)
        flash = world.add_run(V, "processing", created=clock() - 8)
        world.set_status(flash, "completed", error_count=1)
        events = await h.poll()
    assert {(e["subject"], e["data"]["status"]) for e in events} == {
        (queued.id, "pending"), (flash.id, "failed")}


async def test_live_run_behind_500_newer_runs_is_seen_to_change(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A paused run behind 600 newer runs is seen to finish for one window page and one GET."""
    old = world.add_run(V, "paused", created=clock() - 3 * 86400)
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        world.set_status(old, "completed")
        before = world.count(V)
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "succeeded", "paused")]
    assert cost(world, before) == 2  # the window page, then one GET (cheaper than a listing)
    assert world.requests[-1].path == f"/knock/v1/workflow_recipient_runs/{old.id}"


async def test_steady_state_costs_the_window_plus_one_live_listing_page(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A quiet cycle costs the window page plus one live-listing page for all live statuses."""
    for i, status in enumerate(("queued", "processing", "paused")):
        world.add_run(V, status, created=clock() - 86400 - i)
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        for _ in range(5):
            clock.advance(15)
            before = world.count(V)
            assert await h.poll() == []
            assert cost(world, before) == 2
    last = world.requests[-1].query
    assert all(f"status[]={s}" in last for s in ("queued", "processing", "paused"))


async def test_idle_source_with_no_live_runs_costs_one_request(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A source with no live runs costs one request a cycle."""
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        for _ in range(3):
            clock.advance(15)
            before = world.count(V)
            assert await h.poll() == []
            assert cost(world, before) == 1


async def test_lingering_run_missing_from_the_live_listing_is_read_by_id(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A tracked live run absent from the live listing is read by id, its change reported."""
    olds = [world.add_run(V, "processing", created=clock() - 86400 - i) for i in range(3)]
    seed(world, 600)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        world.set_status(olds[2], "cancelled")
        before = world.count(V)
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "cancelled", "running")]
    assert cost(world, before) == 3  # window, live listing, GET of the one not in it


async def test_completed_with_errors_is_failed_and_keeps_the_raw_status(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Completed with errors is failed, keeping the raw status and the error from its events."""
    run = world.add_run(V, "processing", created=clock() - 30)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(run, "completed", error_count=2, error="Mailgun rejected the message")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "failed", "running")]
    data = events[0]["data"]
    assert (data["raw_status"], data["run"]["error_count"]) == ("completed", 2)
    # the listing only counts errors; what failed comes from the run's events
    assert data["error"] == "message.send_failed at step email_1: Mailgun rejected the message"
    assert "events" not in data["run"]


async def test_errors_while_still_running_are_not_a_transition(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Errors on a run still processing emit nothing; once it completes it is failed."""
    run = world.add_run(V, "processing", created=clock() - 30)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        for n in (1, 3):
            clock.advance(15)
            world.set_status(run, "processing", error_count=n)
            assert await h.poll() == []
        clock.advance(15)
        world.set_status(run, "completed")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "failed", "running")]


async def test_completed_without_errors_is_succeeded(sim: Simulator, world: World,
                                                     clock: FrozenClock) -> None:
    """Completed without errors is succeeded, with no error."""
    run = world.add_run(V, "paused", created=clock() - 30)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(run, "completed")
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "succeeded", "paused")]
    assert events[0]["data"]["error"] is None


async def test_errors_can_be_told_not_to_mean_failed(sim: Simulator, world: World,
                                                     clock: FrozenClock) -> None:
    """With failed_on_errors = false, a run completed with errors is succeeded."""
    world.add_run(V, "completed", created=clock() - 30, error_count=4)
    async with Harness(sim, V, clock=clock, baseline="emit", failed_on_errors=False) as h:
        events = await h.poll()
    assert statuses(events) == [("run.created", "succeeded", None)]


async def test_many_new_runs_across_pages_with_a_shift_are_each_seen_once(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Keyset paging sees every new run once in one poll, though a deletion shifts the listing."""
    seed(world, 10)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        new = {world.add_run(V, "completed", created=clock() - 14 + i * 0.05).id
               for i in range(150)}
        shift = world.faults.add(V, Fault("shift", after=1))
        first = await h.poll()
        assert shift.fired == 1
        clock.advance(15)
        second = await h.poll()
    subjects = [e["subject"] for e in first + second]
    # keyset cursors: the deletion ahead of the reader moves nothing, nothing is skipped
    assert len(subjects) == len(set(subjects)) == 150 and set(subjects) == new
    assert second == []


async def test_tracked_runs_changing_while_paging_the_live_listing_are_each_seen_once(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Tracked runs finishing while the live listing shifts under paging are each reported once."""
    olds = [world.add_run(V, "processing", created=clock() - 86400 - i * 60).id
            for i in range(160)]
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        done = set(olds[::2])
        for rid in done:
            world.set_status(rid, "completed")
        # the live listing's second page: a run on its first page is deleted meanwhile
        shift = world.faults.add(V, Fault("shift", after=2, path="/workflow_recipient_runs"))
        first = await h.poll()
        assert shift.fired == 1
        clock.advance(15)
        second = await h.poll()
    subjects = [e["subject"] for e in first + second]
    assert len(subjects) == len(set(subjects)) and set(subjects) == done
    assert sum("status[]=" in r.query for r in world.requests) >= 2  # it was paged


async def test_duplicate_item_across_pages_produces_one_event(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A run listed on two pages of one poll produces one event."""
    seed(world, 5)
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        for i in range(120):
            world.add_run(V, "queued", created=clock() - 10 + i * 0.01)
        dup = world.faults.add(V, Fault("duplicate", after=1))
        events = await h.poll()
        assert dup.fired == 1
    assert len(events) == len({e["subject"] for e in events}) == 120


async def test_listing_order_does_not_matter(sim: Simulator, world: World,
                                             clock: FrozenClock) -> None:
    """A shuffled listing misses no change and warns of nothing: the window needs no order."""
    old = world.add_run(V, "processing", created=clock() - 86400)
    seed(world, 300)
    with capture_logs() as logs:
        async with Harness(sim, V, clock=clock, lookback="7d") as h:
            reorder = world.faults.add(V, Fault("reorder", times=1000))
            await h.poll()
            clock.advance(15)
            world.set_status(old, "completed", error_count=1)
            new = world.add_run(V, "queued")
            before = world.count(V)
            events = await h.poll()
    assert reorder.fired >= 2  # both polls read shuffled pages
    assert {(e["subject"], e["data"]["status"]) for e in events} == {
        (old.id, "failed"), (new.id, "pending")}
    assert cost(world, before) == 2  # window, then a GET whose events say what failed
    assert not [e for e in logs if e["log_level"] == "warning"]


async def test_branch_is_sent_as_the_knock_branch_header(sim: Simulator, world: World,
                                                         clock: FrozenClock) -> None:
    """A configured branch is sent as the X-Knock-Branch header."""
    async with Harness(sim, V, clock=clock, branch="feature-x") as h:
        await h.poll()
        assert h.ok
        assert h.provider.http.headers["X-Knock-Branch"] == "feature-x"


@pytest.mark.real_rate_limits
async def test_stays_within_five_requests_a_second(sim: Simulator, world: World,
                                                  clock: FrozenClock) -> None:
    """With the real limiter, six requests take at least a second: five a second at most."""
    seed(world, 300)
    async with Harness(sim, V, clock=clock, lookback="7d") as h:
        started = time.monotonic()
        await h.poll()
        took = time.monotonic() - started
    assert world.count(V) == 6
    assert took >= 5 / 5  # the first request at once, then one every 200 ms


async def test_at_most_ten_failures_a_cycle_are_read_by_id(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Of twelve runs failing in one cycle, the first ten are read by id for what failed;
    the other two say only how many errors, and cost no request."""
    runs = [world.add_run(V, "processing", created=clock() - 30 - i) for i in range(12)]
    async with Harness(sim, V, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        for run in runs:
            world.set_status(run, "completed", error_count=2, error="Mailgun rejected it")
        before = world.count(V, "/v1/workflow_recipient_runs/")
        events = await h.poll()
    assert world.count(V, "/v1/workflow_recipient_runs/") - before == 10
    errors = sorted(e["data"]["error"] for e in events)
    assert errors.count("2 errors during the run") == 2
    assert len([x for x in errors if x.endswith("Mailgun rejected it")]) == 10
