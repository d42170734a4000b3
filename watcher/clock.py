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


#: longer than any RFC 3339 timestamp (``2026-11-22T14:03:00.123456789+05:30`` is 35)
_MAX_TS_LEN = 64
#: the instants ``format_ts`` can render (years 1-9999 UTC)
_TS_RANGE = (datetime(1, 1, 2, tzinfo=UTC).timestamp(),
             datetime(9999, 12, 31, tzinfo=UTC).timestamp())


def parse_ts(value: object) -> float | None:
    """RFC 3339 / ISO 8601 (``Z`` or offset, date-only too) to epoch seconds, else ``None``.

    Never raises: vendor timestamps arrive as numbers, megabyte strings or
    ``9999-99-99`` too, and a time outside years 1-9999 is no time either (it
    could not be formatted back).
    """
    if not isinstance(value, str) or not value or len(value) > _MAX_TS_LEN:
        return None
    try:
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ts = dt.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return ts if _TS_RANGE[0] <= ts <= _TS_RANGE[1] else None


def format_ts(epoch: float) -> str:
    """Epoch seconds to ``2026-11-22T14:03:00.123Z``."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_ts_s(epoch: float) -> str:
    """Epoch seconds to ``2026-11-22T14:03:00Z`` (vendor style, whole seconds)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
