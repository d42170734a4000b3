"""Exponential backoff with a start, a cap, a factor and jitter; reset after success."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, start: float, cap: float, *, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        self.start = start
        self.cap = max(cap, start)
        self.factor = factor
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The next delay: "equal jitter", half fixed and half random, so retries spread
        out yet never come back sooner than half the nominal delay."""
        nominal = min(self.cap, self.start * self.factor ** self.failures)
        self.failures += 1
        return nominal / 2 + self._rng.uniform(0, nominal / 2)

    def reset(self) -> None:
        self.failures = 0
