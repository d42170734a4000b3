"""What a notification sink was told has started, kept beside its cursor.

A silence holds back new notifications, never the end of one the sink already
got (:mod:`watcher.core.incidents`).  Which incidents a sink was handed the
start of is durable state, not process memory: a record per open incident
(namespace ``told/<sink>``), written in the same transaction that moves the
sink's cursor past the batch that opened or ended it, under the sink's lease
with several replicas.  So it says exactly what the sink was handed up to its
cursor, and whichever replica delivers next (a restart, a lease moved on
SIGTERM or a crash) reads it when its runner starts and decides the same.
A copy is worked on per batch and kept only once the batch is acknowledged:
a batch that fails and is handed again is judged again from the same state.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from watcher.errors import StoreError
from watcher.model import JournalEntry
from watcher.runtime.silencing import forget_ended
from watcher.state.store import Store

NAMESPACE = "told"
log = structlog.get_logger("watcher.sink")


class Told:
    def __init__(self, store: Store, consumer: str) -> None:
        self.store = store
        self.namespace = f"{NAMESPACE}/{consumer}"
        #: keys of the incidents the sink was handed the start of, as committed
        self.keys: set[str] = set()

    async def load(self) -> None:
        """The keys as the sink's last runner committed them with its cursor."""
        try:
            self.keys = set(await self.store.records(self.namespace))
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
        """Keep ``draft`` (its batch is acknowledged); the records to write with the cursor."""
        changes: dict[tuple[str, str], bytes | None] = {
            (self.namespace, k): b"1" for k in draft - self.keys}
        changes.update({(self.namespace, k): None for k in self.keys - draft})
        self.keys = draft
        return changes
