"""A histogram with fixed buckets, as Prometheus exposes them.

Poll durations, database round trips and bus publish times are kept this way,
so a scrape costs the same however many observations there were.
"""

from __future__ import annotations

from itertools import accumulate


class Histogram:
    __slots__ = ("bounds", "buckets", "count", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        #: upper bounds, ascending; +Inf is ``count``
        self.bounds = bounds
        self.buckets = [0] * len(bounds)  # non-cumulative counts
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.buckets[i] += 1
                break

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus' cumulative buckets: (upper bound, observations at or below it)."""
        out: list[tuple[str, float]] = [
            (f"{bound:g}", n) for bound, n in zip(self.bounds, accumulate(self.buckets), strict=True)]
        out.append(("+Inf", self.count))
        return out
