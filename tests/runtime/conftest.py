"""Fixtures of the runtime tests that run a daemon in the test's own process."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator

import pytest

from tests.sinks.receiver import Receiver

#: a heartbeat monitor's check path: its last part is the check's secret id
CHECK = "/ping/5f0c8e1a-7b2d-4c3e-9f10-heartbeat"


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


@pytest.fixture
def monitor() -> Iterator[Receiver]:
    """A heartbeat monitor on loopback (Healthchecks-like: any path under ``CHECK``)."""
    receiver = Receiver(path=CHECK).start()
    yield receiver
    receiver.stop()
