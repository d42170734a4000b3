"""The store on one SQLite file: the :class:`~watcher.state.store.Store` protocol."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

import anyio.to_thread

from watcher.model import JournalEntry
from watcher.state.inbox import Push
from watcher.state.lock import StateLock
from watcher.state.snapshots import Layout, Sizes
from watcher.state.sqlite import inbox, journal, sinks
from watcher.state.sqlite.connection import MEMORY, Connection, check_place
from watcher.state.sqlite.runs import Runs
from watcher.state.sqlite.schema import SCHEMA_VERSION, schema_version
from watcher.state.store import Commit, DeadLetter, SourceRow, SqlStore, describe


class SqliteStore(SqlStore):
    """Runs, journal, cursors and dead letters in one file; with ``:memory:`` nothing
    survives the process and run rows are not written at all (memory holds them
    already), while the journal still works, so sinks behave the same.  One process
    writes the file, so it holds every lease: there is no cluster and no fencing."""

    cluster: None = None
    _journal, _sinks, _inbox = journal, sinks, inbox
    _db: Connection

    def __init__(self, db: Connection, *, layout: Layout | None = None,
                 lock: StateLock | None = None) -> None:
        self._db = db
        self._runs = Runs(layout)
        self._lock = lock
        self.persistent = db.path != MEMORY
        #: namespace -> (the file's stamp when read, its records then)
        self._records: dict[str, tuple[tuple[int, ...], dict[str, bytes]]] = {}
        #: dead-letter queries that found none, and the file's stamp then
        self._no_dead: dict[tuple[str | None, bool, int | None], tuple[int, ...]] = {}

    @classmethod
    async def open(cls, path: str, *, writer: str | None = None,
                   layout: Layout | None = None, create: bool = True,
                   existing: bool = False) -> SqliteStore:
        """As :func:`~watcher.state.backends.open_store` opens a file; a ``writer`` holds
        the one-writer lock (:mod:`watcher.state.lock`) until :meth:`close`."""
        def opened() -> SqliteStore:
            check_place(path, existing=existing or not create)  # before a lock file beside it
            lock = StateLock.acquire(path, command=writer) if writer else None
            try:
                db = (Connection.open(path, existing=existing) if create
                      else Connection.open_readonly(path))
                return cls(db, layout=layout, lock=lock)
            except BaseException:
                if lock is not None:
                    lock.release()
                raise

        return await anyio.to_thread.run_sync(opened)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._lock is not None:
                self._lock.release()

    async def probe(self) -> str:
        if not self.persistent:
            return "SQLite in memory: nothing is kept across restarts"
        return describe("SQLite", self.path, await self._db.read(schema_version),
                        SCHEMA_VERSION)

    async def load(self, sources: Collection[str] | None = None) -> dict[str, SourceRow]:
        rows, sizes = await self._db.read(lambda db: self._runs.load(db, sources))
        self._runs.loaded(sources, sizes)
        return rows

    async def commit(self, commit: Commit) -> list[JournalEntry]:
        sizes = await self._db.write(lambda db: self._commit(db, commit))
        # after the transaction, so a failed one leaves the sizes as stored; the
        # journal's lock keeps two commits of one source from crossing here
        self._runs.committed(commit.source, sizes)
        return list(commit.entries)

    def _commit(self, db: sqlite3.Connection, c: Commit) -> Sizes | None:
        sizes = None
        if c.source is not None:
            if self.persistent and (c.upserts or c.removals):
                sizes = self._runs.write(db, c.source, c)
            if c.row is not None:
                self._runs.save_row(db, c.source, c.row)
            inbox.applied(db, c.source, c.applied, c.inbox_before)
        journal.append(db, c.entries)
        if c.cursor is not None:
            sinks.set_cursor(db, *c.cursor)
        sinks.put_records(db, c.records)
        return sizes

    async def forget_source(self, source: str) -> None:
        await self._db.write(lambda db: self._runs.forget(db, source))
        self._runs.sizes.pop(source, None)

    async def receive(self, push: Push) -> bool:
        return await self._db.write(lambda db: inbox.receive(db, push))

    async def records(self, namespace: str) -> dict[str, bytes]:
        """The namespace's records; read again only when the file changed since they were
        last read (silences are looked at every second, by a daemon that mostly writes
        nothing: a ``stat``, not a query in the worker thread)."""
        stamp = self._db.stamp()
        seen = self._records.get(namespace)
        if stamp is not None and seen is not None and seen[0] == stamp:
            return dict(seen[1])
        out = await super().records(namespace)
        if stamp is not None:  # taken before the read: a write after it shows next time
            self._records[namespace] = (stamp, dict(out))
        return out

    async def all_records(self) -> dict[tuple[str, str], bytes]:
        """Every record of every namespace (``watcher migrate``)."""
        return await self._db.read(sinks.all_records)

    async def dead_letters(self, sink: str | None = None, *, retry_only: bool = False,
                           limit: int | None = None) -> list[DeadLetter]:
        """Dead letters; none found stays none while the file does not change (each sink
        looks for letters queued for retry every 2 s: a ``stat``, as for :meth:`records`)."""
        stamp, key = self._db.stamp(), (sink, retry_only, limit)
        if stamp is not None and self._no_dead.get(key) == stamp:
            return []
        out = await super().dead_letters(sink, retry_only=retry_only, limit=limit)
        if stamp is not None and not out:
            self._no_dead[key] = stamp
        return out
