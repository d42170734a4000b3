"""What the file keeps per journal reader: its cursor, the entries a sink gave up on
(dead letters), and the namespaced records of components that keep small state."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from watcher.model import JournalEntry
from watcher.state.store import DEAD_LETTERS, DeadLetter


def cursors(db: sqlite3.Connection) -> dict[str, int]:
    return dict(db.execute("SELECT sink, seq FROM cursors").fetchall())


def set_cursor(db: sqlite3.Connection, sink: str, seq: int) -> None:
    db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (sink, seq))


def drop_cursor(db: sqlite3.Connection, sink: str) -> None:
    db.execute("DELETE FROM cursors WHERE sink=?", (sink,))


def add_dead(db: sqlite3.Connection, sink: str,
             rows: Sequence[tuple[int, str, int, float]]) -> None:
    """``(seq, reason, attempts, time)`` rows; one that was queued for retry is not any
    more."""
    db.executemany("INSERT OR REPLACE INTO deadletters (sink, seq, reason, attempts, time) "
                   "VALUES (?,?,?,?,?)", [(sink, *row) for row in rows])


def dead_letters(db: sqlite3.Connection, sink: str | None, retry_only: bool,
                 limit: int | None) -> list[DeadLetter]:
    q, args = DEAD_LETTERS, list[Any]()
    if sink is not None:
        q += " AND d.sink = ?"
        args.append(sink)
    if retry_only:
        q += " AND d.retry = 1"
    args.append(-1 if limit is None else limit)
    return [DeadLetter(r[0], JournalEntry(*r[5:]), r[1], r[2], r[3], bool(r[4]))
            for r in db.execute(q + " ORDER BY d.seq LIMIT ?", args)]


def mark_retry(db: sqlite3.Connection, sink: str | None) -> int:
    return db.execute("UPDATE deadletters SET retry = 1 WHERE ?1 IS NULL OR sink = ?1",
                      (sink,)).rowcount


def resolve_dead(db: sqlite3.Connection, sink: str, seqs: Sequence[int]) -> None:
    db.executemany("DELETE FROM deadletters WHERE sink=? AND seq=?", [(sink, s) for s in seqs])


def records(db: sqlite3.Connection, namespace: str) -> dict[str, bytes]:
    return dict(db.execute("SELECT key, value FROM records WHERE namespace=?",
                           (namespace,)).fetchall())


def all_records(db: sqlite3.Connection) -> dict[tuple[str, str], bytes]:
    return {(ns, key): value for ns, key, value in db.execute(
        "SELECT namespace, key, value FROM records")}


def put_records(db: sqlite3.Connection,
                records: Mapping[tuple[str, str], bytes | None]) -> None:
    for (namespace, key), value in records.items():
        if value is None:
            db.execute("DELETE FROM records WHERE namespace=? AND key=?", (namespace, key))
        else:
            db.execute("INSERT OR REPLACE INTO records VALUES (?,?,?)", (namespace, key, value))
