"""How long to wait: exponential backoff with jitter, and what a server asks for
(:func:`retry_after`, which every retry loop honours as a floor)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime


class Backoff:
    def __init__(self, start: float, cap: float, *, rng: random.Random | None = None) -> None:
        self.start = start
        self.cap = max(cap, start)
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The next delay: "equal jitter", half fixed and half random, so retries spread
        out yet never come back sooner than half the nominal delay."""
        nominal = min(self.cap, self.start * 2.0 ** self.failures)
        if nominal < self.cap:  # past the cap the doubling would overflow a float in time
            self.failures += 1
        return nominal / 2 + self._rng.uniform(0, nominal / 2)

    def reset(self) -> None:
        self.failures = 0


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date);
    ``inf`` or ``nan`` (which ``float`` reads, as it reads 400 digits as ``inf``) is none."""
    ms = headers.get("retry-after-ms")
    if ms and (wait := finite(ms)) is not None:
        return max(0.0, wait / 1000)
    val = headers.get("Retry-After")
    if not val:
        return None
    if (wait := finite(val)) is not None:
        return max(0.0, wait)
    try:
        return max(0.0, parsedate_to_datetime(val).timestamp() - now)
    except (TypeError, ValueError):
        return None


def finite(text: str) -> float | None:
    """``text`` as a number, unless it is none or not finite (``inf`` would hold for ever)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
