"""Fixtures of the runtime tests that run a daemon in the test's own process."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def process_state() -> Iterator[None]:
    """What an in-process daemon changes for the whole process, restored afterwards."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    for s, h in handlers.items():
        signal.signal(s, h)
