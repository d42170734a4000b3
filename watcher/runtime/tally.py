"""Failed runs per workflow over the last 24 hours, read from the journal for /status.

A reader of the journal like ``/events``: no cursor in the store, nothing held
back.  At start it finds the first entry of the last 24 hours (a binary search
over sequence numbers, a few reads), counts the failures since then, then
follows new entries as they are journaled.  Off the poll path entirely: the
pollers never know it exists.
"""

from __future__ import annotations

from watcher.core.failures import HOUR, HOURS, FailureWindow
from watcher.infra.clock import Clock
from watcher.state.journal import Journal

BATCH = 1000


async def first_after(journal: Journal, since: float) -> int:
    """The sequence after which the journal's entries are at or after ``since``
    (journal order is commit order, so times grow with sequence numbers)."""
    lo, hi = 0, journal.head
    while lo < hi:
        mid = (lo + hi) // 2
        entries = await journal.read(mid, 1)
        if not entries or entries[0].time >= since:
            hi = mid
        else:
            lo = max(mid + 1, entries[0].seq)
    return lo


async def follow(journal: Journal, window: FailureWindow, *, clock: Clock) -> None:
    """Count failures into ``window``: the last 24 hours first, then as they come."""
    after = await first_after(journal, clock() - HOURS * HOUR)
    while True:
        await journal.wait(after)
        entries = await journal.read(after, BATCH)
        for e in entries:
            window.add_entry(e)
        if entries:
            after = entries[-1].seq
