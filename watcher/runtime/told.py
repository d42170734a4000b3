"""What a notification sink was told has started, kept beside its cursor.

A silence holds back new notifications, never the end of one the sink already got
(:mod:`watcher.core.incidents`).  Which incidents a sink was handed the start of is
durable state: a record per open incident (namespace ``told/<sink>``), written in the
transaction that moves the sink's cursor past the batch that opened or ended it (under
the sink's lease with several replicas).  So whichever replica delivers next (a restart,
a lease moved) reads exactly what the sink was handed up to its cursor, and decides the
same.  A batch is judged on a copy, kept only once the sink took the batch; the records
written with a cursor are the difference from the last commit, so a cursor save that
failed is made up by the next one.  The episodes open at the cursor, by which
inhibition holds events back, are kept the same way (:mod:`watcher.runtime.inhibiting`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from watcher.core.inhibition import InhibitRule, Opened
from watcher.core.status import InhibitionStatus
from watcher.errors import StoreError
from watcher.model import JournalEntry
from watcher.runtime.inhibiting import Inhibiting
from watcher.runtime.silencing import Silencer, forget_ended
from watcher.state.journal import Journal

NAMESPACE = "told"
log = structlog.get_logger("watcher.sink")


class Told:
    def __init__(self, journal: Journal, consumer: str, sink: str | None = None) -> None:
        self.journal = journal
        #: the episodes open at the cursor, and what they hold back from the sink
        self.inhibiting = Inhibiting(journal, consumer, sink or consumer)
        #: of the batch drafted last: seq -> (rule, episode) of what inhibition holds
        self.inhibited: dict[int, tuple[str, str]] = {}
        self.namespace = f"{NAMESPACE}/{consumer}"
        #: keys of the incidents the sink was handed the start of
        self.keys: set[str] = set()
        #: the same, as last committed with the cursor
        self.saved: set[str] = set()

    async def load(self) -> None:
        """The keys as the sink's last runner committed them with its cursor."""
        try:
            self.keys = set(await self.journal.records(self.namespace))
            self.saved = set(self.keys)
        except StoreError as e:  # resolutions may then be held by a silence, nothing worse
            log.error("could not read which incidents the sink was told of", error=str(e),
                      sink=self.namespace)
        await self.inhibiting.load()

    def draft(self, entries: Sequence[JournalEntry], wanted: Sequence[JournalEntry],
              silencer: Silencer | None = None) -> set[str]:
        """A working copy for one batch, without what ended in events left out by the
        sink's ``match`` (``wanted``: those it lets through); :attr:`inhibited` says what
        the silencer's ``[[inhibit]]`` rules hold of ``wanted``."""
        rules = silencer.inhibit if silencer is not None else ()
        self.inhibited = self.inhibiting.draft(entries, wanted, rules)
        keys = set(self.keys)
        if len(wanted) < len(entries):
            through = {e.seq for e in wanted}
            forget_ended((e for e in entries if e.seq not in through), keys)
        return keys

    def settle(self, draft: set[str], stopped: Iterable[int] = ()
               ) -> dict[tuple[str, str], bytes | None]:
        """Keep ``draft`` (the sink took its batch; ``stopped``: the seqs inhibition held
        back of it); the records to write with the cursor: what differs from the last
        commit (:meth:`committed` once it succeeded)."""
        self.keys = draft
        changes: dict[tuple[str, str], bytes | None] = {
            (self.namespace, k): b"1" for k in draft - self.saved}
        changes.update({(self.namespace, k): None for k in self.saved - draft})
        changes.update(self.inhibiting.settle(stopped))
        return changes

    def committed(self) -> None:
        """The records of :meth:`settle` are in the store with the cursor."""
        self.saved = set(self.keys)
        self.inhibiting.committed()


def inhibitions(tolds: Iterable[Told | None], rules: Sequence[InhibitRule]
                ) -> list[InhibitionStatus]:
    """The inhibitions holding now, as the notification sinks' runners in this process see
    them (``tolds``: theirs; None for a record), with what each held from each sink."""
    found: dict[tuple[str, str], tuple[Opened, dict[str, int]]] = {}
    for told in tolds:
        if told is None:
            continue
        state = told.inhibiting
        for rule, key, ep in state.holding(rules):
            found.setdefault((rule, key), (ep, {}))[1][state.sink] = ep.held.get(rule, 0)
    return [InhibitionStatus(rule=rule, episode=ep.type.removeprefix("watcher."),
                             source=ep.source, workflow=ep.workflow_name or ep.workflow_id,
                             since=ep.time, held=held)
            for (rule, _), (ep, held) in sorted(found.items(), key=lambda i: i[1][0].time)]
