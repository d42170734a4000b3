"""The silences in force, for the sink runners: the config's maintenance windows, and the
command line's silences re-read from the store every second.

``watcher silence add`` writes one small record to the store while the daemon runs (a
row the daemon only reads, beside SQLite's one-writer lock); the daemon sees it within
:data:`REFRESH_EVERY`, with no reload, and rebuilds nothing when the records have not
changed.  Silences that have ended are kept, a backlog delivered late being judged by
each event's own time, until they ended ``retention`` ago: then no journaled event is
theirs to judge any more, and the daemon drops them, as ``watcher silence add`` does
(silences added through the daemon's API would otherwise pile up, each one checked
against every event).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

import structlog

from watcher.config.silences import WindowConfig
from watcher.core.events import REMINDS, data_of, parsed
from watcher.core.incidents import OPENS, RESOLVES, incident_of
from watcher.core.inhibition import InhibitRule, exempt
from watcher.core.matching import Match
from watcher.core.silences import Hold, Silence, held_by
from watcher.core.status import SilenceStatus
from watcher.errors import StoreError
from watcher.infra.clock import Clock
from watcher.model import JournalEntry
from watcher.state import silences as stored
from watcher.state.store import Store

log = structlog.get_logger("watcher.silences")

#: how often the stored silences are read again
REFRESH_EVERY = 1.0


class Silencer:
    def __init__(self, store: Store, windows: Sequence[WindowConfig],
                 inhibit: Sequence[InhibitRule] = (), *, clock: Clock,
                 retention: float | None = None) -> None:
        self.store = store
        self.clock = clock
        #: silences that ended longer ago than this are dropped (None: all are kept)
        self.retention = retention
        self._windows: tuple[WindowConfig, ...] = ()
        self._window_holds: list[Hold] = []
        self._records: dict[str, bytes] | None = None
        self._silences: list[Silence] = []
        self._holds: list[Hold] = []
        self._per_sink: dict[str, tuple[Hold, ...]] = {}
        self._failing = False
        self.set_windows(windows, inhibit)

    def set_windows(self, windows: Sequence[WindowConfig],
                    inhibit: Sequence[InhibitRule] = ()) -> None:
        """A reload's windows (what changed only: a window's cached openings stay) and
        inhibitions."""
        #: the ``[[inhibit]]`` rules every notification sink's runner judges by
        self.inhibit = tuple(inhibit)
        if tuple(windows) == self._windows:
            return
        self._windows = tuple(windows)
        self._window_holds = [w.hold() for w in self._windows]
        self._rebuild()

    def for_sink(self, sink: str) -> tuple[Hold, ...]:
        """The silences and windows that may hold events back from ``sink``."""
        holds = self._per_sink.get(sink)
        if holds is None:
            holds = self._per_sink[sink] = tuple(h for h in self._holds if h.applies_to(sink))
        return holds

    def _rebuild(self) -> None:
        self._holds = [*self._window_holds,
                       *(Hold(s.id, Match(s.match), s.sinks, s.active) for s in self._silences)]
        self._per_sink = {}

    async def refresh(self) -> None:
        """Read the stored silences again; StoreError propagates (the set stays)."""
        records = await self.store.records(stored.NAMESPACE)
        if records == self._records:
            return
        first = self._records is None
        silences, damaged = stored.decode_all(records)
        for key in damaged:
            log.warning("ignoring a damaged silence record", silence=key)
        silences, dropped = await self._drop_old(silences)
        # what the store holds once they are forgotten: one it could not forget yet makes
        # the next read differ, and is forgotten then
        self._records = {k: v for k, v in records.items() if k not in dropped}
        before = {s.id: s for s in self._silences}
        self._silences = silences
        self._rebuild()
        if not first:  # changes while running; the ones in force at start are no news
            _log_changes(before, silences)

    async def _drop_old(self, silences: list[Silence]) -> tuple[list[Silence], set[str]]:
        """The silences kept, and the ids of those that ended ``retention`` ago, forgotten
        in the store (housekeeping: one the store cannot forget now is tried again)."""
        if self.retention is None:
            return silences, set()
        cut = self.clock() - self.retention
        dropped = {s.id for s in silences if s.ends < cut}
        for sid in dropped:
            try:
                await stored.forget(self.store, sid)
            except StoreError as e:
                log.debug("could not forget an ended silence", silence=sid, error=str(e))
        return [s for s in silences if s.id not in dropped], dropped

    async def run(self) -> None:
        """Refresh every :data:`REFRESH_EVERY` seconds; a failed read keeps the last set."""
        while True:
            try:
                await self.refresh()
                if self._failing:
                    self._failing = False
                    log.info("silences readable again")
            except Exception as e:  # the set in force stays; delivery goes on
                if not self._failing:
                    self._failing = True
                    log.error("could not read the silences, keeping the last ones",
                              error=str(e))
            await self.clock.sleep(REFRESH_EVERY)

    def active(self, now: float) -> list[SilenceStatus]:
        """The silences and windows holding events back at ``now``."""
        out = []
        for w in self._windows:
            opening = w.opening(now)
            if opening is not None and opening[0] <= now < opening[1]:
                out.append(SilenceStatus(w.name, "window", w.match, w.sinks, *opening,
                                         comment=w.comment or ""))
        out += [SilenceStatus(s.id, "silence", s.match, s.sinks, s.starts, s.ends,
                              author=s.author, comment=s.comment)
                for s in self._silences if s.active(now)]
        return out


def _log_changes(before: dict[str, Silence], after: Iterable[Silence]) -> None:
    for s in after:
        old = before.pop(s.id, None)
        if old is None:
            log.info("silence added", silence=s.id, match=s.match, ends=s.ends,
                     author=s.author)
        elif old.ends != s.ends:
            log.info("silence expired" if s.expired is not None else "silence changed",
                     silence=s.id)
    for s in before.values():
        log.info("silence removed", silence=s.id)


def screen(entries: Sequence[JournalEntry], holds: Sequence[Hold], *, told: set[str] | None,
           repeat: float | None, inhibited: Container[int] = ()
           ) -> tuple[list[JournalEntry], list[str], list[int]]:
    """What a sink is handed of ``entries`` (already through its ``match``), the labels
    of the silences that held each of the others back, and the seqs inhibition held.

    A complete record (``told`` None) is handed them all.  A notification sink is
    handed a reminder only of its ``repeat_interval``; ``told``: the incidents it was
    handed the start of and has not seen end (brought up to date with what is handed
    over); the resolution of one passes whatever silence or inhibition would hold it.
    ``inhibited``: the seqs an open episode holds back, unless a silence holds them."""
    if told is None:
        return list(entries), [], []
    out: list[JournalEntry] = []
    held: list[str] = []
    stopped: list[int] = []
    for e in entries:
        if e.type in REMINDS and (repeat is None or reminder_interval(e) != repeat):
            continue
        incident = incident_of(e)
        h = held_by(e, e.time, holds) if holds else None
        if h is not None and incident is not None and incident[0] == RESOLVES \
                and incident[1] in told:
            h = None  # the sink got the alert: it gets its end, silenced or not
        inhibit = h is None and e.seq in inhibited and not exempt(incident, told)
        if h is not None:
            held.append(h.label)
        elif inhibit:
            stopped.append(e.seq)
        else:
            out.append(e)
        if incident is not None:
            if incident[0] != OPENS:
                told.discard(incident[1])
            elif h is None and not inhibit:  # handed over
                told.add(incident[1])
    return out, held, stopped


def forget_ended(entries: Iterable[JournalEntry], told: set[str]) -> None:
    """Incidents ended by events the sink's ``match`` leaves out: nothing to resolve."""
    for e in entries:
        incident = incident_of(e)
        if incident is not None and incident[0] != OPENS:
            told.discard(incident[1])


def reminder_interval(e: JournalEntry) -> float | None:
    """The ``repeat_interval`` a reminder was made for (its body is read: reminders are few)."""
    value = data_of(parsed(e.body)).get("repeat_interval_s")
    return float(value) if isinstance(value, int | float) else None
