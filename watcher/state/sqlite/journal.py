"""The journal table: entries numbered here, in the committing transaction.

The head is also kept in ``meta`` so that it survives pruning: a number is
never given twice, even once every entry it was given to has been pruned.
Numbering inside the write transaction (``BEGIN IMMEDIATE`` holds the file's
write lock) makes it consecutive and in commit order whoever writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from watcher.model import JournalEntry
from watcher.state.store import ENTRY_COLS

_COLS = ", ".join(ENTRY_COLS)
_INSERT = f"INSERT INTO journal ({_COLS}) VALUES ({', '.join('?' * len(ENTRY_COLS))})"
_HEAD = ("SELECT MAX(COALESCE((SELECT MAX(seq) FROM journal), 0), "
         "COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='head'), 0))")


def head(db: sqlite3.Connection) -> int:
    return int(db.execute(_HEAD).fetchone()[0])


def append(db: sqlite3.Connection, entries: Sequence[JournalEntry]) -> None:
    """Number ``entries`` after the head and insert them (inside a write transaction)."""
    if not entries:
        return
    for seq, e in enumerate(entries, head(db) + 1):
        e.seq = seq
    db.executemany(_INSERT, [e.row() for e in entries])
    db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (str(entries[-1].seq),))


def read(db: sqlite3.Connection, after: int, limit: int) -> list[JournalEntry]:
    return [JournalEntry(*r) for r in db.execute(
        f"SELECT {_COLS} FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))]


def prune(db: sqlite3.Connection, upto: int, before: float) -> int:
    return db.execute("DELETE FROM journal WHERE seq <= ? AND time < ? AND "
                      "seq NOT IN (SELECT seq FROM deadletters)", (upto, before)).rowcount
