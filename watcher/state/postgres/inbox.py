"""The push inbox in the database (see :mod:`watcher.state.inbox`): a push stored
notifies the replicas, so the lease holder applies it at once."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.state.inbox import NOTIFY, Push
from watcher.state.postgres.connection import Conn

_RECEIVE = """
    WITH added AS (
        INSERT INTO inbox VALUES ($1, $2, $3, $4, $5, false) ON CONFLICT DO NOTHING
        RETURNING source)
    SELECT pg_notify($6, $7 || source) FROM added"""


async def receive(db: Conn, p: Push, channel: str) -> bool:
    rows = await db.fetch(_RECEIVE, p.source, p.delivery, p.received, p.sent, p.body,
                          channel, NOTIFY)
    return bool(rows)


async def pending(db: Conn, source: str, limit: int) -> list[Push]:
    return [Push(*r) for r in await db.fetch(
        "SELECT source, delivery, received, sent, body FROM inbox "
        "WHERE source=$1 AND NOT applied ORDER BY received LIMIT $2", source, limit)]


async def applied(db: Conn, source: str, deliveries: Sequence[str],
                  before: float | None) -> None:
    if deliveries:
        await db.execute("UPDATE inbox SET applied=true WHERE source=$1 "
                         "AND delivery=ANY($2::text[])", source, list(deliveries))
    if before is not None:
        await db.execute("DELETE FROM inbox WHERE source=$1 AND applied AND received<$2",
                         source, before)
