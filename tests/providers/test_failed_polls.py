"""A poll that fails part-way (429s, 5xx, a malformed page, a timeout) emits nothing
and changes no state; the next good poll sees every change."""

from __future__ import annotations

import pytest

from tests.providers.vendors import SHAPES, seed_runs, snapshot
from tests.support import Harness
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio


#: vendor -> (tracked runs, enough for more than one page; a 5xx it answers with)
CASES = {"noxus": (150, {"status": 503, "retry_after": 0.01}),
         "cortex": (150, {"status": 502}),
         "knock": (120, {"status": 500})}


#: the error kind each fault makes a poll fail with
ERROR_KIND = {"429": "rate_limited", "5xx": "transient", "malformed": "bad_payload",
              "timeout": "transient"}


def fault_of(kind: str, vendor: str) -> Fault:
    """A fresh fault per test: a fault counts how often it fired."""
    if kind == "429":
        return Fault("status", status=429, retry_after=0.01, times=3)
    if kind == "5xx":
        return Fault("status", times=3, **CASES[vendor][1])
    return Fault("slow", delay=3.0) if kind == "timeout" else Fault(kind)


@pytest.mark.parametrize("vendor", list(CASES))
@pytest.mark.parametrize("kind", ["429", "5xx", "malformed", "timeout"])
async def test_failed_poll_emits_nothing_and_changes_no_state(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock, kind: str) -> None:
    """A poll that fails part-way emits nothing and changes no state; the next sees every change."""
    live, done = SHAPES[vendor][:2]
    n = CASES[vendor][0]
    ids = seed_runs(world, n, vendor=vendor, status=live)
    # a timeout well clear of a loaded machine's page times, well below the slow fault's
    async with Harness(sim, vendor, clock=clock, lookback="7d", timeout="1.5s") as h:
        for _ in range(3):  # a loaded machine may time the first sync out; not what is held
            await h.poll()
            if h.ok:
                break
        assert h.ok and h.poller is not None
        clock.advance(15)
        for rid in ids:
            world.set_status(rid, done)
        before, errors = snapshot(h), h.poller.stats.errors.copy()
        fault = world.faults.add(vendor, fault_of(kind, vendor))
        assert await h.poll() == []
        assert not h.ok and fault.fired >= 1
        assert h.poller.stats.errors - errors == {ERROR_KIND[kind]: 1}
        assert snapshot(h) == before
        clock.advance(15)
        events = await h.poll()
    assert len(events) == n
