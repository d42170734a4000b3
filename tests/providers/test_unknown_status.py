"""A status string no mapping knows is ``unknown``, with the vendor's value kept, and the
poll still succeeds (docs/events.md)."""

from __future__ import annotations

import pytest

from tests.providers.vendors import SHAPES
from tests.support import Harness, statuses
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("vendor", "raw"), [("extend", "ARCHIVED"), ("noxus", "archived"),
                                             ("cortex", "THROTTLED"), ("knock", "archived")])
async def test_unknown_status_maps_to_unknown_and_keeps_the_raw_value(
        vendor: str, raw: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Each vendor's unknown status maps to unknown, keeps the raw value, and the poll succeeds."""
    run = world.add_run(vendor, SHAPES[vendor][0])
    async with Harness(sim, vendor, clock=clock) as h:
        await h.poll()
        clock.advance(15)
        if vendor == "cortex":  # its simulator keeps to the documented statuses
            world.faults.add(vendor, Fault("unknown_status", value=raw, path=SHAPES[vendor][3]))
        else:
            world.set_status(run, raw)
        events = await h.poll()
        assert h.ok
    assert statuses(events) == [("run.status_changed", "unknown", "running")]
    assert events[0]["subject"] == run.id and events[0]["data"]["raw_status"] == raw
