"""Provider faults: a bad cycle never moves state or emits; failing/recovered exactly once."""

from __future__ import annotations

import pytest
import structlog

from tests.support import Harness, event_types, statuses
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio
LIST = "/workflow_runs"


def running(world: World, n: int) -> list[str]:
    now = world.clock()
    return [world.add_run("extend", "PROCESSING", created=now - 100 - i,
                          updated=now - 100 - i).id for i in range(n)]


async def test_429_retry_after_is_honoured_before_the_next_request(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A 429's Retry-After is waited out inside the cycle before the request is repeated."""
    running(world, 3)
    world.faults.add("extend", Fault("status", status=429, retry_after=1.5, path=LIST))
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        assert h.ok  # one 429 is waited out inside the cycle
    first, second = world.requests[0], world.requests[1]
    assert first.status == 429 and second.status == 200
    assert second.mono - first.mono >= 1.5


async def test_a_server_error_discards_the_cycle_and_state_stays(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A cycle that ends in 5xx moves no state; the next good cycle reports the change."""
    ids = running(world, 5)
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(ids[0], "FAILED")
        fault = world.faults.add("extend", Fault("status", status=503, times=3, path=LIST))
        assert await h.poll() == [] and not h.ok
        assert fault.fired == 3  # the provider's retries inside the cycle all met the 503
        assert h.state.runs[ids[0]].status.value == "running"
        clock.advance(15)
        events = await h.poll()
    assert statuses(events) == [("run.status_changed", "failed", "running")]


async def test_a_response_slower_than_the_timeout_is_a_failed_poll(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A response slower than the source's timeout fails the poll, and no baseline is taken."""
    running(world, 2)
    world.faults.add("extend", Fault("slow", delay=2.0, path=LIST))
    async with Harness(sim, clock=clock, timeout="0.3s") as h:
        assert await h.poll() == [] and not h.ok
        assert h.poller is not None
        assert "timed out" in (h.poller.stats.last_error or "")
        assert h.state.runs == {}  # the baseline did not happen
        assert await h.poll() == [] and h.ok


async def test_an_unreachable_api_is_a_transient_failure(world: World, clock: FrozenClock) -> None:
    """A refused connection fails the poll as a transient error."""
    async with Simulator(world) as dead:
        pass  # started and stopped: its port now refuses connections
    async with Harness(dead, clock=clock) as h:
        assert await h.poll() == [] and not h.ok
        assert h.poller is not None
        assert h.poller.stats.errors["transient"] == 1


async def test_a_malformed_body_discards_the_cycle(sim: Simulator, world: World,
                                                   clock: FrozenClock) -> None:
    """A malformed body fails the poll as a bad payload; the change is reported next cycle."""
    ids = running(world, 3)
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        world.set_status(ids[1], "PROCESSED")
        world.faults.add("extend", Fault("malformed", path=LIST))
        assert await h.poll() == [] and not h.ok
        assert h.poller is not None and h.poller.stats.errors["bad_payload"] == 1
        clock.advance(15)
        assert statuses(await h.poll()) == [("run.status_changed", "succeeded", "running")]


async def test_an_item_missing_a_field_is_skipped_with_a_warning_naming_it(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """An item without a status is skipped with one warning naming it; the others go through."""
    ids = running(world, 3)
    async with Harness(sim, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        for rid in ids:
            world.set_status(rid, "FAILED")
        world.faults.add("extend", Fault("missing_field", field="status", path=LIST))
        with structlog.testing.capture_logs() as logs:
            events = await h.poll()
        assert h.ok
        skipped = [entry for entry in logs if entry["event"] == "skipped a malformed run item"]
        assert len(skipped) == 1 and skipped[0]["run_id"] in ids
        assert len(events) == 2  # the other two runs, nothing invented for the third
        clock.advance(15)
        assert len(await h.poll()) == 1  # the skipped one, next time it is whole


async def test_a_failure_in_the_middle_of_paging_discards_the_whole_cycle(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A failure on a later page discards the pages read before it too: nothing half-applied."""
    ids = running(world, 2500)
    async with Harness(sim, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        for rid in ids:
            world.set_status(rid, "PROCESSED")
        fault = world.faults.add("extend", Fault("status", status=500, times=3, after=1,
                                                 path=LIST))
        assert await h.poll() == [] and not h.ok
        assert fault.fired == 3  # the first page was served, the second never was
        assert all(s.status.value == "running" for s in h.state.runs.values())
        clock.advance(15)
        events = await h.poll()
    assert len(events) == len({e["subject"] for e in events}) == 2500


async def test_failing_and_recovered_are_emitted_once_per_outage(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """An outage gives one source.failing at the threshold and one source.recovered after it."""
    running(world, 2)
    async with Harness(sim, clock=clock, failure_threshold=3) as h:
        await h.poll()
        good, world.tokens["extend"] = world.tokens["extend"], "revoked"
        got = []
        for _ in range(6):
            clock.advance(15)
            got += await h.poll()
        (failing,) = got
        assert event_types(got) == ["source.failing"]
        data = failing["data"]
        assert data["error"].startswith("401 Unauthorized: Invalid or missing API key")
        assert data["kind"] == "auth" and data["consecutive_failures"] == 3
        assert failing["subject"] == "extend-test"
        world.tokens["extend"] = good
        clock.advance(15)
        recovered = await h.poll()
        clock.advance(15)
        after = await h.poll()
    assert event_types(recovered) == ["source.recovered"]
    assert recovered[0]["data"]["failing_since"] == data["failing_since"]
    assert after == []


async def test_fewer_failures_than_the_threshold_emit_nothing(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Failed polls below failure_threshold, then a success, emit neither failing nor recovered."""
    running(world, 1)
    async with Harness(sim, clock=clock, failure_threshold=3) as h:
        await h.poll()
        fault = world.faults.add("extend", Fault("malformed", times=2, path=LIST))
        events, outcomes = [], []
        for _ in range(4):
            clock.advance(15)
            events += await h.poll()
            outcomes.append((h.ok, h.state.row.failures))
        assert h.poller is not None and h.poller.stats.errors["bad_payload"] == 2
    assert fault.fired == 2
    # two polls really failed (one short of the threshold), then the streak was reset
    assert outcomes == [(False, 1), (False, 2), (True, 0), (True, 0)]
    assert events == []


async def test_a_threshold_of_one_reports_failing_at_the_first_failed_poll(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """With failure_threshold = 1, the first failed poll emits source.failing and logs an error."""
    running(world, 1)
    async with Harness(sim, clock=clock, failure_threshold=1) as h:
        await h.poll()
        world.tokens["extend"] = "revoked"
        clock.advance(15)
        with structlog.testing.capture_logs() as logs:
            events = await h.poll()
    assert event_types(events) == ["source.failing"]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["source failing"]
