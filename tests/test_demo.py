"""``watcher demo``: the simulator, a lively scenario and the daemon, in one process."""

from __future__ import annotations

import io

import pytest

from tests.support import lines_of
from watcher.demo import demo
from watcher.simulator import available_vendors

pytestmark = pytest.mark.anyio


async def test_demo_watches_all_four_simulated_platforms() -> None:
    out = io.BytesIO()
    assert await demo(duration=5.0, stdout=out) == 0
    events = list(lines_of(out.getvalue()))
    assert available_vendors() == ("extend", "noxus", "cortex", "knock")
    assert {e["data"]["provider"] for e in events} == set(available_vendors())
    # new runs appear on three vendors within seconds; the Cortex source watches the
    # workflow with the stuck run, which is stuck already when watching starts
    created = {e["data"]["provider"] for e in events if e["type"] == "watcher.run.created"}
    assert {"extend", "noxus", "knock"} <= created
