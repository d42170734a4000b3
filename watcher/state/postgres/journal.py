"""The journal in the database: numbered by a single-row counter, in commit order.

Appending takes the next numbers with ``UPDATE journal_head SET seq = seq + n``
inside the committing transaction.  The counter row stays locked until that
transaction ends, so a second commit gets its numbers only after the first
committed (or rolled back): numbers are consecutive and in commit order
across every replica, and a reader that passed a number never sees a
smaller one appear later.  The counter is taken last in the transaction, so
it is held for one statement and the commit.  The same statement inserts the
entries and notifies the replicas' listeners (``pg_notify``, delivered at
commit) with the new head.  Pruning never lowers the counter.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from watcher.model import JournalEntry
from watcher.state.postgres.connection import Conn
from watcher.state.store import ENTRY_COLS, Commit

_COLS = ", ".join(ENTRY_COLS)
_APPEND = f"""
    WITH head AS (UPDATE journal_head SET seq = seq + $1 RETURNING seq),
    added AS (
        INSERT INTO journal ({_COLS})
        SELECT head.seq - $1 + e.n, e.id, e.time, e.type, e.source, e.run_id, e.status,
               e.workflow_id, e.workflow_name, e.body
        FROM head, unnest($2::text[], $3::float8[], $4::text[], $5::text[], $6::text[],
                          $7::text[], $8::text[], $9::text[], $10::bytea[])
             WITH ORDINALITY AS e(id, time, type, source, run_id, status, workflow_id,
                                  workflow_name, body, n))
    SELECT seq, pg_notify($11, seq::text) FROM head"""


async def head(db: Conn) -> int:
    return int(await db.fetchval("SELECT seq FROM journal_head"))


#: ``(the head before it, its entries' ids)`` of a commit whose outcome is unknown
Doubt = tuple[int, frozenset[str]]


def _writer(c: Commit) -> tuple[str, str | None]:
    """Who makes a commit, and makes it again after a failure: a source's poller, or the
    journal reader whose cursor it moves (health rules, reminders)."""
    return ("source", c.source) if c.source is not None else (
        "reader", c.cursor[0] if c.cursor is not None else None)


class Doubts:
    """Commits that failed with their outcome unknown, per writer (see :func:`_writer`).

    A connection lost after COMMIT was sent may have committed or not; the writer tries
    again with the same event ids, and the retry journals only those not found after the
    head as it was, so an event is never journaled twice (nor lost)."""

    __slots__ = ("_open", "seen")

    def __init__(self) -> None:
        self._open: dict[tuple[str, str | None], Doubt] = {}
        #: the highest sequence this process has seen: a lower bound of any later entry's
        self.seen = 0

    def of(self, c: Commit) -> Doubt | None:
        return self._open.get(_writer(c))

    def failed(self, c: Commit) -> None:
        if c.entries:
            key = _writer(c)
            after, ids = self._open.get(key, (self.seen, frozenset()))
            self._open[key] = (min(after, self.seen), ids | {e.id for e in c.entries})

    def settled(self, c: Commit) -> None:
        self._open.pop(_writer(c), None)

    def loaded(self, sources: Collection[str] | None) -> None:
        """Sources whose state was just read (None: all): memory now matches the store,
        so a cycle from it cannot repeat what a doubtful commit did journal."""
        for key in list(self._open):
            if key[0] == "source" and (sources is None or key[1] in sources):
                del self._open[key]

    def saw(self, seq: int) -> None:
        self.seen = max(self.seen, seq)


async def append(db: Conn, entries: Sequence[JournalEntry], channel: str,
                 doubt: Doubt | None = None) -> list[JournalEntry]:
    """Number ``entries`` after the head and insert them (inside a write transaction);
    the ones inserted: with a ``doubt``, those already journaled take their numbers and
    are left out."""
    if doubt is not None:
        entries = await _unless_journaled(db, entries, doubt)
    if not entries:
        return []
    n = len(entries)
    columns = [[getattr(e, c) for e in entries] for c in ENTRY_COLS[1:]]
    last = int(await db.fetchval(_APPEND, n, *columns, channel))
    for seq, e in enumerate(entries, last - n + 1):
        e.seq = seq
    return list(entries)


async def _unless_journaled(db: Conn, entries: Sequence[JournalEntry], doubt: Doubt
                            ) -> Sequence[JournalEntry]:
    after, ids = doubt
    maybe = [e.id for e in entries if e.id in ids]
    if not maybe:
        return entries
    found: dict[str, int] = {r[0]: r[1] for r in await db.fetch(
        "SELECT id, seq FROM journal WHERE seq > $1 AND id = ANY($2::text[])", after, maybe)}
    for e in entries:
        e.seq = found.get(e.id, e.seq)
    return [e for e in entries if e.id not in found]


async def insert(db: Conn, entries: Sequence[JournalEntry], head_seq: int) -> None:
    """Entries keeping their numbers, and the head at ``head_seq`` (``watcher migrate``)."""
    if entries:
        columns = [[getattr(e, c) for e in entries] for c in ENTRY_COLS]
        await db.execute(f"INSERT INTO journal ({_COLS}) SELECT * FROM unnest("
                         "$1::bigint[], $2::text[], $3::float8[], $4::text[], $5::text[], "
                         "$6::text[], $7::text[], $8::text[], $9::text[], $10::bytea[])",
                         *columns)
    await db.execute("UPDATE journal_head SET seq = GREATEST(seq, $1)", head_seq)


async def read(db: Conn, after: int, limit: int) -> list[JournalEntry]:
    return [JournalEntry(*r) for r in await db.fetch(
        f"SELECT {_COLS} FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)]


async def prune(db: Conn, upto: int, before: float) -> int:
    """Entries at or below ``upto`` and every reader's cursor (the caller's idea of the
    cursors may be older than another replica's), older than ``before``, no dead letter's.

    A replica silent since before ``before`` is gone for good: its local sinks' cursors
    (``<sink>@<replica>``) would hold the journal for ever, so they go first, and its row."""
    gone = [r[0] for r in await db.fetch(
        "DELETE FROM replicas WHERE heartbeat < to_timestamp($1) RETURNING id", before)]
    if gone:
        await db.execute("DELETE FROM cursors WHERE position('@' in sink) > 0 AND "
                         "substr(sink, position('@' in sink) + 1) = ANY($1::text[])", gone)
    status = await db.execute(
        "DELETE FROM journal WHERE seq <= LEAST($1, (SELECT MIN(seq) FROM cursors)) "
        "AND time < $2 AND NOT EXISTS (SELECT 1 FROM deadletters d WHERE d.seq = journal.seq)",
        upto, before)
    return int(status.split()[-1])
