"""Time: the one place that reads the clock, sleeps and draws jitter.

Everything that decides on time takes a :class:`Clock`: wall time
(``clock()``, epoch seconds, for what leaves the process and for ages of
vendor timestamps), ``clock.monotonic()`` (for intervals: immune to NTP
steps), ``await clock.sleep(s)``, ``clock.cancel_at(scope, t)`` (every timeout
and deadline: :func:`move_on_after`, :func:`fail_after`) and ``clock.random``
(jitter).  One object carries them all so a test swaps them together, and a
fake clock's timeouts fire in its own time, not the event loop's:

* :data:`wall` (a :class:`SystemClock`) is the real thing; the composition
  root (the CLI, :class:`~watcher.runtime.daemon.Daemon`) passes it down, and
  everything below takes a clock as a required argument;
* :mod:`watcher.testing` has the test clocks (virtual time, frozen wall time).

Converting vendor timestamps is pure and lives in :mod:`watcher.core.timestamps`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from random import Random
from typing import Protocol

import anyio
import anyio.lowlevel


class Clock(Protocol):
    """What a component that decides on time is given."""

    #: the source of jitter (seeded in tests, so a schedule is reproducible)
    random: Random

    def __call__(self) -> float:
        """Wall time, epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that only moves forward; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (zero or less: just let other tasks run)."""
        ...

    def cancel_at(self, scope: anyio.CancelScope, deadline: float) -> None:
        """Cancel ``scope`` once :meth:`monotonic` reaches ``deadline`` (``math.inf``:
        never); a later call for the same scope replaces the deadline."""
        ...


class SystemClock:
    """The machine's clocks and the event loop's sleep."""

    __slots__ = ("random",)

    def __init__(self, *, seed: int | None = None) -> None:
        self.random = Random(seed)

    def __call__(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def cancel_at(self, scope: anyio.CancelScope, deadline: float) -> None:
        # the loop's clock runs at the same pace as ours: only the origin differs
        scope.deadline = (math.inf if math.isinf(deadline)
                          else anyio.current_time() + deadline - self.monotonic())


@contextmanager
def move_on_after(clock: Clock, seconds: float) -> Iterator[anyio.CancelScope]:
    """``anyio.move_on_after`` on ``clock``'s time."""
    scope = anyio.CancelScope()
    clock.cancel_at(scope, clock.monotonic() + seconds)
    try:
        with scope:
            yield scope
    finally:
        clock.cancel_at(scope, math.inf)  # a fake clock forgets it


@contextmanager
def fail_after(clock: Clock, seconds: float) -> Iterator[anyio.CancelScope]:
    """``anyio.fail_after`` on ``clock``'s time: TimeoutError once ``seconds`` pass."""
    due = clock.monotonic() + seconds
    with move_on_after(clock, seconds) as scope:
        yield scope
    if scope.cancelled_caught and clock.monotonic() >= due:
        raise TimeoutError


#: real time, built once at the composition root
wall: Clock = SystemClock()
