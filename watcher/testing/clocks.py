"""The test clocks: virtual time (:class:`FakeClock`) and frozen wall time
(:class:`FrozenClock`), re-exported by :mod:`watcher.testing`."""

from __future__ import annotations

import gc
import heapq
import itertools
import math
import weakref
from asyncio import Future
from collections.abc import Callable
from random import Random
from typing import Any

import anyio
import anyio.lowlevel
import sniffio

from watcher.infra.clock import SystemClock


class FrozenClock(SystemClock):
    """Wall time that stands still until told to move; monotonic time and sleeps are real."""

    __slots__ = ("now",)

    def __init__(self, start: float = 1_800_000_000.0, *, seed: int | None = 0) -> None:
        super().__init__(seed=seed)
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeClock:
    """Virtual time for tests: it moves only when the test says so.

    ``await clock.sleep(s)`` parks the task.  ``await clock.advance(s)`` and
    ``await clock.run_until(done)`` wake parked tasks one at a time in
    deadline order (ties in the order they went to sleep), setting the time
    to each deadline and letting every task run until it blocks again (on
    this clock, an event, a socket, a worker thread's result) before the next
    one: what a task does after waking happens at its deadline, however long
    it took for real.  Wall time and monotonic time move together.  Timeouts
    (``cancel_at``, so :func:`~watcher.infra.clock.move_on_after` and
    :func:`~watcher.infra.clock.fail_after`) fire in this clock's time too, in
    the same order as the sleepers.

    A task waiting on a socket counts as blocked: a test that needs a
    reply to have arrived waits for it (``await clock.parked(n)``) first.
    """

    def __init__(self, start: float = 1_800_000_000.0, *, seed: int = 0) -> None:
        #: wall time, epoch seconds
        self.now = start
        self.random = Random(seed)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        #: cancel scopes with a deadline (``cancel_at``): a heap, and each scope's live entry
        self._timers: list[tuple[float, int, anyio.CancelScope]] = []
        self._timed: dict[anyio.CancelScope, int] = {}
        self._order = itertools.count()
        self._parked: anyio.Event | None = None  # made in the loop, on first use

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        item = (self._mono + seconds, next(self._order), anyio.Event())
        heapq.heappush(self._sleepers, item)
        if self._parked is not None:
            self._parked.set()
            self._parked = None
        try:
            await item[2].wait()
        finally:
            if not item[2].is_set():  # cancelled while parked
                self._sleepers.remove(item)
                heapq.heapify(self._sleepers)

    def cancel_at(self, scope: anyio.CancelScope, deadline: float) -> None:
        self._timed.pop(scope, None)  # its earlier entry in the heap is skipped from now on
        if math.isinf(deadline):
            return
        if deadline <= self._mono:
            scope.cancel()
            return
        self._timed[scope] = order = next(self._order)
        heapq.heappush(self._timers, (deadline, order, scope))

    def _next_timer(self) -> float:
        """When the soonest live timer fires (inf: none)."""
        timers = self._timers
        while timers and self._timed.get(timers[0][2]) != timers[0][1]:
            heapq.heappop(timers)  # replaced or forgotten
        return timers[0][0] if timers else math.inf

    def _next(self) -> float:
        """When the next sleeper wakes or timer fires (inf: nothing is waiting on time)."""
        return min(self._sleepers[0][0] if self._sleepers else math.inf, self._next_timer())

    # -- what tests call ----------------------------------------------------------------

    @property
    def sleeping(self) -> int:
        """How many tasks are parked in :meth:`sleep`."""
        return len(self._sleepers)

    def deadlines(self) -> list[float]:
        """Seconds from now until each parked task wakes, soonest first."""
        return sorted(d - self._mono for d, _, _ in self._sleepers)

    async def parked(self, n: int = 1) -> None:
        """Return once at least ``n`` tasks are parked in :meth:`sleep`."""
        while len(self._sleepers) < n:
            if self._parked is None:
                self._parked = anyio.Event()
            await self._parked.wait()

    async def advance(self, seconds: float) -> None:
        """Move time ``seconds`` forward, waking every sleeper due meanwhile, in order."""
        target = self._mono + max(0.0, seconds)
        await settle()
        while self._next() <= target:
            await self._wake_next()
        self._move_to(target)
        await settle()

    async def run_until(self, done: Callable[[], bool], *, within: float = 86_400.0) -> None:
        """Wake sleepers (and fire timeouts) one by one until ``done()`` holds.

        Raises ``AssertionError`` if it does not hold within ``within`` seconds of
        virtual time, or when no task is left asleep to make it true.
        """
        limit = self._mono + within
        await settle()
        while not done():
            soonest = self._next()
            if math.isinf(soonest):
                raise AssertionError("nothing is asleep, so nothing can make it true")
            if soonest > limit:
                raise AssertionError(f"not true within {within:g}s of virtual time")
            await self._wake_next()

    async def _wake_next(self) -> None:
        if self._sleepers and self._sleepers[0][0] <= self._next_timer():
            deadline, _, event = heapq.heappop(self._sleepers)
            self._move_to(deadline)
            event.set()
        else:
            deadline, _, scope = heapq.heappop(self._timers)
            del self._timed[scope]
            self._move_to(deadline)
            scope.cancel()
        await settle()

    def _move_to(self, mono: float) -> None:
        if mono > self._mono:
            self.now += mono - self._mono
            self._mono = mono


async def settle() -> None:
    """Return once every other task is blocked and none waits for a worker thread.

    anyio's ``wait_all_tasks_blocked`` polls every 0.1 s of real time and does
    not see a task waiting for a worker thread (every store call) as busy; on
    asyncio this looks at each task between loop iterations instead, so a step
    costs what the woken tasks cost and nothing more.
    """
    if sniffio.current_async_library() != "asyncio":
        await anyio.wait_all_tasks_blocked()
        return
    quiet = 0
    while quiet < 2:  # twice in a row: a callback queued by I/O runs in between
        await anyio.lowlevel.checkpoint()
        quiet = quiet + 1 if _all_blocked() else 0


#: the coroutines of anyio and asyncio that wait for a worker thread
_THREAD_CALLS = frozenset({"run_sync_in_worker_thread", "run_in_executor", "to_thread"})
#: task -> the future it waits for, and whether that is a worker thread's result: a task
#: resumes only once that future is done, so while it is not the task is where it was
_waits: weakref.WeakKeyDictionary[Any, tuple[Future[Any], bool]] = weakref.WeakKeyDictionary()


def _all_blocked() -> bool:
    """Every other task of this loop waits for a future not yet done, and none for a
    worker thread: seen through public attributes only (a coroutine's ``cr_await``
    chain, and the future an ``await`` holds, which the garbage collector can name)."""
    import asyncio

    this = asyncio.current_task()
    return all(task is this or _blocked(task) for task in asyncio.all_tasks())


def _blocked(task: Any) -> bool:
    known = _waits.get(task)
    if known is not None and not known[0].done():
        return not known[1]
    awaiting, thread = task.get_coro(), False
    while True:
        code = getattr(awaiting, "cr_code", None) or getattr(awaiting, "gi_code", None)
        if code is None:  # what the innermost ``await`` holds: a future's iterator
            futures = [f for f in gc.get_referents(awaiting) if isinstance(f, Future)]
            if not futures or futures[0].done():
                return False
            _waits[task] = (futures[0], thread)
            return not thread
        thread = thread or code.co_name in _THREAD_CALLS
        inner = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)
        if inner is None:  # not started, or a bare ``yield``: it runs at the next turn
            return False
        awaiting = inner
