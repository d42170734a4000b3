"""SQLite state: run state per source, the event journal, sink cursors, dead letters.

One connection in WAL mode, used from worker threads one call at a time
(a capacity limiter of 1), so the event loop never blocks on disk.  A poll
cycle's run changes, its events and its cursor are written in ONE
transaction: after a crash, either all of a cycle is there or none of it.

A source's runs are stored as a snapshot (its whole state as a few JSON
blobs of up to 20,000 runs) plus one row per run changed since (a removal
is a row with an empty status).  A commit whose changes, with the rows
already there, would outnumber the snapshot writes a new snapshot instead
(the poller passes its state as ``Commit.base``): a first sync of 100,000
runs is then ~0.1 s of CPU instead of ~0.8 s of row inserts, and the rows
never grow past the size of the state they amend.
With ``:memory:`` nothing survives the process and run rows are not written
at all (memory holds them already); the journal still works, so sinks behave
the same.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio
import anyio.to_thread
import orjson

from watcher.errors import StoreUnavailable, WatcherError
from watcher.model import JournalEntry, RunDetails, RunState, Status

T = TypeVar("T")
P = ParamSpec("P")

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    source TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL, raw_status TEXT NOT NULL,
    version TEXT, since REAL NOT NULL, stuck INTEGER NOT NULL DEFAULT 0, detail BLOB,
    PRIMARY KEY (source, run_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    source TEXT NOT NULL, part INTEGER NOT NULL, count INTEGER NOT NULL, runs BLOB NOT NULL,
    PRIMARY KEY (source, part));
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY, cursor BLOB, baselined INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0, failing_since REAL);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, time REAL NOT NULL, type TEXT NOT NULL,
    source TEXT NOT NULL, run_id TEXT, status TEXT, workflow_id TEXT, workflow_name TEXT,
    body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deadletters (
    sink TEXT NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL,
    time REAL NOT NULL, retry INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (sink, seq));
"""


#: runs per snapshot blob (bounds the memory a snapshot write or load holds at once)
SNAPSHOT_PART = 20_000
#: run rows a source may collect before its next commit writes a snapshot instead
SNAPSHOT_MIN = 1_000
#: a run row with this status records that the run was forgotten
_GONE = ""


class StoreError(WatcherError):
    """A read or write of the state file failed at runtime (disk full, I/O error, a
    damaged file); a failed write kept nothing of itself.  Every ``sqlite3.Error``
    leaves the store as this, so callers handle one kind."""


def _edge(verb: str) -> Callable[[Callable[Concatenate[Store, P], T]],
                                 Callable[Concatenate[Store, P], T]]:
    """Turn sqlite3 errors into StoreError; a write also records the store's health."""
    def wrap(fn: Callable[Concatenate[Store, P], T]) -> Callable[Concatenate[Store, P], T]:
        @functools.wraps(fn)
        def call(store: Store, /, *args: P.args, **kwargs: P.kwargs) -> T:
            try:
                out = fn(store, *args, **kwargs)
            except sqlite3.Error as e:
                err = StoreError(f"could not {verb} {store.path}: {e}")
                if verb == "write":
                    store.write_error = store.last_write_error = str(err)
                raise err from e
            if verb == "write":
                store.write_error = None
            return out
        return call
    return wrap


_ENTRY_COLS = "seq, id, time, type, source, run_id, status, workflow_id, workflow_name, body"


@dataclass
class SourceRow:
    """A source's persisted poll state."""

    cursor: dict[str, Any] = field(default_factory=dict)
    baselined: bool = False
    failures: int = 0
    failing_since: float | None = None
    runs: dict[str, RunState] = field(default_factory=dict)


@dataclass
class Commit:
    """Everything one poll cycle changes, written atomically."""

    source: str
    row: SourceRow
    upserts: Mapping[str, RunState] = field(default_factory=dict)
    removals: Sequence[str] = ()
    entries: Sequence[JournalEntry] = ()
    #: the source's runs before this commit, exactly as stored (None: never snapshot)
    base: Mapping[str, RunState] | None = None


@dataclass
class DeadLetter:
    sink: str
    entry: JournalEntry
    reason: str
    attempts: int
    time: float
    retry: bool


class Store:
    def __init__(self, conn: sqlite3.Connection, path: str, *,
                 snapshot_min: int = SNAPSHOT_MIN, snapshot_part: int = SNAPSHOT_PART) -> None:
        self._conn = conn
        self.path = path
        #: the snapshot thresholds (see the module docstring); tests make them small
        self.snapshot_min = snapshot_min
        self.snapshot_part = snapshot_part
        self.persistent = path != ":memory:"
        self._limiter = anyio.CapacityLimiter(1)
        #: source -> (runs in its snapshot, run rows written since), read on first use
        self._sizes: dict[str, tuple[int, int]] = {}
        #: why the last write failed; None once a write succeeds (for /readyz, STATUS=)
        self.write_error: str | None = None
        #: why the most recent failed write failed, kept after writes succeed again
        self.last_write_error: str | None = None

    @classmethod
    async def open(cls, path: str, *, snapshot_min: int = SNAPSHOT_MIN,
                   snapshot_part: int = SNAPSHOT_PART) -> Store:
        """Open or create the store; StoreUnavailable (exit 69) if that is impossible."""
        return await anyio.to_thread.run_sync(partial(
            cls.open_sync, path, snapshot_min=snapshot_min, snapshot_part=snapshot_part))

    @classmethod
    def open_sync(cls, path: str, *, snapshot_min: int = SNAPSHOT_MIN,
                  snapshot_part: int = SNAPSHOT_PART) -> Store:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=10.0)
            if path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a committed cycle survives kill -9 (not a power cut).
                conn.execute("PRAGMA synchronous=NORMAL")
                # 16 MB of page cache (default 2 MB): a first sync of 100k runs then
                # rewrites far fewer pages; it is only filled as pages are touched.
                conn.execute("PRAGMA cache_size=-16384")
            conn.executescript(SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreUnavailable(f"{path}: written by a newer watcher (schema {row[0]})")
            conn.execute("BEGIN IMMEDIATE")  # fails now, not later, if we cannot write
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open state file {path}: {e}") from None
        return cls(conn, path, snapshot_min=snapshot_min, snapshot_part=snapshot_part)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def close(self) -> None:
        await self._run(self._close_sync)

    @_edge("close")
    def _close_sync(self) -> None:
        self._conn.close()

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

    # -- sources and runs --------------------------------------------------------------

    async def load(self) -> dict[str, SourceRow]:
        return await self._run(self.load_sync)

    @_edge("read")
    def load_sync(self) -> dict[str, SourceRow]:
        out: dict[str, SourceRow] = {}
        for name, cur, baselined, failures, failing_since in self._conn.execute(
                "SELECT source, cursor, baselined, failures, failing_since FROM sources"):
            out[name] = SourceRow(orjson.loads(cur) if cur else {}, bool(baselined), failures,
                                  failing_since)
        statuses = {s.value: s for s in Status}
        interned: dict[str, str] = {}

        def runs_of(source: str) -> dict[str, RunState]:
            row = out.get(source)
            if row is None:
                row = out[source] = SourceRow()
            return row.runs

        def state(status: str, raw: str, version: str | None, since: float, stuck: int,
                  detail: Any) -> RunState:
            return RunState(statuses.get(status, Status.UNKNOWN), interned.setdefault(raw, raw),
                            version, since, bool(stuck),
                            RunDetails.from_dict(detail) if detail else None)

        sizes: dict[str, list[int]] = {}
        for source, count, blob in self._conn.execute(
                "SELECT source, count, runs FROM snapshots ORDER BY source, part"):
            runs = runs_of(source)
            for rid, status, raw, version, since, stuck, detail in orjson.loads(blob):
                runs[rid] = state(status, raw, version, since, stuck, detail)
            sizes.setdefault(source, [0, 0])[0] += count
        for source, rid, status, raw, version, since, stuck, detail in self._conn.execute(
                "SELECT source, run_id, status, raw_status, version, since, stuck, detail "
                "FROM runs"):
            runs = runs_of(source)
            sizes.setdefault(source, [0, 0])[1] += 1
            if status == _GONE:
                runs.pop(rid, None)
            else:
                runs[rid] = state(status, raw, version, since, stuck,
                                  orjson.loads(detail) if detail else None)
        self._sizes = {source: (snap, rows) for source, (snap, rows) in sizes.items()}
        return out

    async def commit(self, c: Commit) -> None:
        await self._run(self._commit_sync, c)

    @_edge("write")
    def _commit_sync(self, c: Commit) -> None:
        db = self._conn
        sizes = None
        with self._tx():
            if self.persistent and (c.upserts or c.removals):
                sizes = self._write_runs(c)
            r = c.row
            db.execute("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?)",
                       (c.source, orjson.dumps(r.cursor), int(r.baselined), r.failures,
                        r.failing_since))
            if c.entries:
                db.executemany(f"INSERT INTO journal ({_ENTRY_COLS}) VALUES "
                               "(?,?,?,?,?,?,?,?,?,?)", [e.row() for e in c.entries])
                # the head survives pruning, so sequence numbers are never reused
                db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)",
                           (str(c.entries[-1].seq),))
        if sizes is not None:
            self._sizes[c.source] = sizes

    def _write_runs(self, c: Commit) -> tuple[int, int]:
        """A commit's run changes, as rows or as a new snapshot; returns the new sizes."""
        db, src = self._conn, c.source
        snap, rows = self._sizes_of(src)
        changed = len(c.upserts) + len(c.removals)
        if c.base is not None and rows + changed > max(self.snapshot_min, snap):
            runs: Mapping[str, RunState] = c.upserts  # a first sync: nothing to merge
            if c.base:
                runs = {**c.base, **c.upserts}
                for rid in c.removals:
                    runs.pop(rid, None)
            self._write_snapshot(src, runs)
            return len(runs), 0
        if c.upserts:
            # Status is a str and stuck a bool (an int): sqlite binds them as is.
            db.executemany(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?)",
                [(src, rid, st.status, st.raw_status, st.version, st.since, st.stuck,
                  orjson.dumps(st.detail.to_dict()) if st.detail else None)
                 for rid, st in c.upserts.items()])
        if c.removals:
            if snap:  # the snapshot still holds them: record that they are gone
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?,?,?,'',NULL,0,0,NULL)",
                               [(src, rid, _GONE) for rid in c.removals])
            else:
                db.executemany("DELETE FROM runs WHERE source=? AND run_id=?",
                               [(src, rid) for rid in c.removals])
        return snap, rows + changed  # an upper bound: a run may be rewritten in place

    def _write_snapshot(self, source: str, runs: Mapping[str, RunState]) -> None:
        db = self._conn
        db.execute("DELETE FROM snapshots WHERE source=?", (source,))
        db.execute("DELETE FROM runs WHERE source=?", (source,))
        items = iter(runs.items())
        part = 0
        while chunk := list(islice(items, self.snapshot_part)):
            # orjson writes a Status as its value and a bool as true/false
            blob = orjson.dumps([(rid, st.status, st.raw_status, st.version, st.since,
                                  st.stuck, st.detail.to_dict() if st.detail else None)
                                 for rid, st in chunk])
            db.execute("INSERT INTO snapshots VALUES (?,?,?,?)", (source, part, len(chunk), blob))
            part += 1

    def _sizes_of(self, source: str) -> tuple[int, int]:
        sizes = self._sizes.get(source)
        if sizes is None:
            snap = self._conn.execute("SELECT COALESCE(SUM(count), 0) FROM snapshots "
                                      "WHERE source=?", (source,)).fetchone()[0]
            rows = self._conn.execute("SELECT COUNT(*) FROM runs WHERE source=?",
                                      (source,)).fetchone()[0]
            sizes = self._sizes[source] = (snap, rows)
        return sizes

    async def forget_source(self, source: str) -> None:
        await self._run(self._forget_source_sync, source)

    @_edge("write")
    def _forget_source_sync(self, source: str) -> None:
        with self._tx():
            self._conn.execute("DELETE FROM runs WHERE source=?", (source,))
            self._conn.execute("DELETE FROM snapshots WHERE source=?", (source,))
            self._conn.execute("DELETE FROM sources WHERE source=?", (source,))
        self._sizes.pop(source, None)

    # -- journal -------------------------------------------------------------------------

    async def head(self) -> int:
        return await self._run(self.head_sync)

    @_edge("read")
    def head_sync(self) -> int:
        row = self._conn.execute("SELECT MAX(seq) FROM journal").fetchone()
        meta = self._conn.execute("SELECT value FROM meta WHERE key='head'").fetchone()
        return max(row[0] or 0, int(meta[0]) if meta else 0)

    async def read(self, after: int, limit: int) -> list[JournalEntry]:
        return await self._run(self.read_sync, after, limit)

    @_edge("read")
    def read_sync(self, after: int, limit: int) -> list[JournalEntry]:
        return [JournalEntry(*r) for r in self._conn.execute(
            f"SELECT {_ENTRY_COLS} FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit))]

    async def prune_journal(self, *, upto: int, before: float) -> int:
        """Drop entries every sink has passed (``seq <= upto``) that are older than ``before``."""
        return await self._run(self._prune_sync, upto, before)

    @_edge("write")
    def _prune_sync(self, upto: int, before: float) -> int:
        with self._tx():
            cur = self._conn.execute("DELETE FROM journal WHERE seq <= ? AND time < ? AND "
                                     "seq NOT IN (SELECT seq FROM deadletters)", (upto, before))
        return cur.rowcount

    # -- sink cursors and dead letters ---------------------------------------------------

    async def cursors(self) -> dict[str, int]:
        return await self._run(self.cursors_sync)

    @_edge("read")
    def cursors_sync(self) -> dict[str, int]:
        return dict(self._conn.execute("SELECT sink, seq FROM cursors").fetchall())

    async def set_cursor(self, sink: str, seq: int) -> None:
        await self._run(self._set_cursor_sync, sink, seq)

    @_edge("write")
    def _set_cursor_sync(self, sink: str, seq: int) -> None:
        with self._tx():
            self._conn.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (sink, seq))

    async def drop_cursor(self, sink: str) -> None:
        await self._run(self._drop_cursor_sync, sink)

    @_edge("write")
    def _drop_cursor_sync(self, sink: str) -> None:
        with self._tx():
            self._conn.execute("DELETE FROM cursors WHERE sink=?", (sink,))

    async def add_dead(self, sink: str, items: Iterable[tuple[JournalEntry, str, int]],
                       now: float) -> None:
        rows = [(sink, e.seq, reason, attempts, now) for e, reason, attempts in items]
        await self._run(self._add_dead_sync, rows)

    @_edge("write")
    def _add_dead_sync(self, rows: list[tuple[str, int, str, int, float]]) -> None:
        with self._tx():
            self._conn.executemany(
                "INSERT OR REPLACE INTO deadletters (sink, seq, reason, attempts, time) "
                "VALUES (?,?,?,?,?)", rows)

    async def dead_letters(self, sink: str | None = None, *, retry_only: bool = False,
                           limit: int = -1) -> list[DeadLetter]:
        return await self._run(self.dead_letters_sync, sink, retry_only, limit)

    @_edge("read")
    def dead_letters_sync(self, sink: str | None = None, retry_only: bool = False,
                          limit: int = -1) -> list[DeadLetter]:
        """Dead letters oldest first; at most ``limit`` of them (-1: all)."""
        q = (f"SELECT d.sink, d.reason, d.attempts, d.time, d.retry, "
             f"{', '.join('j.' + c for c in _ENTRY_COLS.split(', '))} "
             "FROM deadletters d JOIN journal j ON j.seq = d.seq WHERE 1=1")
        args: list[Any] = []
        if sink is not None:
            q += " AND d.sink = ?"
            args.append(sink)
        if retry_only:
            q += " AND d.retry = 1"
        return [DeadLetter(r[0], JournalEntry(*r[5:]), r[1], r[2], r[3], bool(r[4]))
                for r in self._conn.execute(q + " ORDER BY d.seq LIMIT ?", [*args, limit])]

    @_edge("write")
    def mark_retry_sync(self, sink: str | None) -> int:
        with self._tx():
            if sink is None:
                cur = self._conn.execute("UPDATE deadletters SET retry = 1")
            else:
                cur = self._conn.execute("UPDATE deadletters SET retry = 1 WHERE sink = ?",
                                         (sink,))
        return cur.rowcount

    async def resolve_dead(self, sink: str, seqs: Sequence[int]) -> None:
        await self._run(self._resolve_dead_sync, sink, seqs)

    @_edge("write")
    def _resolve_dead_sync(self, sink: str, seqs: Sequence[int]) -> None:
        with self._tx():
            self._conn.executemany("DELETE FROM deadletters WHERE sink=? AND seq=?",
                                   [(sink, s) for s in seqs])

    def _tx(self) -> _Tx:
        return _Tx(self)


class _Tx:
    """One write transaction: committed if the block succeeds, else rolled back, and
    the error that caused it is the one that propagates (see ``Store._rollback``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store._begin()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self.store._conn.execute("COMMIT")
            except BaseException:
                self.store._rollback()
                raise
            return
        self.store._rollback()
