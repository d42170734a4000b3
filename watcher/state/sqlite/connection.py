"""One SQLite connection, used from worker threads one call at a time.

A capacity limiter of 1 keeps calls in order and off the event loop, so it
never blocks on disk.  A write runs in ONE ``BEGIN IMMEDIATE`` transaction,
committed if it succeeds and rolled back otherwise; every ``sqlite3.Error``
leaves as a :class:`~watcher.errors.StoreError` naming the file, and a
write also records the store's health (``write_error``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import anyio
import anyio.to_thread

from watcher.errors import StoreAbsent, StoreError, StoreUnavailable
from watcher.state.sqlite.schema import migrate

T = TypeVar("T")

MEMORY = ":memory:"
#: a file last changed this recently may change again unseen within the same tick of the
#: file system's clock (coarse: a few milliseconds); its :meth:`Connection.stamp` is none
SETTLED_NS = 100_000_000


def check_place(path: str, *, existing: bool) -> None:
    """Where the state file goes is a directory that exists (a typo in ``state_path`` must
    not become a fresh state in a new directory); with ``existing``, the file is there.
    StoreAbsent (no state yet) or StoreUnavailable, naming the path."""
    if path == MEMORY:
        return
    p = Path(path)
    if existing and not p.exists():
        raise StoreAbsent(f"no daemon state at {path}: it does not exist yet (watcher run "
                          "creates it)")
    if not p.parent.is_dir():
        raise StoreUnavailable(f"cannot open state file {path}: the directory "
                               f"{p.parent} does not exist (watcher creates its state only "
                               "in an existing directory: create it, or correct state_path)")


class Connection:
    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._limiter = anyio.CapacityLimiter(1)
        self.write_error: str | None = None
        self.last_write_error: str | None = None

    @classmethod
    def open(cls, path: str, *, existing: bool = False) -> Connection:
        """Open or create the file, up to date; StoreUnavailable (exit 69) if impossible.
        ``existing``: only if it is there, never creating it (see :func:`check_place`)."""
        try:
            # mode=rw: sqlite3 itself never creates the file, even if it vanished just now
            uri = existing and path != MEMORY
            conn = sqlite3.connect(f"file:{quote(path)}?mode=rw" if uri else path, uri=uri,
                                   check_same_thread=False, isolation_level=None, timeout=10.0)
            if path != MEMORY:
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a committed cycle survives kill -9 (not a power cut).
                conn.execute("PRAGMA synchronous=NORMAL")
                # 16 MB of page cache (default 2 MB): a first sync of 100k runs then
                # rewrites far fewer pages; it is only filled as pages are touched.
                conn.execute("PRAGMA cache_size=-16384")
            migrate(conn, path)
            conn.execute("BEGIN IMMEDIATE")  # fails now, not later, if we cannot write
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open state file {path}: {e}") from None
        return cls(conn, path)

    @classmethod
    def open_readonly(cls, path: str) -> Connection:
        """Open an existing file (see :func:`check_place`) to read only: nothing is
        created, migrated or written."""
        if path == MEMORY:
            return cls.open(path)
        try:
            conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True,
                                   check_same_thread=False, isolation_level=None, timeout=10.0)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # is it a database at all?
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot open state file {path}: {e}") from None
        return cls(conn, path)

    def stamp(self) -> tuple[int, ...] | None:
        """What the file and its write-ahead log look like on disk (two ``stat`` calls, no
        query): any commit, by this process or another, changes it.  ``None`` when that
        cannot be relied on: in memory, or a file changed within :data:`SETTLED_NS`."""
        if self.path == MEMORY:
            return None
        try:
            db, wal = os.stat(self.path), os.stat(self.path + "-wal")
        except OSError:
            return None
        # File times come from the wall clock: the clock of the file system, not the daemon's.
        if time.time_ns() - max(db.st_mtime_ns, wal.st_mtime_ns) < SETTLED_NS:
            return None
        return (db.st_ino, db.st_mtime_ns, db.st_size, wal.st_ino, wal.st_mtime_ns, wal.st_size)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` in the worker thread, outside any transaction."""
        return await anyio.to_thread.run_sync(self._read, fn, limiter=self._limiter)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` in the worker thread, in one write transaction."""
        return await anyio.to_thread.run_sync(self._write, fn, limiter=self._limiter)

    #: what PostgreSQL runs as one statement (saving round trips) is a write here
    statement = write

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._conn)
        except sqlite3.Error as e:
            raise StoreError(f"could not read {self.path}: {e}") from e

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            self._begin()
            try:
                out = fn(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as e:
            err = StoreError(f"could not write {self.path}: {e}")
            self.write_error = self.last_write_error = str(err)
            raise err from e
        self.write_error = None
        return out

    def _close(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error as e:
            raise StoreError(f"could not close {self.path}: {e}") from e

    def _begin(self) -> None:
        """Start a write transaction, taking the write lock now.

        IMMEDIATE: a deferred transaction that read first and then found another
        connection had written meanwhile (``deadletters retry``) fails at once with
        "database is locked" instead of waiting its turn.  A transaction a failed
        rollback left open is ended first, or every later BEGIN would fail too.
        """
        if self._conn.in_transaction:
            self._rollback()
        self._conn.execute("BEGIN IMMEDIATE")

    def _rollback(self) -> None:
        """Undo what a failed transaction wrote; never raises, so the error that made
        us roll back stays the one reported.  SQLite has often rolled back already
        (a full disk does), and a second ROLLBACK would only say "no transaction is
        active"."""
        if self._conn.in_transaction:
            # if this fails too, the next _begin finds the transaction open and retries
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
