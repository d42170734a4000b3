"""A pool of connections to PostgreSQL (asyncpg), lent one read or one transaction at a time.

Every failure leaves as a :class:`~watcher.errors.StoreError` naming the
server (its password masked); a failed write also records the store's health
(``write_error``), as the SQLite store does.  A connection the server dropped
(a restart, ``pg_terminate_backend``) fails the call that found it dead and
is replaced by the pool: the next call connects again, so the store rides out
an outage without restarting.  A read that finds its connection dead is
tried once more on a fresh one; a write never is (it may have committed).

Every statement is one round trip, counted and timed (``trips``, a histogram):
``watcher_db_round_trip_seconds`` and the benchmarks read them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio
import asyncpg

from watcher.core.histogram import Histogram
from watcher.core.status import DB_BUCKETS
from watcher.errors import StoreError, StoreUnavailable
from watcher.infra.secrets import Masker, masked_url, password_of

T = TypeVar("T")

#: errors of the connection itself: it is dropped, and a read is tried once more on a new one
_GONE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
         OSError)
#: what a lost server, a dropped connection or a refused statement raises
ERRORS = (asyncpg.PostgresError, TimeoutError, *_GONE)
#: a server that does not answer a connection within this long is unreachable
CONNECT_TIMEOUT = 5.0
#: no statement of ours runs longer; one that does is a server in trouble
COMMAND_TIMEOUT = 15.0
#: connections per process: commits serialise on the journal head anyway
POOL_SIZE = 4
#: how long closing waits for connections still lent out
CLOSE_TIMEOUT = 5.0


class Conn:
    """One connection lent for a read or a transaction; each call one timed round trip."""

    __slots__ = ("_raw", "_trips")

    def __init__(self, raw: Any, trips: Histogram) -> None:
        self._raw = raw
        self._trips = trips

    async def _timed(self, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self._trips.observe(time.perf_counter() - started)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self._timed(self._raw.fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._timed(self._raw.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        return str(await self._timed(self._raw.execute(query, *args)))

    async def transaction(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn(self)`` in one transaction, committed if it returns."""
        tx = self._raw.transaction()
        await self._timed(tx.start())
        try:
            out = await fn(self)
        except BaseException:
            # never raises, so the error that made us roll back stays the one reported (a
            # dead connection cannot roll back, and need not: the server did)
            with contextlib.suppress(*ERRORS):
                await tx.rollback()
            raise
        await self._timed(tx.commit())
        return out


def columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one list per column: many rows bound as arrays for ``unnest``, one round trip
    whatever their number."""
    return [list(c) for c in zip(*rows, strict=True)]


class Database:
    """The pool, where it points (masked), and the store's write health."""

    def __init__(self, pool: asyncpg.Pool, url: str, settings: dict[str, str]) -> None:
        self._pool = pool
        #: the connections' server settings, which the listener's connection shares
        self.settings = settings
        #: the URL's password, masked in every error (should a driver ever quote it)
        self._mask = Masker([password_of(url)])
        #: the URL fit to show: its password masked
        self.path = masked_url(url)
        self.trips = Histogram(DB_BUCKETS)
        self.write_error: str | None = None
        self.last_write_error: str | None = None

    @classmethod
    async def open(cls, url: str, *, application: str) -> Database:
        """Connect; StoreUnavailable (exit 69), its message free of the password.
        ``application``: how the server lists these connections (``pg_stat_activity``)."""
        settings = {"application_name": application[:63]}
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT, server_settings=settings)
        except (*ERRORS, ValueError) as e:
            mask = Masker([password_of(url)])
            raise StoreUnavailable(mask.redact(f"cannot connect to PostgreSQL at "
                                               f"{masked_url(url)}: {_why(e)}")) from None
        return cls(pool, url, settings)

    def error(self, what: str, e: BaseException) -> StoreError:
        return StoreError(self._mask.redact(f"could not {what} {self.path}: {_why(e)}"))

    async def read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn(connection)`` outside any transaction (tried twice if the connection was dead)."""
        try:
            try:
                return await self._lend(fn)
            except _GONE:
                return await self._lend(fn)
        except ERRORS as e:
            raise self.error("read", e) from e

    async def statement(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn(connection)`` running ONE writing statement, its own transaction (one
        round trip instead of three); never tried twice (it may have committed)."""
        try:
            out = await self._lend(fn)
        except ERRORS as e:
            err = self.error("write", e)
            self.write_error = self.last_write_error = str(err)
            raise err from e
        self.write_error = None
        return out

    async def write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn(connection)`` in one transaction, committed if it returns."""
        return await self.statement(lambda conn: conn.transaction(fn))

    async def _lend(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._pool.acquire() as raw:
            try:
                return await fn(Conn(raw, self.trips))
            except _GONE:
                raw.terminate()  # in an unknown state: the pool connects anew
                raise

    async def session(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """``fn(raw connection)`` with a connection of the pool (for migrations)."""
        try:
            async with self._pool.acquire() as raw:
                return await fn(raw)
        except ERRORS as e:
            raise self.error("prepare", e) from e

    async def close(self) -> None:
        """Close the connections; any still lent out after a few seconds are cut."""
        try:
            with anyio.fail_after(CLOSE_TIMEOUT):
                await self._pool.close()
        except (*ERRORS, TimeoutError):
            self._pool.terminate()


def _why(e: BaseException) -> str:
    text = str(e).strip()
    return text or type(e).__name__
