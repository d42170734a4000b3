"""What watcher.testing gives plugin authors and our tests: the fake clock every
time-driven test stands on (sleepers wake at their deadlines, in order, each running
until it blocks again before time moves on), the capturing sink and the simulator."""

from __future__ import annotations

import anyio
import pytest

from tests.support import parse_config, toml
from watcher.infra.clock import wall
from watcher.model import JournalEntry
from watcher.runtime.daemon import Daemon
from watcher.sinks import SINKS
from watcher.testing import CAPTURE, CapturingSink, FakeClock, simulator

pytestmark = pytest.mark.anyio


async def test_sleepers_wake_in_deadline_order_with_wall_and_monotonic_time_at_the_deadline(
        ) -> None:
    """Two tasks sleeping 3 s and 2 s in a loop wake at 2, 3, 4, 6, 6 (the earlier sleeper
    first on a tie), each seeing both clocks at its deadline."""
    clock = FakeClock(start=1000.0)
    woke: list[tuple[str, float, float]] = []

    async def sleeper(name: str, every: float, times: int) -> None:
        for _ in range(times):
            await clock.sleep(every)
            woke.append((name, clock.monotonic(), clock()))
    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "a", 3.0, 2)
        tg.start_soon(sleeper, "b", 2.0, 3)
        await clock.advance(10.0)
    assert woke == [("b", 2.0, 1002.0), ("a", 3.0, 1003.0), ("b", 4.0, 1004.0),
                    ("a", 6.0, 1006.0), ("b", 6.0, 1006.0)]
    assert clock.monotonic() == 10.0 and clock() == 1010.0


async def test_a_woken_task_finishes_its_worker_thread_call_before_time_moves_on() -> None:
    """What a task does in a thread after waking happens at its deadline, however long
    the thread takes for real."""
    clock = FakeClock()
    seen: list[float] = []

    async def worker() -> None:
        await clock.sleep(1.0)
        await anyio.to_thread.run_sync(sum, range(200_000))
        seen.append(clock.monotonic())
        await clock.sleep(1.0)
        seen.append(clock.monotonic())
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        await clock.advance(5.0)
    assert seen == [1.0, 2.0]


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    """A sleep cancelled by its scope leaves nothing parked behind."""
    clock = FakeClock()
    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.sleep, 50.0)
        await clock.parked(1)
        assert clock.deadlines() == [50.0]
        tg.cancel_scope.cancel()
    assert clock.sleeping == 0


async def test_run_until_says_when_nothing_can_make_the_condition_true() -> None:
    """With nobody asleep, or only past the limit, run_until fails instead of hanging."""
    clock = FakeClock()
    with pytest.raises(AssertionError, match="nothing is asleep"):
        await clock.run_until(lambda: False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.sleep, 100.0)
        with pytest.raises(AssertionError, match="within 10s"):
            await clock.run_until(lambda: False, within=10.0)
        tg.cancel_scope.cancel()


async def test_a_capturing_sink_gets_what_a_daemon_polls_from_every_simulated_vendor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One ``once`` over the simulator's four vendors (baseline emitted) hands the
    capturing sink one event per run, each from the run's source."""
    monkeypatch.setitem(SINKS.builtin, "capture", CAPTURE)
    async with simulator() as sim:
        runs = {vendor: sim.world.add_run(vendor, status).id for vendor, status in
                (("extend", "FAILED"), ("noxus", "completed"), ("cortex", "RUNNING"),
                 ("knock", "queued"))}
        cfg = parse_config(toml({"state_path": ":memory:", "baseline": "emit"},
                                [sim.source(vendor) for vendor in sorted(sim.vendors)],
                                [{"name": "seen", "type": "capture"}]))
        assert await Daemon(cfg, clock=wall).once() == 0
    events = CapturingSink.named("seen").events
    assert sorted((e["source"].rsplit("/", 1)[-1], e["subject"]) for e in events) == \
        sorted(runs.items())


async def test_wait_for_returns_once_the_nth_entry_has_arrived() -> None:
    """wait_for(2) waits through the first delivered entry and returns with the second."""
    sink = CapturingSink.named_new()
    entries = _entries(2)
    got: list[int] = []

    async def waiter() -> None:
        got.extend(e.seq for e in await sink.wait_for(2))
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert await sink.deliver(entries[:1]) == ()
        await anyio.wait_all_tasks_blocked()
        assert got == []
        await sink.deliver(entries[1:])
    assert got == [1, 2]


def _entries(n: int) -> list[JournalEntry]:
    """``n`` journal entries, numbered from 1."""
    return [JournalEntry(i, f"e{i}", 0.0, "run.status_changed", "s", f"r{i}", "failed",
                         None, None, b"{}") for i in range(1, n + 1)]
