"""Noxus and Cortex page by offset over a listing that shifts as runs are created:
a run can slide onto a page already read, be skipped, or be read twice."""

from __future__ import annotations

import pytest

from tests.providers.vendors import SHAPES, seed_runs
from tests.support import Harness
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("vendor", ["noxus", "cortex"])]


async def finish_behind(fault: str, vendor: str, sim: Simulator, world: World,
                        clock: FrozenClock, *, status: int) -> list[list[dict]]:
    """250 live runs tracked; all of them finish (``SHAPES`` column ``status``), and the
    next poll meets ``fault`` after its first page.  Returns that poll's events and
    the next one's."""
    live, path = SHAPES[vendor][0], SHAPES[vendor][3]
    ids = seed_runs(world, 250, vendor=vendor, status=live)
    async with Harness(sim, vendor, clock=clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        for rid in ids:
            world.set_status(rid, SHAPES[vendor][status])
        injected = world.faults.add(vendor, Fault(fault, after=1, path=path))
        first = await h.poll()
        assert injected.fired == 1
        clock.advance(15)
        return [first, await h.poll()]


async def test_tracked_run_sliding_onto_a_page_already_read_is_still_seen_once(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A tracked run shifted onto a page already read is still reported, once."""
    first, second = await finish_behind("shift", vendor, sim, world, clock, status=1)
    subjects = [e["subject"] for e in first + second]
    assert len(subjects) == len(set(subjects)) == 250  # the deleted run had been read already
    assert second == []


async def test_duplicate_item_across_pages_produces_one_event(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A run read twice across offset pages produces one event."""
    first, second = await finish_behind("duplicate", vendor, sim, world, clock, status=2)
    assert len(first) == len({e["subject"] for e in first}) == 250
    assert second == []


async def test_new_run_skipped_by_a_shift_is_seen_next_cycle(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A new run skipped by a shift is reported next cycle, and every new run exactly once."""
    done, path = SHAPES[vendor][1], SHAPES[vendor][3]
    seed_runs(world, 10, vendor=vendor, status=done)
    async with Harness(sim, vendor, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        new = {world.add_run(vendor, done, created=clock() - 14 + i * 0.05).id
               for i in range(250)}
        shift = world.faults.add(vendor, Fault("shift", after=1, path=path))
        first = await h.poll()
        assert shift.fired == 1
        clock.advance(15)
        second = await h.poll()
    subjects = [e["subject"] for e in first + second]
    assert len(subjects) == len(set(subjects))
    # every new run, the deleted one included (it was read before it went), and the
    # one that slid onto page 1 after it was read is found by the next cycle's window
    assert set(subjects) == new
    assert len(first) == 249 and len(second) == 1
