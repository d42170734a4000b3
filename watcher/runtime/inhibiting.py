"""What an open episode holds back from a notification sink, kept beside its cursor.

Inhibition is decided from the journal alone (:mod:`watcher.core.inhibition`): whether
an event is held depends on the episodes open at its position in the journal, which
every reader folds from the same entries in the same order.  A sink runner keeps the
episodes open up to its cursor as records (namespace ``inhibit/<sink>``), committed with
the cursor like what it was told (:mod:`watcher.runtime.told`).  Episodes are followed
whether or not a rule is configured, so a rule added by a reload holds from the
episodes already open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from watcher.core.inhibition import InhibitRule, Opened, judge
from watcher.errors import StoreError
from watcher.model import JournalEntry
from watcher.state.journal import Journal

NAMESPACE = "inhibit"
log = structlog.get_logger("watcher.sink")


class Inhibiting:
    def __init__(self, journal: Journal, consumer: str, sink: str) -> None:
        self.journal = journal
        self.sink = sink
        self.namespace = f"{NAMESPACE}/{consumer}"
        #: the episodes open up to the cursor, by incident key
        self.episodes: dict[str, Opened] = {}
        #: their records as last committed with the cursor
        self.saved: dict[str, bytes] = {}
        self._work: dict[str, Opened] = {}
        self._candidates: dict[int, tuple[str, str]] = {}

    async def load(self) -> None:
        """The open episodes as the sink's last runner committed them with its cursor."""
        try:
            records = await self.journal.records(self.namespace)
        except StoreError as e:  # nothing is held until an episode opens again
            log.error("could not read the open episodes", error=str(e), sink=self.namespace)
            return
        self.episodes = {}
        for key, raw in records.items():
            try:
                self.episodes[key] = Opened.from_bytes(raw)
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a damaged episode record", sink=self.namespace)
        self.saved = dict(records)

    def draft(self, entries: Sequence[JournalEntry], wanted: Sequence[JournalEntry],
              rules: Sequence[InhibitRule]) -> dict[int, tuple[str, str]]:
        """Fold a batch into a working copy of the episodes; of ``wanted`` (what the sink's
        ``match`` lets through), those an open episode holds: seq -> (rule, episode)."""
        self._work = {k: ep.copy() for k, ep in self.episodes.items()}
        applies = [r for r in rules if r.applies_to(self.sink)]
        self._candidates = judge(entries, [e.seq for e in wanted], self._work, applies)
        return self._candidates

    def settle(self, held: Iterable[int]) -> dict[tuple[str, str], bytes | None]:
        """Keep the draft (the sink took its batch) with ``held`` (the seqs inhibition
        held back) counted; the records to write with the cursor."""
        for seq in held:
            rule, key = self._candidates[seq]
            if (ep := self._work.get(key)) is not None:
                ep.tally(rule, None)
        self.episodes = self._work
        now = {k: ep.to_bytes() for k, ep in self.episodes.items()}
        changes: dict[tuple[str, str], bytes | None] = {
            (self.namespace, k): v for k, v in now.items() if self.saved.get(k) != v}
        changes.update({(self.namespace, k): None for k in self.saved.keys() - now.keys()})
        return changes

    def committed(self) -> None:
        """The records of :meth:`settle` are in the store with the cursor."""
        self.saved = {k: ep.to_bytes() for k, ep in self.episodes.items()}

    def holding(self, rules: Sequence[InhibitRule]) -> Iterable[tuple[str, str, Opened]]:
        """``(rule, episode key, episode)`` of each open episode a rule holds for here."""
        for key, ep in self.episodes.items():
            for rule in rules:
                if rule.applies_to(self.sink) and rule.source(ep):
                    yield rule.name, key, ep

