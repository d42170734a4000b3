"""The vendors' token buckets in virtual time: a burst, then one request per 1/rate, and a
429's hold that stops every user of the bucket."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from watcher.infra.ratelimit import Buckets, Limit, RateLimiter
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


class CountingClock(FakeClock):
    """A fake clock that counts every sleep that parks a task (a wake-up to come)."""

    def __init__(self) -> None:
        super().__init__()
        self.wakeups = 0

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.wakeups += 1
        await super().sleep(seconds)


async def test_waiters_are_served_first_come_first_served() -> None:
    """Fifty tasks that queue on an empty bucket get their tokens in the order they asked."""
    clock = FakeClock()
    limiter = RateLimiter(5.0, 1.0, clock=clock)
    served: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        served.append(i)
    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
            await anyio.lowlevel.checkpoint()  # each asks before the next starts
        await clock.run_until(lambda: len(served) == 50)
    assert served == list(range(50))


async def test_exactly_one_waiter_wakes_per_token() -> None:
    """A thousand waiters on a 10/s bucket cost one wake-up each, not one per waiter per
    token: the thundering herd is gone, and so is the CPU it burnt."""
    clock = CountingClock()
    limiter = RateLimiter(10.0, 1.0, clock=clock)
    times: list[float] = []
    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(take, limiter, clock, 1, times)
        await clock.run_until(lambda: len(times) == 1000)
    assert clock.wakeups == 999  # the first went at once
    assert times == pytest.approx([i / 10 for i in range(1000)])


async def test_sources_of_a_saturated_bucket_take_turns() -> None:
    """Twenty tasks polling flat out through a 2/s bucket each get the same share of it
    (within one request), so none starves."""
    clock = FakeClock()
    limiter = RateLimiter(2.0, 1.0, clock=clock)
    got = [0] * 20

    async def poll(i: int) -> None:
        while True:
            await limiter.acquire()
            got[i] += 1
    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(poll, i)
        await clock.advance(300.0)
        tg.cancel_scope.cancel()
    assert sum(got) == 601 and max(got) - min(got) <= 1


async def test_a_cancelled_waiter_gives_its_slot_to_the_next_newcomer() -> None:
    """Waiters that are cancelled (a reload) leave their slots to whoever asks next, so
    the bucket's timeline is not left booked by tasks that are gone."""
    clock = FakeClock()
    limiter = RateLimiter(1.0, 1.0, clock=clock)
    times: list[float] = []
    await limiter.acquire()
    with anyio.CancelScope() as gone:
        async with anyio.create_task_group() as tg:
            for _ in range(100):  # they book slots 1 s .. 100 s
                tg.start_soon(take, limiter, clock, 1, [])
            await clock.advance(0.5)
            gone.cancel()
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, limiter, clock, 2, times)
        await clock.run_until(lambda: len(times) == 2)
    assert times == pytest.approx([1.0, 2.0])


async def test_a_hold_moves_the_queue_back_in_order() -> None:
    """Waiters already queued when a 429 holds the bucket for 10 s go after the hold, in
    their order and at the bucket's pace (the queue moves back by the hold, whole)."""
    clock = FakeClock()
    limiter = RateLimiter(1.0, 1.0, clock=clock)
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        served.append((i, clock.monotonic()))
    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(one, i)
            await anyio.lowlevel.checkpoint()
        await clock.advance(0.5)
        limiter.hold(10.0)
        await clock.run_until(lambda: len(served) == 4)
    assert [i for i, _ in served] == [0, 1, 2, 3]
    assert [t for _, t in served] == pytest.approx([0.0, 11.0, 12.0, 13.0])


def test_sources_of_one_key_share_a_bucket_at_the_smallest_limit() -> None:
    """Two members of one key share one limiter, which runs at the smaller rate and burst;
    another key is another limiter; a member leaving lets the bucket run at the rest's."""
    buckets = Buckets(clock=FakeClock())
    a = buckets.join("extend k1", "a", Limit(25.0))
    b = buckets.join("extend k1", "b", Limit(10.0, 3.0))
    c = buckets.join("extend k2", "c", Limit(10.0))
    assert a is b and a is not c
    assert (a.rate, a.burst) == (10.0, 3.0)
    buckets.leave("b")
    assert (a.rate, a.burst) == (25.0, 25.0)
    buckets.join("extend k2", "a", Limit(25.0))  # its key changed: it moves
    assert buckets.members["extend k1"] == {} and set(buckets.members["extend k2"]) == {"a", "c"}
