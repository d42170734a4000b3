from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sinks.buses import Bus, NatsBus, RedisBus, reachable, run
from tests.sinks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on loopback answering 200 until told otherwise."""
    with Receiver() as r:
        yield r


@pytest.fixture(params=["nats", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    """A fresh stream (NATS, created here) or key prefix (Redis) on the shared server,
    removed after; skipped (under CI: failed) when the server does not answer."""
    b: Bus = NatsBus() if request.param == "nats" else RedisBus()
    reachable(b)
    run(b.create())
    try:
        yield b
    finally:
        run(b.cleanup())


@pytest.fixture
def nats_bus() -> Iterator[NatsBus]:
    """A fresh stream name on the shared NATS server (not created), removed after."""
    b = NatsBus()
    reachable(b)
    try:
        yield b
    finally:
        run(b.cleanup())
