"""The SQLite file's tables, and the forward migrations that bring any older file up to date.

``meta.schema`` holds the version a file was last migrated to; opening a file
applies every later migration in order, each in the transaction that records
its version, and refuses a file written by a newer watcher.
"""

from __future__ import annotations

import sqlite3

from watcher.errors import StoreUnavailable

#: ``MIGRATIONS[v]`` takes a file from version ``v`` to ``v + 1``
MIGRATIONS: tuple[str, ...] = (
    # IF NOT EXISTS: watcher once created these before recording any version, so a
    # file may hold them without one.
    """
    CREATE TABLE IF NOT EXISTS runs (
        source TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,
        raw_status TEXT NOT NULL, version TEXT, since REAL NOT NULL,
        stuck INTEGER NOT NULL DEFAULT 0, detail BLOB,
        PRIMARY KEY (source, run_id)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS snapshots (
        source TEXT NOT NULL, part INTEGER NOT NULL, count INTEGER NOT NULL,
        runs BLOB NOT NULL, PRIMARY KEY (source, part));
    CREATE TABLE IF NOT EXISTS sources (
        source TEXT PRIMARY KEY, cursor BLOB, baselined INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0, failing_since REAL);
    CREATE TABLE IF NOT EXISTS journal (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL, time REAL NOT NULL, type TEXT NOT NULL,
        source TEXT NOT NULL, run_id TEXT, status TEXT, workflow_id TEXT,
        workflow_name TEXT, body BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS deadletters (
        sink TEXT NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, time REAL NOT NULL, retry INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (sink, seq));
    """,
    # records: small namespaced state (silences, rule episodes, reminders)
    """
    CREATE TABLE IF NOT EXISTS records (
        namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
        PRIMARY KEY (namespace, key)) WITHOUT ROWID;
    """,
    # inbox: verified vendor pushes (watcher.state.inbox)
    """
    CREATE TABLE IF NOT EXISTS inbox (
        source TEXT NOT NULL, delivery TEXT NOT NULL, received REAL NOT NULL, sent REAL,
        body BLOB NOT NULL, applied INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (source, delivery));
    CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (source, applied, received);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    """The version a file was last migrated to (0: none recorded)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.OperationalError:  # no meta table: older than versioning
        return 0
    return int(row[0]) if row else 0


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`; StoreUnavailable if it is newer."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(f"{path}: written by a newer watcher (schema {version})")
    for v in range(version, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[v].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(v + 1),))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
