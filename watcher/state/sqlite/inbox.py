"""The push inbox in the file (see :mod:`watcher.state.inbox`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from watcher.state.inbox import Push


def receive(db: sqlite3.Connection, p: Push) -> bool:
    return db.execute("INSERT OR IGNORE INTO inbox VALUES (?,?,?,?,?,0)",
                      (p.source, p.delivery, p.received, p.sent, p.body)).rowcount == 1


def pending(db: sqlite3.Connection, source: str, limit: int) -> list[Push]:
    return [Push(*r) for r in db.execute(
        "SELECT source, delivery, received, sent, body FROM inbox "
        "WHERE source=? AND applied=0 ORDER BY received LIMIT ?", (source, limit))]


def applied(db: sqlite3.Connection, source: str, deliveries: Sequence[str],
            before: float | None) -> None:
    if deliveries:
        db.executemany("UPDATE inbox SET applied=1 WHERE source=? AND delivery=?",
                       [(source, d) for d in deliveries])
    if before is not None:
        db.execute("DELETE FROM inbox WHERE source=? AND applied=1 AND received<?",
                   (source, before))
