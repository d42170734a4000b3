"""What the database keeps per journal reader: its cursor, the entries a sink gave up on
(dead letters), and the namespaced records of components that keep small state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from watcher.model import JournalEntry
from watcher.state.postgres.connection import Conn, columns
from watcher.state.store import DEAD_LETTERS, DeadLetter

_ADD_DEAD = """
    INSERT INTO deadletters (sink, seq, reason, attempts, time, retry)
    SELECT $1, *, false FROM unnest($2::bigint[], $3::text[], $4::int[], $5::float8[])
    ON CONFLICT (sink, seq) DO UPDATE SET reason = EXCLUDED.reason,
        attempts = EXCLUDED.attempts, time = EXCLUDED.time, retry = false"""
_SET_CURSOR = ("INSERT INTO cursors VALUES ($1, $2) "
               "ON CONFLICT (sink) DO UPDATE SET seq = EXCLUDED.seq")


async def cursors(db: Conn) -> dict[str, int]:
    return {sink: seq for sink, seq in await db.fetch("SELECT sink, seq FROM cursors")}


async def set_cursor(db: Conn, sink: str, seq: int) -> None:
    await db.execute(_SET_CURSOR, sink, seq)


async def drop_cursor(db: Conn, sink: str) -> None:
    await db.execute("DELETE FROM cursors WHERE sink = $1", sink)


async def add_dead(db: Conn, sink: str, rows: Sequence[tuple[int, str, int, float]]) -> None:
    """``(seq, reason, attempts, time)`` rows; one that was queued for retry is not any
    more.  The last row given for an entry wins."""
    unique = list({r[0]: r for r in rows}.values())
    if unique:
        await db.execute(_ADD_DEAD, sink, *columns(unique))


async def insert_dead(db: Conn, letters: Sequence[DeadLetter]) -> None:
    if letters:
        rows = [(d.sink, d.entry.seq, d.reason, d.attempts, d.time, d.retry) for d in letters]
        await db.execute("INSERT INTO deadletters SELECT * FROM unnest($1::text[], "
                         "$2::bigint[], $3::text[], $4::int[], $5::float8[], $6::bool[])",
                         *columns(rows))


async def dead_letters(db: Conn, sink: str | None, retry_only: bool,
                       limit: int | None) -> list[DeadLetter]:
    q, args = DEAD_LETTERS, list[Any]()
    if sink is not None:
        args.append(sink)
        q += f" AND d.sink = ${len(args)}"
    if retry_only:
        q += " AND d.retry"
    q += " ORDER BY d.seq, d.sink"
    if limit is not None:
        args.append(limit)
        q += f" LIMIT ${len(args)}"
    return [DeadLetter(r[0], JournalEntry(*r[5:]), r[1], r[2], r[3], r[4])
            for r in await db.fetch(q, *args)]


async def mark_retry(db: Conn, sink: str | None) -> int:
    status = await db.execute("UPDATE deadletters SET retry = true "
                              "WHERE $1::text IS NULL OR sink = $1", sink)
    return int(status.split()[-1])


async def resolve_dead(db: Conn, sink: str, seqs: Sequence[int]) -> None:
    await db.execute("DELETE FROM deadletters WHERE sink = $1 AND seq = ANY($2::bigint[])",
                     sink, list(seqs))


async def records(db: Conn, namespace: str) -> dict[str, bytes]:
    return {k: v for k, v in await db.fetch(
        "SELECT key, value FROM records WHERE namespace = $1", namespace)}


async def put_records(db: Conn, records: Mapping[tuple[str, str], bytes | None]) -> None:
    gone = [(ns, key) for (ns, key), v in records.items() if v is None]
    kept = [(ns, key, v) for (ns, key), v in records.items() if v is not None]
    if gone:
        await db.execute("DELETE FROM records WHERE (namespace, key) IN "
                         "(SELECT * FROM unnest($1::text[], $2::text[]))",
                         *columns(gone))
    if kept:
        await db.execute("INSERT INTO records SELECT * FROM "
                         "unnest($1::text[], $2::text[], $3::bytea[]) "
                         "ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value",
                         *columns(kept))
