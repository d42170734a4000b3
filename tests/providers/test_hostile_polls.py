"""Pages of arbitrary JSON items through real polls of each provider (the simulator on
loopback serves them in its runs' places): a poll never fails for what an item holds, no
item escapes the per-item boundary, and every event journaled holds the shipped schema."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.event_schema import assert_valid_event
from tests.support import Harness
from watcher.simulator import Simulator, World
from watcher.simulator.app import APIS
from watcher.testing import FrozenClock

VENDORS = ("extend", "noxus", "cortex", "knock")
NOW = 1_800_000_000.0
BIG = "x" * 100_000
DEEP: Any = {}
for _ in range(240):  # nearly as deep as the simulator (orjson) can write at all
    DEEP = {"a": DEEP}

scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["", "yesterday", "2026-13-45T99:00:00Z", "9999-12-31T23:59:59Z",
                              "2026-11-22T14:02:51+05:30", "https://x.example/r", BIG]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=10) | st.just(DEEP)


def _fields(vendor: str) -> list[str]:
    """The keys of the vendor's real items: where arbitrary values go."""
    world = World(clock=FrozenClock(NOW), seed=1)
    api = APIS[vendor](world)
    item = api.render(world.add_run(vendor, next(iter(api.stages.values()))[0]))
    return sorted(item)


FIELDS = {v: _fields(v) for v in VENDORS}
STAGES = {v: list(APIS[v].stages.values()) for v in VENDORS}


@st.composite
def mangling(draw: st.DrawFn, vendor: str) -> dict[str, Any]:
    """How one run is served on one poll: as is, fields set to any JSON or left out
    (the id and status too), every field but those two set to any scalar (the run still
    makes events), or replaced whole by any JSON at all."""
    how = draw(st.sampled_from(["as_is", "fields", "fields", "every_field", "replace"]))
    if how == "as_is":
        return {}
    if how == "replace":
        return {"replace": draw(json_values)}
    if how == "every_field":
        return {"overrides": {f: draw(scalars) for f in FIELDS[vendor]
                              if f not in ("id", "status")}}
    changed = draw(st.dictionaries(st.sampled_from(FIELDS[vendor]), json_values, max_size=6))
    dropped = draw(st.lists(st.sampled_from(FIELDS[vendor]), max_size=3))
    return {"overrides": changed, "drop": [f for f in dropped if f not in changed]}


@st.composite
def history(draw: st.DrawFn, vendor: str) -> list[list[tuple[int, dict[str, Any]]]]:
    """For each of 1-6 runs: per poll (two), the index of its stage and its mangling."""
    n = draw(st.integers(1, 6))
    stage = st.integers(0, len(STAGES[vendor]) - 1)
    return [[(draw(stage), draw(mangling(vendor))) for _ in range(2)] for _ in range(n)]


async def _polls(vendor: str, runs: list[list[tuple[int, dict[str, Any]]]]) -> None:
    clock = FrozenClock(NOW)
    world = World(clock=clock, seed=5)
    async with Simulator(world) as sim, Harness(sim, vendor, clock=clock, baseline="emit",
                                                stuck_after="1m") as h:
        ids = []
        for i, steps in enumerate(runs):
            status, extra = STAGES[vendor][steps[0][0]]
            ids.append(world.add_run(vendor, status, created=NOW - 600 - i, **extra,
                                     **steps[0][1]).id)
        for poll in range(2):
            if poll:
                clock.advance(120)  # past stuck_after: live runs are stuck now
                for rid, steps in zip(ids, runs, strict=True):
                    status, extra = STAGES[vendor][steps[1][0]]
                    world.set_status(rid, status, **extra)
                    world.override(rid, **steps[1][1])
            events = await h.poll()  # each held to the schema as it is read
            assert h.ok, f"poll {poll + 1} failed"
            for e in events:
                assert_valid_event(e)
        assert h.provider.skipped["undescribable"] == 0  # describe handled every field


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_poll_of_arbitrary_items_never_fails_and_its_events_hold_the_schema(
        vendor: str, data: st.DataObject) -> None:
    """Two real polls over arbitrary JSON items: both succeed, every event validates."""
    runs = data.draw(history(vendor))
    with structlog.testing.capture_logs():
        asyncio.run(_polls(vendor, runs))
