"""Time: the one place that reads the clock, sleeps and draws jitter.

Everything that decides on time takes a :class:`Clock`: wall time
(``clock()``, epoch seconds, for what leaves the process and for ages of
vendor timestamps), ``clock.monotonic()`` (for intervals: immune to NTP
steps), ``await clock.sleep(s)`` and ``clock.random`` (jitter).  One object
carries all four so a test swaps them together:

* :data:`wall` (a :class:`SystemClock`) is the real thing and the default;
* :mod:`watcher.testing` has the test clocks (virtual time, frozen wall time).

Converting vendor timestamps is pure and lives in :mod:`watcher.core.timestamps`.
"""

from __future__ import annotations

import time
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


#: the default clock of everything: real time
wall: Clock = SystemClock()
