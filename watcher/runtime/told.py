"""What a notification sink was told has started, kept beside its cursor.

A silence holds back new notifications, never the end of one the sink already
got (:mod:`watcher.core.incidents`).  Which incidents a sink was handed the
start of is durable state, not process memory: a record per open incident
(namespace ``told/<sink>``), written in the same transaction that moves the
sink's cursor past the batch that opened or ended it, under the sink's lease
with several replicas.  So it says exactly what the sink was handed up to its
cursor, and whichever replica delivers next (a restart, a lease moved on
SIGTERM or a crash) reads it when its runner starts and decides the same.
A copy is worked on per batch and kept only once the sink took the batch:
a batch that fails and is handed again is judged again from the same state.
The records written with a cursor are the difference from what was last
committed, so a cursor save that failed is made up by the next one.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from watcher.errors import StoreError
from watcher.model import JournalEntry
from watcher.runtime.silencing import forget_ended
from watcher.state.journal import Journal

NAMESPACE = "told"
log = structlog.get_logger("watcher.sink")


class Told:
    def __init__(self, journal: Journal, consumer: str) -> None:
        self.journal = journal
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

    def draft(self, entries: Sequence[JournalEntry], wanted: Sequence[JournalEntry]
              ) -> set[str]:
        """A working copy for one batch, without what ended in events left out by the
        sink's ``match`` (``wanted``: those it lets through)."""
        keys = set(self.keys)
        if len(wanted) < len(entries):
            through = {e.seq for e in wanted}
            forget_ended((e for e in entries if e.seq not in through), keys)
        return keys

    def settle(self, draft: set[str]) -> dict[tuple[str, str], bytes | None]:
        """Keep ``draft`` (the sink took its batch); the records to write with the cursor:
        what differs from the last commit (:meth:`committed` once it succeeded)."""
        self.keys = draft
        changes: dict[tuple[str, str], bytes | None] = {
            (self.namespace, k): b"1" for k in draft - self.saved}
        changes.update({(self.namespace, k): None for k in self.saved - draft})
        return changes

    def committed(self) -> None:
        """The records of :meth:`settle` are in the store with the cursor."""
        self.saved = set(self.keys)
