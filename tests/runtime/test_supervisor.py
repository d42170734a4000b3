"""The outermost boundary: a task body that dies is restarted with backoff and counted;
cancellation still stops it."""

from __future__ import annotations

from functools import partial
from itertools import pairwise

import anyio
import pytest
import structlog

from watcher.runtime.supervisor import Boundary, supervise
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


async def test_a_dying_task_is_restarted_with_growing_waits_and_logged_once() -> None:
    """A body raising on its first three starts is started again after 0.5-1 s, 1-2 s,
    2-4 s; each death is counted, the traceback logged once, and the fourth run lives."""
    clock = FakeClock(seed=2)
    starts: list[float] = []

    async def body() -> None:
        starts.append(clock.monotonic())
        if len(starts) <= 3:
            raise RuntimeError("bug")
        await clock.sleep(3600)
    with structlog.testing.capture_logs() as logs:
        boundary = Boundary("housekeeping")
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(supervise, boundary, body, clock=clock))
            await clock.run_until(lambda: len(starts) == 4)
            await clock.advance(600)
            tg.cancel_scope.cancel()
    waits = [b - a for a, b in pairwise(starts)]
    assert [(n / 2 <= w <= n) for w, n in zip(waits, (1.0, 2.0, 4.0), strict=True)] == [True] * 3
    assert len(starts) == 4 and boundary.errors == 3
    assert len([e for e in logs if e.get("exc_info") is not None]) == 1


async def test_cancellation_is_not_an_error_and_ends_the_task() -> None:
    """Cancelling a supervised task stops it for good: nothing counted, no restart."""
    clock = FakeClock()
    boundary = Boundary("status")
    starts: list[float] = []

    async def body() -> None:
        starts.append(clock.monotonic())
        await clock.sleep(10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(supervise, boundary, body, clock=clock))
        await clock.parked(1)
        tg.cancel_scope.cancel()
    assert starts == [0.0] and boundary.errors == 0 and clock.sleeping == 0
