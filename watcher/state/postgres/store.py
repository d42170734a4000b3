"""The store on a PostgreSQL database several replicas share: the Store protocol, and
the :class:`~watcher.state.cluster.Cluster` of their leases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from watcher.errors import StoreError, StoreUnavailable
from watcher.model import JournalEntry
from watcher.state.inbox import Push
from watcher.state.postgres import inbox, journal, sinks
from watcher.state.postgres.connection import Conn, Database
from watcher.state.postgres.leases import PgCluster, check_fence
from watcher.state.postgres.runs import Runs
from watcher.state.postgres.schema import SCHEMA_VERSION, migrate, schema_version
from watcher.state.snapshots import Layout, Sizes
from watcher.state.store import Commit, DeadLetter, SourceRow, SqlStore, describe

#: the NOTIFY channel's prefix; the schema follows, so two states in one database differ
CHANNEL = "watcher:"


class PostgresStore(SqlStore):
    """Runs, journal, cursors, dead letters, records and leases in one database."""

    persistent = True
    _journal, _sinks, _inbox = journal, sinks, inbox
    _db: Database

    def __init__(self, db: Database, *, replica: str, channel: str,
                 listen_url: str | None, layout: Layout | None = None) -> None:
        self._db = db
        self._runs = Runs(layout)
        self._doubts = journal.Doubts()
        self._channel = channel
        self.cluster = PgCluster(db, replica, channel, listen_url)
        #: round trips to the server so far, and their durations
        self.trips = db.trips

    @classmethod
    async def open(cls, url: str, *, replica: str, listen_url: str | None = None,
                   layout: Layout | None = None, create: bool = True) -> PostgresStore:
        """Connect and bring the schema up to date; StoreUnavailable (exit 69) if either
        is impossible.  ``listen_url``: where to LISTEN (None: ``url``; "": nowhere).
        ``create=False``: connect only, migrating nothing (``check --connect``)."""
        db = await Database.open(url, application=f"watcher {replica}")
        try:
            schema = await db.session(lambda conn: _prepare(conn, db.path, create))
        except BaseException as e:
            await db.close()
            if isinstance(e, StoreError):
                raise StoreUnavailable(str(e)) from None
            raise
        return cls(db, replica=replica, channel=(CHANNEL + schema)[:63],
                   listen_url=url if listen_url is None else listen_url or None, layout=layout)

    async def probe(self) -> str:
        return describe("PostgreSQL", self.path, await self._db.session(schema_version),
                        SCHEMA_VERSION)

    async def load(self, sources: Collection[str] | None = None) -> dict[str, SourceRow]:
        rows, sizes = await self._db.read(lambda db: self._runs.load(db, sources))
        self._runs.loaded(sources, sizes)
        self._doubts.loaded(sources)
        return rows

    async def commit(self, commit: Commit) -> list[JournalEntry]:
        """The entries journaled: after a failure of unknown outcome, without those the
        failed commit did journal (they are read from the journal like another's)."""
        source, doubts = commit.source, self._doubts
        try:
            sizes, entries = await self._db.write(lambda db: self._commit(db, commit))
        except StoreError:
            doubts.failed(commit)
            if source is not None:  # it may have committed: ask the database next time
                self._runs.sizes.pop(source, None)
            raise
        doubts.settled(commit)
        self._runs.committed(source, sizes)
        if entries:
            doubts.saw(entries[-1].seq)
        return entries

    async def _commit(self, db: Conn, c: Commit) -> tuple[Sizes | None, list[JournalEntry]]:
        if c.fence is not None:  # first: a fenced commit writes nothing
            await check_fence(db, c.fence, self.cluster.replica)
        sizes = None
        if c.source is not None:
            if c.upserts or c.removals:
                sizes = await self._runs.write(db, c.source, c)
            if c.row is not None:
                await self._runs.save_row(db, c.source, c.row)
            await inbox.applied(db, c.source, c.applied, c.inbox_before)
        if c.cursor is not None:
            await sinks.set_cursor(db, *c.cursor)
        await sinks.put_records(db, c.records)
        # last: it holds the head's lock
        return sizes, await journal.append(db, c.entries, self._channel, self._doubts.of(c))

    async def forget_source(self, source: str) -> None:
        await self._db.write(lambda db: self._runs.forget(db, source))
        self._runs.sizes.pop(source, None)

    async def receive(self, push: Push) -> bool:
        return await self._db.write(lambda db: inbox.receive(db, push, self._channel))

    async def head(self) -> int:
        seq = await super().head()
        self._doubts.saw(seq)
        return seq

    async def import_journal(self, entries: Sequence[JournalEntry], head: int) -> None:
        """Entries with their numbers kept, and the head (``watcher migrate``)."""
        await self._db.write(lambda db: journal.insert(db, entries, head))

    async def import_dead(self, letters: Sequence[DeadLetter]) -> None:
        """Dead letters with their times and retry flags kept (``watcher migrate``)."""
        await self._db.write(lambda db: sinks.insert_dead(db, letters))


async def _prepare(conn: Any, path: str, migrating: bool) -> str:
    """Migrate if ``migrating``; the schema the tables live in (it names the NOTIFY channel)."""
    if migrating:
        await migrate(conn, path)
    return str(await conn.fetchval("SELECT current_schema()"))
