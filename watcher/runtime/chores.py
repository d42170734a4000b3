"""The daemon's own chores besides polling and delivering: journal pruning, the
systemd watchdog and ``STATUS=`` line, and the failed runs per workflow over the last
24 hours for /status (silences and reminders have their own modules).  Each runs
supervised, on the daemon's clock.

The failure tally reads the journal like ``/events``: no cursor in the store, nothing
held back, and off the poll path entirely.  At start it finds the first entry of the
last 24 hours (a binary search over sequence numbers, a few reads), counts the failures
since then, then follows new entries as they are journaled.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from watcher.core.failures import HOUR, HOURS, FailureWindow
from watcher.errors import StoreError
from watcher.infra.clock import Clock
from watcher.runtime.reader import BATCH
from watcher.runtime.reminders import Reminders
from watcher.runtime.silencing import Silencer
from watcher.server.notify import Notifier
from watcher.state.journal import Journal

log = structlog.get_logger("watcher.daemon")

HOUSEKEEPING_EVERY = 600.0
STATUS_EVERY = 10.0
#: how often the state store's health is looked at for an early STATUS= update
STATUS_CHECK = 1.0


async def first_look(silencer: Silencer, reminders: Reminders) -> None:
    """Silences and reminder episodes as stored, before the first delivery: a silence
    in force must hold back the first batch too.  A store that cannot be read now is
    read again by their own chores."""
    try:
        await silencer.refresh()
        await reminders.load()
    except StoreError as e:
        log.error("could not read silences or reminders at start; retrying", error=str(e))


async def housekeeping(journal: Journal, *, keep: float, clock: Clock) -> None:
    """Forget journal entries every sink has passed, once they are ``keep`` seconds old."""
    while True:
        await clock.sleep(HOUSEKEEPING_EVERY)
        try:
            n = await journal.prune(before=clock() - keep)
            if n:
                log.debug("journal pruned", entries=n)
        except Exception as e:
            log.warning("journal pruning failed", error=str(e))


async def watchdog(notifier: Notifier, every: float, *, clock: Clock) -> None:
    while True:
        notifier.watchdog()
        await clock.sleep(every)


async def report_status(notifier: Notifier, line: Callable[[], str],
                        store_failing: Callable[[], str | None], *, clock: Clock) -> None:
    """``STATUS=`` every ``STATUS_EVERY``, and at once when state writes start or stop
    failing (an operator looking at ``systemctl status`` sees it within a second).
    Outside systemd nobody reads it, so no line is built (a snapshot of every source)."""
    if not notifier.address:
        return
    waited, store = 0.0, store_failing()
    while True:
        await clock.sleep(STATUS_CHECK)
        waited += STATUS_CHECK
        if waited >= STATUS_EVERY or store_failing() != store:
            waited, store = 0.0, store_failing()
            notifier.status(line())


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


async def tally(journal: Journal, window: FailureWindow, *, clock: Clock) -> None:
    """Count failures into ``window``: the last 24 hours first, then as they come."""
    after = await first_after(journal, clock() - HOURS * HOUR)
    window.buckets.clear()  # started again (a store error): counted afresh, not twice
    while True:
        await journal.wait(after)
        entries = await journal.read(after, BATCH)
        for e in entries:
            window.add_entry(e)
        if entries:
            after = entries[-1].seq
