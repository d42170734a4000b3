"""The vendors' token buckets in virtual time: a burst, then one request per 1/rate, and a
429's hold that stops every user of the bucket."""

from __future__ import annotations

import anyio
import pytest

from watcher.infra.ratelimit import RateLimiter
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


async def take(limiter: RateLimiter, clock: FakeClock, n: int, out: list[float]) -> None:
    for _ in range(n):
        await limiter.acquire()
        out.append(clock.monotonic())


async def test_a_burst_goes_at_once_then_requests_are_paced_at_the_rate() -> None:
    """With rate 2/s and burst 3, three requests go at once, then one every half second."""
    clock = FakeClock()
    limiter = RateLimiter(2.0, 3.0, clock=clock)
    times: list[float] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, limiter, clock, 7, times)
        await clock.run_until(lambda: len(times) == 7)
    assert times == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0])


async def test_tokens_refill_while_idle_up_to_the_burst_only() -> None:
    """A bucket idle for a minute holds its burst again, not sixty seconds' worth."""
    clock = FakeClock()
    limiter = RateLimiter(1.0, 2.0, clock=clock)
    times: list[float] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, limiter, clock, 2, times)
        await clock.advance(60.0)
        tg.start_soon(take, limiter, clock, 3, times)
        await clock.run_until(lambda: len(times) == 5)
    assert times == pytest.approx([0.0, 0.0, 60.0, 60.0, 61.0])


async def test_a_hold_stops_every_user_of_the_bucket_until_it_ends() -> None:
    """After hold(30) (a 429's Retry-After) no sibling gets a request through for 30 s,
    although the bucket is full."""
    clock = FakeClock()
    limiter = RateLimiter(10.0, 10.0, clock=clock)
    first: list[float] = []
    second: list[float] = []
    limiter.hold(30.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, limiter, clock, 1, first)
        tg.start_soon(take, limiter, clock, 1, second)
        await clock.advance(29.0)
        assert first == second == []
        await clock.run_until(lambda: len(first) + len(second) == 2)
    assert first == second == [30.0]
