"""The rule engine: workflow health rules evaluated on the journal, from a cursor of its own.

A :class:`~watcher.runtime.reader.JournalReader` (cursor :data:`READER`; with several
replicas under the ``reader:rules`` lease, each commit fenced by it).  It hands each
batch to the pure evaluation (:func:`watcher.core.episodes.evaluate`) and commits what
it decided (the ``workflow.degraded`` / ``.recovered`` events, the tracks that changed
and its cursor) in one transaction (:meth:`Journal.write_back`), so a restart, or
another replica taking over, neither repeats nor loses an episode.  Its own events come
back to it through the journal and are passed over.

Between entries it sleeps until the tracks' next deadline (the oldest run leaving a
window, a period without success running out), so time alone can open or close an
episode.  A pass that only moved deadlines and decided nothing is not written: it is a
function of time and committed state, worked out again the same way after a restart.

It also counts what each open episode holds back (``[[inhibit]]``,
:func:`watcher.core.inhibition.tally`), the tallies committed with its cursor
(namespace ``inhibited``), so a ``workflow.recovered`` says in ``data.inhibited`` how
many events its episode held and some of their run ids: those journaled before the
engine decided the recovery (one journaled while the recovery is being committed is
held, and counted by the sinks, but not in it).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from watcher.core.episodes import Decision, evaluate, next_deadline, retire
from watcher.core.events import WORKFLOW_RECOVERED
from watcher.core.incidents import workflow_incident
from watcher.core.inhibition import InhibitRule, Opened, summary, tally
from watcher.core.rules import NAMESPACE, Key, Rule, Track, load_tracks
from watcher.infra.clock import Clock
from watcher.model import JournalEntry
from watcher.runtime.claim import Claim
from watcher.runtime.reader import JournalReader
from watcher.state.journal import Journal

#: the engine's journal cursor: no sink can be called this (sink names start with a letter
#: or digit), so a sink's cursor and the engine's never mix
READER = "@rules"
#: the store namespace of what the open episodes held back so far
INHIBITED = "inhibited"


class RuleEngine(JournalReader):
    doing = "rule evaluation"

    def __init__(self, rules: Sequence[Rule], journal: Journal, *, clock: Clock,
                 claim: Claim | None = None, inhibit: Sequence[InhibitRule] = ()) -> None:
        super().__init__(journal, READER, clock=clock, task="rules", claim=claim,
                         log=structlog.get_logger("watcher.rules"))
        self.rules = tuple(rules)
        self.inhibit = tuple(inhibit)
        #: the episodes open up to the cursor, with what each held back
        self.episodes: dict[str, Opened] = {}
        self.tracks: dict[Key, Track] = {}

    async def start(self) -> bool:
        """Load the tracks, take the cursor, and retire tracks of rules now gone.  Without
        rules, once the episodes left open are ended, let go of the cursor (False)."""
        self.tracks = load_tracks(await self.journal.records(NAMESPACE))
        self.episodes = {}
        for key, raw in (await self.journal.records(INHIBITED)).items():
            try:
                self.episodes[key] = Opened.from_bytes(raw)
            except (ValueError, KeyError, TypeError):
                self.log.warning("ignoring a damaged inhibition tally", episode=key)
        self.cursor = await self.journal.attach(READER)
        stale = retire(self.rules, self.tracks, self.clock())
        if stale.changed:
            await self._commit(stale, self.cursor)
            for e in stale.events:
                self.log.info("workflow episode closed: its rule is gone", rule=e.data["rule"],
                              workflow=e.subject, source=e.source)
        if not self.rules:
            await self.journal.detach(READER)
        return bool(self.rules)

    def deadline(self) -> float | None:
        return next_deadline(self.rules, self.tracks)

    async def idle(self) -> None:
        await self.step()  # the deadlines already past

    async def step(self) -> None:
        """One batch (or the deadlines due), committed; a failure keeps the tracks and
        cursor as they were, so the same batch is evaluated again."""
        entries = await self.journal.read(self.cursor, self.batch)
        caught_up = len(entries) < self.batch
        decision = evaluate(self.rules, self.tracks, entries,
                            now=self.clock() if caught_up else None)
        seq = entries[-1].seq if entries else self.cursor
        if entries or decision.events:
            await self._commit(decision, seq, entries)
        else:
            decision.apply(self.tracks)

    async def _commit(self, decision: Decision, seq: int,
                      entries: Sequence[JournalEntry] = ()) -> None:
        episodes, records = self._tallied(decision, entries)
        await self.journal.write_back(READER, seq, events=decision.events,
                                      records={**decision.records(), **records},
                                      fence=self.claim)
        decision.apply(self.tracks)
        self.episodes = episodes
        self.cursor = seq
        for e in decision.events:
            self.log.info("workflow " + e.type.rsplit(".", 1)[-1], rule=e.data["rule"],
                          workflow=e.data.get("workflow_name") or e.subject, source=e.source)

    def _tallied(self, decision: Decision, entries: Sequence[JournalEntry]
                 ) -> tuple[dict[str, Opened], dict[tuple[str, str], bytes | None]]:
        """The episodes after ``entries``, what each held; ``data.inhibited`` on each
        recovery decided (its tally ends with it); the records that changed."""
        before = {k: ep.to_bytes() for k, ep in self.episodes.items()}
        episodes = {k: Opened.from_bytes(raw) for k, raw in before.items()}
        tally(entries, episodes, self.inhibit)
        for e in decision.events:
            if e.type == WORKFLOW_RECOVERED:
                ep = episodes.pop(workflow_incident(e.data.get("rule"), e.source, e.subject),
                                  None)
                if self.inhibit:
                    e.data["inhibited"] = summary(ep)
        now = {k: ep.to_bytes() for k, ep in episodes.items()}
        records: dict[tuple[str, str], bytes | None] = {
            (INHIBITED, k): v for k, v in now.items() if before.get(k) != v}
        records.update({(INHIBITED, k): None for k in before.keys() - now.keys()})
        return episodes, records
