"""A lease ends on the daemon's clock: under a fake clock a worker whose lease is not
renewed stops at the lease's deadline of virtual time, with no real waiting, and a
renewal moves that deadline on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import anyio
import pytest

from tests.runtime.conftest import CHECK
from tests.sinks.receiver import Receiver
from watcher.config.heartbeats import HeartbeatConfig
from watcher.core.heartbeat import HeartbeatStats, Verdict
from watcher.runtime.claim import MARGIN, Claim, deadline
from watcher.runtime.heartbeats import Pinger
from watcher.runtime.worker import Worker
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio

TTL = 3600.0
UNTIL = TTL * (1 - MARGIN)  # a lease holds for its ttl less the margin


@asynccontextmanager
async def leased_pinger(monitor: Receiver, fake: FakeClock, claim: Claim) -> AsyncIterator[Worker]:
    """A heartbeat's pinger running as a worker under ``claim``, on the fake clock."""
    cfg = HeartbeatConfig(name="deadman", url=monitor.url + CHECK, interval=60.0, kind="url")
    async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
        pinger = Pinger(cfg, HeartbeatStats(), session=session, judge=lambda _: Verdict(),
                        clock=fake, claim=claim)
        worker = Worker(pinger, clock=fake)
        worker.start(tg)
        yield worker


async def test_a_lease_expires_under_the_fake_clock_with_no_real_waiting(
        monitor: Receiver) -> None:
    """A heartbeat's worker under a lease taken for an hour of fake time and never renewed
    stops exactly at the lease's deadline of that clock, within a second of real time."""
    fake = FakeClock()
    claim = Claim("heartbeat:deadman", 1, deadline(fake.monotonic(), TTL), clock=fake)
    started = time.monotonic()
    async with leased_pinger(monitor, fake, claim) as worker:
        with anyio.fail_after(10):
            await fake.run_until(worker.done.is_set, within=2 * TTL)
    assert fake.monotonic() == pytest.approx(UNTIL)
    assert not claim.valid()
    assert time.monotonic() - started < 1.0


async def test_a_renewal_moves_the_fake_deadline_on(monitor: Receiver) -> None:
    """A worker whose lease is renewed before its deadline keeps working past the first
    deadline and stops at the renewed one, both on the fake clock."""
    fake = FakeClock()
    claim = Claim("heartbeat:deadman", 1, deadline(fake.monotonic(), TTL), clock=fake)
    async with leased_pinger(monitor, fake, claim) as worker:
        with anyio.fail_after(10):
            await fake.advance(UNTIL / 2)
            claim.valid_until = deadline(fake.monotonic(), TTL)
            worker.bound(claim)  # what the lease keeper does on each renewal
            await fake.advance(UNTIL / 2 + 1)
            assert not worker.done.is_set()
            await fake.run_until(worker.done.is_set, within=2 * TTL)
    assert fake.monotonic() == pytest.approx(UNTIL / 2 + UNTIL)
