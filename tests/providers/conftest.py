from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Harness
from watcher.infra.ratelimit import Limit


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
