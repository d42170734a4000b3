"""The store seam: everything the runtime needs from durable state, as one protocol.

The runtime (pollers, sink runners, the journal's memory, the CLI) speaks
only :class:`Store`; an implementation keeps runs, the event journal, sink
cursors and dead letters wherever it likes (a SQLite file, a PostgreSQL
database) and must pass the same conformance tests
(``tests/state/test_store_conformance.py``).  What an implementation owes:

- **One transaction per poll.** :meth:`Store.commit` writes a cycle's run
  changes, its source row and its journal entries together, or nothing; with
  them, optionally, a journal reader's cursor and namespaced records (the
  small state of silences, health rules, reminders), so a component that
  reads the journal and writes events back commits what it decided at once.
- **The store numbers the journal.** :meth:`Store.commit` gives the entries
  the next sequence numbers inside that transaction, consecutive and in the
  order of the commits: with several processes on one database only the
  database can number the cluster's journal, and a reader whose cursor passed
  a number must never see a smaller one appear later.
- **The head never goes back.** Pruning never makes a number be used again.
- **Writes under a lease are fenced.** A commit carrying a :class:`Fence` is
  refused with :class:`Fenced` unless this replica still holds that lease at
  that epoch, checked in the commit's own transaction (a store with one writer,
  SQLite, holds every lease).
- **Every failure is a StoreError**, the backend's own error as its cause;
  ``write_error`` / ``last_write_error`` say why writes fail (for ``/readyz``
  and ``STATUS=``).

Every call is async: a backend on a network (asyncpg) and one in worker
threads (sqlite3) implement the same methods, most of them alike (:class:`SqlStore`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import Any, Protocol, Self

from watcher.errors import StoreUnavailable
from watcher.model import JournalEntry, Tracked
from watcher.state.cluster import Cluster
from watcher.state.inbox import Push


@dataclass(slots=True, eq=False)
class Fence:
    """The lease a write is made under: ``lease`` (``source:<name>``, ``sink:<name>``) as
    this replica acquired it, at ``epoch`` (which grows at every takeover)."""

    lease: str
    epoch: int


@dataclass
class SourceRow:
    """A source's persisted poll state."""

    cursor: dict[str, Any] = field(default_factory=dict)
    baselined: bool = False
    failures: int = 0
    failing_since: float | None = None
    runs: dict[str, Tracked] = field(default_factory=dict)


@dataclass
class Commit:
    """Everything one cycle changes, written atomically: a poll's runs and source row, or
    a journal reader's events, records and cursor."""

    #: the source whose runs and row this commit writes (None: no source)
    source: str | None = None
    row: SourceRow | None = None
    upserts: Mapping[str, Tracked] = field(default_factory=dict)
    removals: Sequence[str] = ()
    #: new journal entries; their ``seq`` is assigned by the store
    entries: Sequence[JournalEntry] = ()
    #: the source's runs before this commit, exactly as stored (None: never snapshot)
    base: Mapping[str, Tracked] | None = None
    #: ``(consumer, seq)``: move that journal reader's cursor (as ``set_cursor`` does)
    cursor: tuple[str, int] | None = None
    #: ``(namespace, key) -> value`` records to write; ``None`` deletes the record
    records: Mapping[tuple[str, str], bytes | None] = field(default_factory=dict)
    #: the lease this commit is made under (None: no lease needed)
    fence: Fence | None = None
    #: deliveries of ``source``'s push inbox this commit applied (marked so, at once)
    applied: Sequence[str] = ()
    #: forget ``source``'s applied deliveries received before this (None: keep them)
    inbox_before: float | None = None


#: the journal table's columns: :class:`JournalEntry`'s fields, in order
ENTRY_COLS = tuple(f.name for f in fields(JournalEntry))
#: every dead letter with its entry, which each store narrows with ``AND`` clauses
DEAD_LETTERS = (f"SELECT d.sink, d.reason, d.attempts, d.time, d.retry, "
                f"{', '.join('j.' + c for c in ENTRY_COLS)} "
                "FROM deadletters d JOIN journal j ON j.seq = d.seq WHERE true")


@dataclass
class DeadLetter:
    """A journal entry a sink gave up on, and why."""

    sink: str
    entry: JournalEntry
    reason: str
    attempts: int
    time: float
    #: an operator asked for it to be delivered again (``watcher deadletters retry``)
    retry: bool


class Store(Protocol):
    """Durable state: runs per source, the journal, sink cursors, dead letters."""

    @property
    def path(self) -> str:
        """Where the state lives, fit to show (no credentials)."""

    @property
    def persistent(self) -> bool:
        """False when nothing survives the process (``:memory:``)."""

    @property
    def write_error(self) -> str | None:
        """Why the last write failed; None once a write succeeds."""

    @property
    def last_write_error(self) -> str | None:
        """Why the most recent failed write failed, kept after writes succeed again."""

    @property
    def cluster(self) -> Cluster | None:
        """The replicas' leases when several processes share this store (PostgreSQL);
        None when the store has one writer, which holds every lease."""

    async def load(self, sources: Collection[str] | None = None) -> dict[str, SourceRow]:
        """The persisted rows, runs included, of every source (or only of ``sources``);
        a source never committed is absent."""

    async def commit(self, commit: Commit) -> list[JournalEntry]:
        """Write a poll's changes, source row and entries atomically; returns the
        entries as stored, numbered after the head.  On StoreError nothing was
        written and the entries' numbers mean nothing."""

    async def head(self) -> int:
        """The highest sequence number ever given (0 for a new journal), pruned or not."""

    async def read(self, after: int, limit: int) -> list[JournalEntry]:
        """Entries numbered above ``after``, oldest first, at most ``limit``."""

    async def prune_journal(self, *, upto: int, before: float) -> int:
        """Drop entries numbered ``<= upto`` and older than ``before`` that no dead
        letter refers to; returns how many went."""

    async def cursors(self) -> dict[str, int]:
        """Every sink's cursor: the last sequence number it acknowledged."""

    async def set_cursor(self, sink: str, seq: int) -> None:
        """Move ``sink``'s cursor to ``seq`` (creating it)."""

    async def drop_cursor(self, sink: str) -> None:
        """Forget ``sink``'s cursor (a sink removed from the config)."""

    async def add_dead(self, sink: str, items: Iterable[tuple[JournalEntry, str, int]],
                       now: float) -> None:
        """Keep ``(entry, reason, attempts)`` as dead letters of ``sink``, replacing any
        for the same entry (with its retry flag cleared)."""

    async def dead_letters(self, sink: str | None = None, *, retry_only: bool = False,
                           limit: int | None = None) -> list[DeadLetter]:
        """Dead letters oldest first: of one sink or all, only those queued for retry
        if asked, at most ``limit`` (None: all)."""

    async def mark_retry(self, sink: str | None) -> int:
        """Queue ``sink``'s dead letters (None: every sink's) for delivery again;
        returns how many."""

    async def resolve_dead(self, sink: str, seqs: Sequence[int]) -> None:
        """Drop ``sink``'s dead letters for these entries (delivered at last)."""

    async def forget_source(self, source: str) -> None:
        """Drop a source's runs and row (its API changed: those runs are not its runs)."""

    async def receive(self, push: Push) -> bool:
        """Store a verified push durably unless its ``(source, delivery)`` is there (with
        replicas, telling the others); whether it was new."""

    async def pushes(self, source: str, limit: int) -> list[Push]:
        """``source``'s pushes not applied yet, oldest first, at most ``limit``."""

    async def records(self, namespace: str) -> dict[str, bytes]:
        """Every record of ``namespace`` (small state: silences, rule episodes, ...)."""

    async def put_record(self, namespace: str, key: str, value: bytes | None) -> None:
        """Write one record (``None`` deletes it), alone in its own transaction."""

    async def close(self) -> None:
        """Release the store (and the right to write it, where the store holds one)."""

    async def __aenter__(self) -> Self:
        """``async with await open_store(...) as store:`` closes it when the block ends."""

    async def __aexit__(self, *exc: object) -> None:
        ...

    async def probe(self) -> str:
        """``watcher check --connect``: what the store is and its schema version, in one
        line; StoreUnavailable when this watcher cannot use it (a newer schema)."""


def describe(kind: str, path: str, version: int, current: int) -> str:
    """:meth:`Store.probe`'s line for a store at schema ``version`` (``current``: this
    watcher's); StoreUnavailable if a newer watcher wrote it."""
    if version > current:
        raise StoreUnavailable(f"{path}: written by a newer watcher (schema {version})")
    if version < current:
        return f"{kind} {path}, schema {version}: watcher run migrates it to {current}"
    return f"{kind} {path}, schema {version} (current)"


class SqlConnection(Protocol):
    """A SQL store's connection: it runs a function of the driver's connection (sqlite3 in
    a worker thread, asyncpg from a pool) as a read, a write transaction or one writing
    statement, and keeps the store's write health."""

    path: str
    write_error: str | None
    last_write_error: str | None

    async def read(self, fn: Callable[[Any], Any]) -> Any:
        ...

    async def write(self, fn: Callable[[Any], Any]) -> Any:
        ...

    async def statement(self, fn: Callable[[Any], Any]) -> Any:
        ...

    async def close(self) -> None:
        ...


class SqlStore:
    """What the SQLite and PostgreSQL stores do alike: the same call of their own SQL
    modules (``_journal``, ``_sinks``, ``_inbox``) through their connection, its result
    (untyped, as the module is) made the protocol's type."""

    _journal: ModuleType
    _sinks: ModuleType
    _inbox: ModuleType
    _db: SqlConnection

    @property
    def path(self) -> str:
        return self._db.path

    @property
    def write_error(self) -> str | None:
        return self._db.write_error

    @property
    def last_write_error(self) -> str | None:
        return self._db.last_write_error

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def pushes(self, source: str, limit: int) -> list[Push]:
        return list(await self._db.read(lambda db: self._inbox.pending(db, source, limit)))

    async def records(self, namespace: str) -> dict[str, bytes]:
        return dict(await self._db.read(lambda db: self._sinks.records(db, namespace)))

    async def put_record(self, namespace: str, key: str, value: bytes | None) -> None:
        await self._db.write(lambda db: self._sinks.put_records(db, {(namespace, key): value}))

    async def head(self) -> int:
        return int(await self._db.read(self._journal.head))

    async def read(self, after: int, limit: int) -> list[JournalEntry]:
        return list(await self._db.read(lambda db: self._journal.read(db, after, limit)))

    async def prune_journal(self, *, upto: int, before: float) -> int:
        return int(await self._db.write(lambda db: self._journal.prune(db, upto, before)))

    async def cursors(self) -> dict[str, int]:
        return dict(await self._db.read(self._sinks.cursors))

    async def set_cursor(self, sink: str, seq: int) -> None:
        await self._db.statement(lambda db: self._sinks.set_cursor(db, sink, seq))

    async def drop_cursor(self, sink: str) -> None:
        await self._db.statement(lambda db: self._sinks.drop_cursor(db, sink))

    async def add_dead(self, sink: str, items: Iterable[tuple[JournalEntry, str, int]],
                       now: float) -> None:
        rows = [(e.seq, reason, attempts, now) for e, reason, attempts in items]
        await self._db.statement(lambda db: self._sinks.add_dead(db, sink, rows))

    async def dead_letters(self, sink: str | None = None, *, retry_only: bool = False,
                           limit: int | None = None) -> list[DeadLetter]:
        return list(await self._db.read(
            lambda db: self._sinks.dead_letters(db, sink, retry_only, limit)))

    async def mark_retry(self, sink: str | None) -> int:
        return int(await self._db.statement(lambda db: self._sinks.mark_retry(db, sink)))

    async def resolve_dead(self, sink: str, seqs: Sequence[int]) -> None:
        await self._db.statement(lambda db: self._sinks.resolve_dead(db, sink, seqs))
