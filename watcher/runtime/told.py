"""What a notification sink was told has started, and the episodes open at its cursor,
kept beside the cursor.

A silence holds back new notifications, never the end of one the sink already got
(:mod:`watcher.core.incidents`).  An open episode holds back what an ``[[inhibit]]`` rule
says, decided from the journal alone (:mod:`watcher.core.inhibition`): whether an event
is held depends on the episodes open at its position, which every reader folds from the
same entries in the same order.  Both are durable state: a record per incident the sink
was handed the start of (namespace ``told/<sink>``) and per episode open at the cursor
(``inhibit/<sink>``), written in the transaction that moves the sink's cursor (under
the sink's lease with several replicas).  So whichever replica delivers next (a restart,
a lease moved) reads exactly the state at the cursor, and decides the same.  A batch is
judged on a copy, kept only once the sink took the batch; the records written with a
cursor are the difference from the last commit, so a cursor save that failed is made up
by the next one.  Episodes are followed whether or not a rule is configured, so a rule
added by a reload holds from the episodes already open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from watcher.core.inhibition import InhibitRule, Opened, judge
from watcher.core.status import InhibitionStatus
from watcher.errors import StoreError
from watcher.model import JournalEntry
from watcher.runtime.silencing import Silencer, forget_ended
from watcher.state.journal import Journal

NAMESPACE = "told"
INHIBIT = "inhibit"
log = structlog.get_logger("watcher.sink")


class Told:
    def __init__(self, journal: Journal, consumer: str, sink: str | None = None) -> None:
        self.journal = journal
        self.sink = sink or consumer
        self.namespace = f"{NAMESPACE}/{consumer}"
        self.inhibit_namespace = f"{INHIBIT}/{consumer}"
        #: keys of the incidents the sink was handed the start of
        self.keys: set[str] = set()
        #: the episodes open up to the cursor, by incident key
        self.episodes: dict[str, Opened] = {}
        #: both as last committed with the cursor
        self.saved: set[str] = set()
        self.saved_episodes: dict[str, bytes] = {}
        #: of the batch drafted last: seq -> (rule, episode) of what inhibition holds
        self.inhibited: dict[int, tuple[str, str]] = {}
        self._episodes: dict[str, Opened] = {}  # the draft's

    async def load(self) -> None:
        """The keys and episodes as the sink's last runner committed them with its cursor."""
        try:
            self.keys = set(await self.journal.records(self.namespace))
            self.saved = set(self.keys)
        except StoreError as e:  # resolutions may then be held by a silence, nothing worse
            log.error("could not read which incidents the sink was told of", error=str(e),
                      sink=self.namespace)
        try:
            records = await self.journal.records(self.inhibit_namespace)
        except StoreError as e:  # nothing is held until an episode opens again
            log.error("could not read the open episodes", error=str(e),
                      sink=self.inhibit_namespace)
            return
        self.episodes = {}
        for key, raw in records.items():
            try:
                self.episodes[key] = Opened.from_bytes(raw)
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a damaged episode record", sink=self.inhibit_namespace)
        self.saved_episodes = dict(records)

    def draft(self, entries: Sequence[JournalEntry], wanted: Sequence[JournalEntry],
              silencer: Silencer | None = None) -> set[str]:
        """A working copy for one batch, without what ended in events left out by the
        sink's ``match`` (``wanted``: those it lets through); :attr:`inhibited` says what
        the silencer's ``[[inhibit]]`` rules hold of ``wanted``."""
        rules = silencer.inhibit if silencer is not None else ()
        self._episodes = {k: ep.copy() for k, ep in self.episodes.items()}
        applies = [r for r in rules if r.applies_to(self.sink)]
        self.inhibited = judge(entries, [e.seq for e in wanted], self._episodes, applies)
        keys = set(self.keys)
        if len(wanted) < len(entries):
            through = {e.seq for e in wanted}
            forget_ended((e for e in entries if e.seq not in through), keys)
        return keys

    def settle(self, draft: set[str], stopped: Iterable[int] = ()
               ) -> dict[tuple[str, str], bytes | None]:
        """Keep ``draft`` (the sink took its batch; ``stopped``: the seqs inhibition held
        back of it, counted); the records to write with the cursor: what differs from the
        last commit (:meth:`committed` once it succeeded)."""
        self.keys = draft
        for seq in stopped:
            rule, key = self.inhibited[seq]
            if (ep := self._episodes.get(key)) is not None:
                ep.tally(rule, None)
        self.episodes = self._episodes
        now = {k: ep.to_bytes() for k, ep in self.episodes.items()}
        told, inhibit, saved = self.namespace, self.inhibit_namespace, self.saved_episodes
        changes: dict[tuple[str, str], bytes | None] = {
            (told, k): b"1" for k in draft - self.saved}
        changes.update({(told, k): None for k in self.saved - draft})
        changes.update({(inhibit, k): v for k, v in now.items() if saved.get(k) != v})
        changes.update({(inhibit, k): None for k in saved.keys() - now.keys()})
        return changes

    def committed(self) -> None:
        """The records of :meth:`settle` are in the store with the cursor."""
        self.saved = set(self.keys)
        self.saved_episodes = {k: ep.to_bytes() for k, ep in self.episodes.items()}


def inhibitions(tolds: Iterable[Told | None], rules: Sequence[InhibitRule]
                ) -> list[InhibitionStatus]:
    """The inhibitions holding now, as the notification sinks' runners in this process see
    them (``tolds``: theirs; None for a record), with what each held from each sink."""
    found: dict[tuple[str, str], tuple[Opened, dict[str, int]]] = {}
    for told in filter(None, tolds):
        for key, ep in told.episodes.items():
            for rule in rules:
                if rule.applies_to(told.sink) and rule.source(ep):
                    held = found.setdefault((rule.name, key), (ep, {}))[1]
                    held[told.sink] = ep.held.get(rule.name, 0)
    return [InhibitionStatus(rule=rule, episode=ep.type.removeprefix("watcher."),
                             source=ep.source, workflow=ep.workflow_name or ep.workflow_id,
                             since=ep.time, held=held)
            for (rule, _), (ep, held) in sorted(found.items(), key=lambda i: i[1][0].time)]
