"""Time: the one place that reads the wall clock and converts timestamps.

Everything that decides on time takes a ``Clock`` so tests can freeze it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

#: returns the current time as epoch seconds
Clock = Callable[[], float]

wall: Clock = time.time


class FrozenClock:
    """A clock for tests: stands still until told to move."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def parse_ts(value: object) -> float | None:
    """RFC 3339 / ISO 8601 (``Z`` or offset, date-only too) to epoch seconds, else ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def format_ts(epoch: float) -> str:
    """Epoch seconds to ``2026-11-22T14:03:00.123Z``."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_ts_s(epoch: float) -> str:
    """Epoch seconds to ``2026-11-22T14:03:00Z`` (vendor style, whole seconds)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
