"""GitHub's spent hourly quota, against the simulator (which enforces it)."""

from __future__ import annotations

import pytest

from tests.support import Harness
from watcher.simulator import Simulator, World
from watcher.simulator.app import APIS_KEY
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio


async def test_spent_hourly_quota_is_a_rate_limit_held_until_reset(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """GitHub's 403 with X-RateLimit-Remaining 0 is a rate limit, not bad credentials: the
    source's bucket is held until X-RateLimit-Reset."""
    sim._runner.app[APIS_KEY]["github"].hourly = 2  # type: ignore[union-attr]
    world.add_run("github", "in_progress", created=clock() - 60)
    async with Harness(sim, "github", clock=clock, repository="acme/api",
                       interval="15s") as h:
        await h.poll()
        for _ in range(2):
            clock.advance(15)
            world.add_run("github", "queued", created=clock())
            await h.poll()
        assert not h.ok
        assert h.poller is not None and dict(h.poller.stats.errors) == {"rate_limited": 1}
        assert h.provider.http.limiter.held() > 3500  # type: ignore[attr-defined]
