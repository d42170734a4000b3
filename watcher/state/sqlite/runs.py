"""Sources and their runs in the file: the source rows, and the snapshots and run rows
:mod:`watcher.state.snapshots` lays out."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping

import orjson

from watcher.model import Tracked
from watcher.state.snapshots import GONE, LOAD, SizeBook, Sizes, assemble, run_row
from watcher.state.store import Commit, SourceRow


class Runs(SizeBook):
    def load(self, db: sqlite3.Connection, sources: Collection[str] | None
             ) -> tuple[dict[str, SourceRow], dict[str, Sizes]]:
        where, args = ("", ()) if sources is None else (
            " WHERE source IN (SELECT value FROM json_each(?))",
            (orjson.dumps(list(sources)).decode(),))
        return assemble(*(db.execute(q.format(where=where), args) for q in LOAD))

    def save_row(self, db: sqlite3.Connection, source: str, r: SourceRow) -> None:
        db.execute("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?)",
                   (source, orjson.dumps(r.cursor), int(r.baselined), r.failures,
                    r.failing_since))

    def write(self, db: sqlite3.Connection, src: str, c: Commit) -> Sizes:
        """A commit's run changes, as rows or as a new snapshot; returns the new sizes."""
        snap, rows = self._sizes_of(db, src)
        runs = self.layout.snapshot_of(c, snap, rows)
        if runs is not None:
            self._write_snapshot(db, src, runs)
            return len(runs), 0
        if c.upserts:
            db.executemany("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?)",
                           [(src, rid, *run_row(st)) for rid, st in c.upserts.items()])
        if c.removals:
            if snap:  # the snapshot still holds them: record that they are gone
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?,?,?,'',NULL,0,0,NULL)",
                               [(src, rid, GONE) for rid in c.removals])
            else:
                db.executemany("DELETE FROM runs WHERE source=? AND run_id=?",
                               [(src, rid) for rid in c.removals])
        # an upper bound: a run may be rewritten in place
        return snap, rows + len(c.upserts) + len(c.removals)

    def forget(self, db: sqlite3.Connection, source: str) -> None:
        for table in ("runs", "snapshots", "sources"):
            db.execute(f"DELETE FROM {table} WHERE source=?", (source,))

    def _write_snapshot(self, db: sqlite3.Connection, source: str,
                        runs: Mapping[str, Tracked]) -> None:
        db.execute("DELETE FROM snapshots WHERE source=?", (source,))
        db.execute("DELETE FROM runs WHERE source=?", (source,))
        parts = enumerate(self.layout.parts(runs))  # one blob at a time, not the list
        db.executemany("INSERT INTO snapshots VALUES (?,?,?,?)",
                       ((source, part, count, blob) for part, (count, blob) in parts))

    def _sizes_of(self, db: sqlite3.Connection, source: str) -> Sizes:
        sizes = self.sizes.get(source)
        if sizes is None:
            snap = db.execute("SELECT COALESCE(SUM(count), 0) FROM snapshots WHERE source=?",
                              (source,)).fetchone()[0]
            rows = db.execute("SELECT COUNT(*) FROM runs WHERE source=?",
                              (source,)).fetchone()[0]
            sizes = self.sizes[source] = (snap, rows)
        return sizes
