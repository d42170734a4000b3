"""The reminder stream: a journal reader that writes reminders back into the journal.

A :class:`~watcher.runtime.reader.JournalReader` (cursor :data:`READER`; with several
replicas under the ``reader:reminders`` lease, each write fenced by it).  It keeps the
open episodes (failing sources, stuck runs; :mod:`watcher.core.reminders`) as records of
the store's ``reminders`` namespace and journals each reminder when it is due; the
reminders, the episodes they change and its cursor go in one transaction
(:meth:`~watcher.state.journal.Journal.write_back`), so a restart neither repeats a
reminder nor loses one.

One stream serves every sink: reminders are made for each distinct ``repeat_interval``
of the configured sinks, and a sink is handed those of its own interval (complete
records get them all; see :func:`~watcher.runtime.silencing.screen`).  Episodes are kept
whether or not any sink asks for reminders, so a ``repeat_interval`` added by a reload
reminds of a source that was already failing.

A step that changes nothing writes nothing; its cursor is saved at least every
:data:`CURSOR_EVERY` seconds (entries between the saved cursor and its position
changed nothing, so reading them again after a restart changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import structlog

from watcher.core import reminders as core
from watcher.core.reminders import Episode
from watcher.infra.clock import Clock
from watcher.model import Event
from watcher.runtime.reader import JournalReader
from watcher.state.journal import Journal

log = structlog.get_logger("watcher.reminders")

#: the reminder stream's journal cursor (no sink can have this name)
READER = "@reminders"
NAMESPACE = "reminders"
#: the longest wait between two looks (a reload may bring new intervals)
MAX_WAIT = 60.0
CURSOR_EVERY = 60.0


class Reminders(JournalReader):
    doing = "reminders"

    def __init__(self, journal: Journal, *, intervals: Callable[[], Collection[float]],
                 sources: Callable[[], Collection[str]], clock: Clock) -> None:
        super().__init__(journal, READER, clock=clock, task="reminders", log=log)
        self.intervals = intervals
        self.sources = sources
        self.episodes: dict[str, Episode] = {}
        self._saved = (0, 0.0)  # (cursor, when) last written
        self._loaded = False
        self._due_at: float | None = None

    async def start(self) -> bool:
        self._due_at = 0.0  # a first step at once: what came due meanwhile
        if not self._loaded:
            await self.load()
        return True

    async def load(self) -> None:
        """Take up where the last process left off (a first start reads the journal)."""
        self.cursor = self.journal.cursors.get(READER, 0)
        self._saved = (self.cursor, self.clock())
        self.episodes = {}
        for key, raw in (await self.journal.records(NAMESPACE)).items():
            try:
                self.episodes[key] = Episode.decode(raw)
            except (ValueError, TypeError):
                log.warning("ignoring a damaged reminder record", episode=key)
        self._loaded = True

    def unload(self) -> None:
        """Forget what was loaded: the next :meth:`run` reads it from the store again."""
        self._loaded = False

    def deadline(self) -> float | None:
        return self._due_at

    async def idle(self) -> None:
        await self.step(save=True)  # what came due since the last run, and the cursor

    async def step(self, *, save: bool = False) -> None:
        """Read what is new, make what is due, commit.  ``save``: write the cursor even if
        nothing changed (a process about to end).  StoreError: nothing changed, in memory
        or stored (the next step does it again)."""
        now = self.clock()
        episodes = dict(self.episodes)
        changed: set[str] = set()
        pos = self.cursor
        while True:
            entries = await self.journal.read(pos, self.batch)
            for e in entries:
                key = core.take(episodes, e)
                if key is not None:
                    changed.add(key)
            if entries:
                pos = entries[-1].seq
            if len(entries) < self.batch:
                break
        changed |= _drop_gone(episodes, self.sources())
        events = self._due(episodes, changed, now)
        if changed or (pos != self._saved[0]
                       and (save or now - self._saved[1] >= CURSOR_EVERY)):
            records = {(NAMESPACE, k): (episodes[k].encode() if k in episodes else None)
                       for k in changed}
            await self.journal.write_back(READER, pos, events=events, records=records,
                                          fence=self.claim)
            self._saved = (pos, now)
        self.episodes, self.cursor = episodes, pos
        self._due_at = self._next(now)

    def _due(self, episodes: dict[str, Episode], changed: set[str], now: float) -> list[Event]:
        intervals = self.intervals()
        events: list[Event] = []
        for key, ep in episodes.items():
            made = core.due(ep, intervals, now)
            if made:
                events += [core.reminder(ep, i, n, now) for i, n in made]
                episodes[key] = core.sent(ep, made)
                changed.add(key)
        return events

    def _next(self, now: float) -> float:
        """When the next reminder is due (or the next look: a reload may bring intervals)."""
        intervals = self.intervals()
        due = [d for ep in self.episodes.values()
               if (d := core.next_due(ep, intervals)) is not None]
        return min([*due, now + MAX_WAIT])


def _drop_gone(episodes: dict[str, Episode], sources: Collection[str]) -> set[str]:
    """Episodes of sources no longer configured end: nobody polls them any more."""
    gone = {k for k, ep in episodes.items() if ep.source not in sources}
    for k in gone:
        del episodes[k]
    return gone
