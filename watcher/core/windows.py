"""Maintenance windows: a recurring local-time schedule, and when it is open.

A schedule reads like a calendar line::

    daily 02:00 - 02:30
    Sat 22:00 - Sun 06:00
    Mon,Wed,Fri 01:00 - 02:00
    Mon-Fri 18:00 - 08:00        (an end before the start: the next day)

Times are wall-clock times in the window's time zone, so a window opens at
22:00 local time on both sides of a daylight-saving change and may last an
hour more or less on the night of the change.  Two local times need a rule,
and we take RFC 5545's (iCalendar, also what Python's ``fold=0`` gives):

* a time that does not exist that day (02:30 on the spring-forward night in
  Europe) is read with the UTC offset before the change, i.e. one gap later:
  02:30 becomes 03:30 new time.  A window that would then end no later than
  it starts (``02:30 - 03:00`` on that night) does not open that day;
* a time that occurs twice (02:30 on the autumn night) means its first
  occurrence.

Pure: the time zone and every instant are parameters; nothing reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_FORM = re.compile(r"^\s*(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(?:([A-Za-z]+)\s+)?(\d{1,2}:\d{2})\s*$")
#: what a schedule looks like, for error messages
FORMS = ('"daily 02:00 - 02:30", "Sat 22:00 - Sun 06:00", "Mon,Wed,Fri 01:00 - 02:00" '
         'or "Mon-Fri 18:00 - 08:00"')


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: on each of ``days`` (0 = Monday) a window opens at ``start``
    and closes ``span_days`` later at ``end``, both local times."""

    days: frozenset[int]
    start: time
    end: time
    span_days: int
    text: str


def parse_schedule(text: str) -> Schedule:
    """A schedule from its text; ValueError saying what is wrong."""
    m = _FORM.match(text)
    if m is None:
        raise ValueError(f'"{text}" is not a schedule (e.g. {FORMS})')
    days_text, start_text, end_day, end_text = m.groups()
    days = _days(days_text)
    start, end = _clock(start_text), _clock(end_text)
    if end_day is None:
        if end == start:
            raise ValueError(f'"{text}" ends when it starts')
        span = 0 if end > start else 1
    else:
        if len(days) != 1:
            raise ValueError(f'"{text}": an end day needs exactly one start day')
        span = (_day(end_day) - next(iter(days))) % 7
        if span == 0 and end <= start:
            raise ValueError(f'"{text}" ends before it starts')
    return Schedule(frozenset(days), start, end, span, text.strip())


def _days(text: str) -> set[int]:
    if text.lower() == "daily":
        return set(range(7))
    out: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        a = _day(first)
        b = _day(last) if dash else a
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return out


def _day(name: str) -> int:
    key = name.strip().lower()
    if key in DAYS:
        return DAYS.index(key)
    if key in _FULL:
        return _FULL.index(key)
    raise ValueError(f'"{name}" is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun or "daily")')


def _clock(text: str) -> time:
    hh, mm = (int(x) for x in text.split(":"))
    if not (0 <= hh <= 23 and 0 <= mm <= 59):
        raise ValueError(f'"{text}" is not a time of day (00:00 to 23:59)')
    return time(hh, mm)


def _instant(day: date, at: time, tz: tzinfo) -> float:
    """A local date and time as epoch seconds (fold=0: the rule in the module doc)."""
    return datetime.combine(day, at, tzinfo=tz).timestamp()


def occurrences(s: Schedule, tz: tzinfo, since: float, until: float
                ) -> Iterator[tuple[float, float]]:
    """Each opening of the window that overlaps ``[since, until)``, as ``(start, end)``
    epoch seconds, in order."""
    first = datetime.fromtimestamp(since, tz).date() - timedelta(days=s.span_days + 1)
    last = datetime.fromtimestamp(until, tz).date()
    day = first
    while day <= last:
        if day.weekday() in s.days:
            start = _instant(day, s.start, tz)
            end = _instant(day + timedelta(days=s.span_days), s.end, tz)
            if start < end and end > since and start < until:
                yield start, end
        day += timedelta(days=1)


def next_opening(s: Schedule, tz: tzinfo, now: float) -> tuple[float, float] | None:
    """The window open at ``now``, else the next one to open, as ``(start, end)``;
    ``None`` only if it cannot open in the coming weeks (every opening is skipped)."""
    return next(occurrences(s, tz, now, now + 15 * 86400.0), None)


def local_text(at: float, tz: tzinfo) -> str:
    """``2026-03-28T22:00:00+01:00``: an instant as the window's local time."""
    return datetime.fromtimestamp(at, UTC).astimezone(tz).isoformat()


class OpenAt:
    """Whether the window is open at an instant (its start included, its end not),
    remembering the last stretch it worked out (an opening, or the closed time between
    two), so judging a stream of events of nearby times costs a comparison each, not a
    walk over the calendar."""

    __slots__ = ("_hi", "_lo", "_open", "schedule", "tz")

    def __init__(self, schedule: Schedule, tz: tzinfo) -> None:
        self.schedule = schedule
        self.tz = tz
        self._lo = self._hi = 0.0
        self._open = False

    def __call__(self, at: float) -> bool:
        if self._lo <= at < self._hi:
            return self._open
        lo, hi = at - 8 * 86400.0, at + 15 * 86400.0
        for start, end in occurrences(self.schedule, self.tz, lo, hi):
            if start <= at < end:
                self._lo, self._hi, self._open = start, end, True
                return True
            if end <= at:
                lo = max(lo, end)
            elif start > at:
                hi = min(hi, start)
        self._lo, self._hi, self._open = lo, hi, False
        return False
