"""The event journal: the one ordered, durable stream every sink reads from.

A poll cycle's events are appended with its state changes in one store
transaction, and the store gives them their sequence numbers.  Each sink
keeps a cursor (the last sequence it acknowledged), persisted in the store,
and resumes from it after a restart; so delivery is at-least-once and a
duplicate carries the same event id.  Recent entries are also kept in
memory, so a sink that keeps up never touches the disk to read.  The journal
speaks to the store only through :class:`~watcher.state.store.Store`.

With several replicas on one store, others journal too: :meth:`Journal.learn`
takes the head they reached (from the store's notifications) and wakes the
readers, and :meth:`Journal.catch_up` reads their entries into the tail once
for every reader of this process.  Commits and cursor moves made under a
lease carry its :class:`~watcher.state.store.Fence`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import anyio

from watcher.core.events import to_json
from watcher.model import Event, JournalEntry, Tracked
from watcher.state.inbox import Push
from watcher.state.store import Commit, DeadLetter, Fence, SourceRow, Store

#: entries kept in memory beyond the slowest sink's cursor
TAIL_KEEP = 10_000


def entry_of(event: Event) -> JournalEntry:
    d = event.data
    return JournalEntry(0, event.id, event.time, event.type, event.source, d.get("run_id"),
                        d.get("status"), d.get("workflow_id"), d.get("workflow_name"),
                        to_json(event))


class Journal:
    def __init__(self, store: Store, *, tail_keep: int = TAIL_KEEP) -> None:
        self.store = store
        self.head = 0
        self.cursors: dict[str, int] = {}
        self._tail: list[JournalEntry] = []
        #: the last sequence taken into the tail (or the head at start)
        self._end = 0
        self._tail_keep = tail_keep
        self._lock = anyio.Lock()
        self._changed = anyio.Event()
        self._acked = anyio.Event()
        #: events journaled by this process, per type (for metrics)
        self.counts: Counter[str] = Counter()

    async def start(self) -> None:
        self.head = self._end = await self.store.head()
        self.cursors = await self.store.cursors()

    async def commit(self, source: str, row: SourceRow, *, events: Sequence[Event] = (),
                     upserts: Mapping[str, Tracked] | None = None,
                     removals: Sequence[str] = (),
                     base: Mapping[str, Tracked] | None = None,
                     fence: Fence | None = None, applied: Sequence[str] = (),
                     inbox_before: float | None = None) -> list[JournalEntry]:
        """Write a cycle's state changes and events atomically (as :class:`Commit` says);
        returns the new entries.  StoreError: nothing was written and memory is unchanged,
        so the caller simply tries the cycle again."""
        return await self._commit(Commit(source, row, upserts or {}, removals,
                                         [entry_of(e) for e in events], base, fence=fence,
                                         applied=applied, inbox_before=inbox_before))

    async def write_back(self, reader: str, seq: int, *, events: Sequence[Event] = (),
                         records: Mapping[tuple[str, str], bytes | None] | None = None,
                         fence: Fence | None = None) -> list[JournalEntry]:
        """A journal reader that writes events back (health rules, reminders) has read up
        to ``seq``: its new events, its records and its cursor, in one transaction, so a
        restart neither repeats nor loses what it decided.  StoreError: none of it."""
        return await self._commit(Commit(entries=[entry_of(e) for e in events],
                                         cursor=(reader, seq), records=records or {},
                                         fence=fence))

    async def _commit(self, commit: Commit) -> list[JournalEntry]:
        # held across the store's commit, so the tail grows in the order of the numbers
        async with self._lock:
            entries = await self.store.commit(commit)
            if commit.cursor is not None:
                self.cursors[commit.cursor[0]] = commit.cursor[1]
            if entries:
                self.counts.update(e.type for e in entries)
                self._append(entries)
        return entries

    def _append(self, entries: list[JournalEntry]) -> None:
        """Take in entries just numbered by the store; the tail stays gapless (another
        writer's entries in between are read from the store)."""
        if self._tail and entries[0].seq != self._tail[-1].seq + 1:
            self._tail.clear()
        self._end = entries[-1].seq
        self.head = max(self.head, entries[-1].seq)
        self._tail.extend(entries)
        self._trim()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def learn(self, head: int) -> None:
        """Another replica journaled up to ``head``: wake whoever waits for entries."""
        if head > self.head:
            self.head = head
            self._notify()

    async def catch_up(self, limit: int = 1000) -> bool:
        """Read what other replicas journaled after the tail into it (once for every
        reader of this process); True if there may be more to read."""
        async with self._lock:
            if self._end >= self.head:
                return False
            entries = await self.store.read(self._end, limit)
            if entries:
                self._append(entries)
            return len(entries) == limit

    async def wait(self, after: int) -> None:
        """Return once there is an entry with a sequence above ``after``."""
        while self.head <= after:
            await self._changed.wait()

    async def read(self, after: int, limit: int = 1000) -> list[JournalEntry]:
        """Entries with sequence above ``after``, oldest first, at most ``limit``."""
        if after >= self.head:
            return []
        tail = self._tail
        if tail and tail[0].seq - 1 <= after < tail[-1].seq:
            i = after - tail[0].seq + 1
            return tail[i:i + limit]
        return await self.store.read(after, limit)

    # -- sink cursors ----------------------------------------------------------------

    async def attach(self, sink: str) -> int:
        """A sink's cursor; a new sink starts at the head (it gets events from now on).

        The cursor is in memory before it is written: if the write fails (StoreError)
        the sink still starts, and its first acknowledgement saves the cursor."""
        if sink not in self.cursors:
            self.cursors[sink] = self.head
            await self.store.set_cursor(sink, self.head)
        return self.cursors[sink]

    async def detach(self, sink: str) -> None:
        self.cursors.pop(sink, None)
        await self.store.drop_cursor(sink)

    async def refresh(self, sink: str) -> None:
        """Read ``sink``'s cursor from the store again: another replica delivered to it
        until this one took its lease."""
        stored = (await self.store.cursors()).get(sink)
        if stored is not None:
            self.cursors[sink] = stored

    async def ack(self, sink: str, seq: int, *, fence: Fence | None = None,
                  records: Mapping[tuple[str, str], bytes | None] | None = None) -> None:
        """``sink`` has everything up to ``seq``: persist, then let go of what all have.
        ``fence``: the sink's lease, without which the store refuses the move (Fenced).
        ``records``: written in the same transaction as the cursor."""
        if fence is not None or records:  # refused: the cursor stays where the store has it
            await self.store.commit(Commit(cursor=(sink, seq), records=records or {},
                                           fence=fence))
        self.cursors[sink] = seq
        self._acked.set()
        self._acked = anyio.Event()
        self._trim()
        if fence is None and not records:
            await self.store.set_cursor(sink, seq)

    async def wait_acked(self) -> None:
        """Return at the next acknowledgement by any sink."""
        await self._acked.wait()

    def backlog(self, sink: str) -> int:
        return self.head - self.cursors.get(sink, self.head)

    def _trim(self) -> None:
        """Bound the in-memory tail: drop what every sink has passed, but keep the last
        ``tail_keep`` for late readers (``/events``), and never more than twice that (a sink
        further behind reads from the store)."""
        tail = self._tail
        if len(tail) < 2 * self._tail_keep:
            return
        low = min(self.cursors.values(), default=self.head)
        keep_from = max(min(low + 1, self.head - self._tail_keep + 1),
                        self.head - 2 * self._tail_keep + 1)
        del tail[:max(0, keep_from - tail[0].seq)]

    # -- what readers keep beside their cursors ----------------------------------------

    @property
    def path(self) -> str:
        """Where the journal is kept (for logs)."""
        return self.store.path

    async def records(self, namespace: str) -> dict[str, bytes]:
        """A reader's records of ``namespace`` as last committed with its cursor."""
        return await self.store.records(namespace)

    async def add_dead(self, reader: str, rejected: Iterable[tuple[JournalEntry, str, int]],
                       at: float) -> None:
        """Keep what ``reader`` gave up on as dead letters (entry, reason, attempts)."""
        await self.store.add_dead(reader, rejected, at)

    async def dead_letters(self, reader: str, *, limit: int) -> list[DeadLetter]:
        """``reader``'s dead letters an operator queued for another try."""
        return await self.store.dead_letters(reader, retry_only=True, limit=limit)

    async def resolve_dead(self, reader: str, seqs: Sequence[int]) -> None:
        """Dead letters of ``reader`` delivered at last."""
        await self.store.resolve_dead(reader, seqs)

    async def pushes(self, source: str, limit: int) -> list[Push]:
        """``source``'s pushed deliveries not yet applied, oldest first (its inbox)."""
        return await self.store.pushes(source, limit)

    async def prune(self, *, before: float) -> int:
        """Forget entries every sink has passed and that are older than ``before``."""
        upto = min(self.cursors.values(), default=self.head)
        return await self.store.prune_journal(upto=upto, before=before)

