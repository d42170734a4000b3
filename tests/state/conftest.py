"""The store seam's fixtures, shared by the tests every store passes alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.state.runs import BACKENDS, Backend, backend
from watcher.state.store import Store


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each implementation of the seam, in a place of its own."""
    return backend(request.param, tmp_path, request)


@pytest.fixture
async def store(where: Backend) -> AsyncIterator[Store]:
    s = await where.open()
    try:
        yield s
    finally:
        await s.close()
