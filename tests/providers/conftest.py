from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.providers.platforms import Platforms, serving
from tests.support import Harness
from watcher.infra.ratelimit import Limit
from watcher.testing import FrozenClock


@pytest.fixture(autouse=True)
def vendor_rate_limits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                       ) -> Iterator[None]:
    """Each harness's buckets fast unless the test is marked
    ``real_rate_limits`` (the vendors' documented budgets make a 600-run
    baseline take seconds, and most tests are about what is requested, not when)."""
    fast = None
    if request.node.get_closest_marker("real_rate_limits") is None:
        fast = Limit(10_000.0, 10_000.0)
    monkeypatch.setattr(Harness, "limit", fast)
    yield


@pytest.fixture
async def platforms(clock: FrozenClock) -> AsyncIterator[Platforms]:
    """GitHub, GitLab, Airflow, Prefect and a generic JSON API on loopback, on ``clock``."""
    async with serving(Platforms(clock)) as p:
        yield p
