"""Sources and their runs in the database: the source rows, and the snapshots and run rows
:mod:`watcher.state.snapshots` lays out, many rows in one statement (``unnest``).

Only the replica holding a source's lease writes its runs, and it loads them
(refreshing the sizes it remembers) when it takes the lease.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import orjson

from watcher.model import Tracked
from watcher.state.postgres.connection import Conn, columns
from watcher.state.snapshots import GONE, LOAD, SizeBook, Sizes, assemble, run_row
from watcher.state.store import Commit, SourceRow

_UPSERT = """
    INSERT INTO runs (source, run_id, status, raw_status, version, since, stuck, detail)
    SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
                             $6::float8[], $7::bool[], $8::bytea[])
    ON CONFLICT (source, run_id) DO UPDATE SET status = EXCLUDED.status,
        raw_status = EXCLUDED.raw_status, version = EXCLUDED.version,
        since = EXCLUDED.since, stuck = EXCLUDED.stuck, detail = EXCLUDED.detail"""
_SAVE_ROW = """
    INSERT INTO sources VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source) DO UPDATE SET
        cursor = EXCLUDED.cursor, baselined = EXCLUDED.baselined,
        failures = EXCLUDED.failures, failing_since = EXCLUDED.failing_since"""
_SIZES = """SELECT (SELECT COALESCE(SUM(count), 0) FROM snapshots WHERE source = $1),
                   (SELECT COUNT(*) FROM runs WHERE source = $1)"""


class Runs(SizeBook):
    async def load(self, db: Conn, sources: Collection[str] | None
                   ) -> tuple[dict[str, SourceRow], dict[str, Sizes]]:
        where, args = ("", ()) if sources is None else (" WHERE source = ANY($1::text[])",
                                                       (list(sources),))
        return assemble(*[await db.fetch(q.format(where=where), *args) for q in LOAD])

    async def save_row(self, db: Conn, source: str, r: SourceRow) -> None:
        await db.execute(_SAVE_ROW, source, orjson.dumps(r.cursor), r.baselined, r.failures,
                         r.failing_since)

    async def write(self, db: Conn, src: str, c: Commit) -> Sizes:
        """A commit's run changes, as rows or as a new snapshot; returns the new sizes."""
        snap, rows = await self._sizes_of(db, src)
        runs = self.layout.snapshot_of(c, snap, rows)
        if runs is not None:
            await self._write_snapshot(db, src, runs)
            return len(runs), 0
        upserts = [(rid, *run_row(st)) for rid, st in c.upserts.items()]
        removals = [rid for rid in dict.fromkeys(c.removals) if rid not in c.upserts]
        if removals and snap:  # the snapshot still holds them: record that they are gone
            gone = (GONE, "", None, 0.0, False, None)
            upserts += [(rid, *gone) for rid in removals]
        elif removals:
            await db.execute("DELETE FROM runs WHERE source = $1 AND run_id = ANY($2::text[])",
                             src, removals)
        if upserts:
            await db.execute(_UPSERT, src, *columns(upserts))
        # an upper bound: a run may be rewritten in place
        return snap, rows + len(c.upserts) + len(c.removals)

    async def forget(self, db: Conn, source: str) -> None:
        for table in ("runs", "snapshots", "sources"):
            await db.execute(f"DELETE FROM {table} WHERE source = $1", source)

    async def _write_snapshot(self, db: Conn, source: str,
                              runs: Mapping[str, Tracked]) -> None:
        await db.execute("DELETE FROM snapshots WHERE source = $1", source)
        await db.execute("DELETE FROM runs WHERE source = $1", source)
        parts = [(part, count, blob) for part, (count, blob) in
                 enumerate(self.layout.parts(runs))]
        if parts:
            await db.execute("INSERT INTO snapshots SELECT $1, * FROM "
                             "unnest($2::int[], $3::int[], $4::bytea[])",
                             source, *columns(parts))

    async def _sizes_of(self, db: Conn, source: str) -> Sizes:
        sizes = self.sizes.get(source)
        if sizes is None:
            (row,) = await db.fetch(_SIZES, source)
            sizes = self.sizes[source] = (int(row[0]), int(row[1]))
        return sizes
