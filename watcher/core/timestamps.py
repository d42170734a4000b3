"""Timestamps: vendor RFC 3339 strings to epoch seconds and back, never raising.

Pure functions; reading the clock is :mod:`watcher.infra.clock`'s job.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: longer than any RFC 3339 timestamp (``2026-11-22T14:03:00.123456789+05:30`` is 35)
_MAX_TS_LEN = 64
#: the instants ``format_ts`` can render (years 1-9999 UTC)
FIRST, LAST = (datetime(1, 1, 2, tzinfo=UTC).timestamp(),
                 datetime(9999, 12, 31, tzinfo=UTC).timestamp())
_fromisoformat = datetime.fromisoformat
#: RFC 3339's ``date-time`` (section 5.6) with an upper-case ``T`` and ``Z``: the form of
#: every timestamp in an event (the event schema holds its timestamps to this pattern)
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
_is_rfc3339 = re.compile(RFC3339).fullmatch


def parse_ts(value: object) -> float | None:
    """RFC 3339 / ISO 8601 (``Z`` or offset, date-only too) to epoch seconds, else ``None``.

    Never raises: vendor timestamps arrive as numbers, megabyte strings or
    ``9999-99-99`` too, and a time outside years 1-9999 is no time either (it
    could not be formatted back).
    """
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TS_LEN:
        return None
    try:  # a first sync parses one per run: every lookup saved counts
        dt = _fromisoformat(value)
        ts = dt.timestamp() if dt.tzinfo is not None else dt.replace(tzinfo=UTC).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return ts if FIRST <= ts <= LAST else None


def format_ts(epoch: float) -> str:
    """Epoch seconds to ``2026-11-22T14:03:00.123Z``."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def rfc3339(value: object) -> str | None:
    """A vendor timestamp as an event states it: RFC 3339 with an offset, else ``None``.

    A string already in that form that is a real instant is kept as received (its
    offset and precision are the vendor's); another form :func:`parse_ts` reads (a
    date alone, no offset, which counts as UTC, ``20261122T140300Z``...) is written
    out in UTC; anything else (``"yesterday"``, a number, a year 99999) is no time.
    """
    if parse_ts(value) is None:
        return None
    assert isinstance(value, str)  # parse_ts reads nothing else
    if _is_rfc3339(value):
        return value
    dt = _fromisoformat(value)  # parse_ts read it: it parses
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat() + "Z"  # isoformat, not strftime: it writes year 5 as 0005
