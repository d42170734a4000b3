"""The database's tables, and the forward migrations that bring any older one up to date.

``watcher_schema`` holds the version a database was migrated to.  Every
replica migrates at start, in ONE transaction that first takes a
transaction-level advisory lock: replicas starting together queue on it, and
each finds the tables as the one before it left them (no session state is
involved, so this works behind PgBouncer in transaction mode too).  A
database written by a newer watcher is refused.

The tables mirror the SQLite file's, plus what several replicas share: the
journal's head as a single-row counter (its row lock puts commits in the
order of their numbers), the replicas' registry and the leases.
"""

from __future__ import annotations

from typing import Any

from watcher.errors import StoreUnavailable

#: ``pg_advisory_xact_lock`` key of migrations (any constant; "watcher" in ASCII)
LOCK_KEY = 0x77617463686572

#: ``MIGRATIONS[v]`` takes a database from version ``v`` to ``v + 1``
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sources (
        source text PRIMARY KEY, cursor bytea, baselined boolean NOT NULL DEFAULT false,
        failures integer NOT NULL DEFAULT 0, failing_since double precision);
    CREATE TABLE runs (
        source text NOT NULL, run_id text NOT NULL, status text NOT NULL,
        raw_status text NOT NULL, version text, since double precision NOT NULL,
        stuck boolean NOT NULL DEFAULT false, detail bytea, PRIMARY KEY (source, run_id));
    CREATE TABLE snapshots (
        source text NOT NULL, part integer NOT NULL, count integer NOT NULL,
        runs bytea NOT NULL, PRIMARY KEY (source, part));
    CREATE TABLE journal (
        seq bigint PRIMARY KEY, id text NOT NULL, time double precision NOT NULL,
        type text NOT NULL, source text NOT NULL, run_id text, status text,
        workflow_id text, workflow_name text, body bytea NOT NULL);
    CREATE TABLE journal_head (
        one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL);
    INSERT INTO journal_head VALUES (true, 0);
    CREATE TABLE cursors (sink text PRIMARY KEY, seq bigint NOT NULL);
    CREATE TABLE deadletters (
        sink text NOT NULL, seq bigint NOT NULL, reason text NOT NULL,
        attempts integer NOT NULL, time double precision NOT NULL,
        retry boolean NOT NULL DEFAULT false, PRIMARY KEY (sink, seq));
    CREATE INDEX deadletters_seq ON deadletters (seq);
    CREATE TABLE records (
        namespace text NOT NULL, key text NOT NULL, value bytea NOT NULL,
        PRIMARY KEY (namespace, key));
    CREATE TABLE replicas (
        id text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, version text NOT NULL,
        started timestamptz NOT NULL, heartbeat timestamptz NOT NULL, stopped timestamptz);
    CREATE TABLE leases (
        name text PRIMARY KEY, holder text, epoch bigint NOT NULL,
        expires timestamptz NOT NULL, info bytea);
    """,
    # inbox: verified vendor pushes (watcher.state.inbox)
    """
    CREATE TABLE inbox (
        source text NOT NULL, delivery text NOT NULL, received double precision NOT NULL,
        sent double precision, body bytea NOT NULL, applied boolean NOT NULL DEFAULT false,
        PRIMARY KEY (source, delivery));
    CREATE INDEX inbox_pending ON inbox (source, applied, received);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(conn: Any, shown: str) -> None:
    """Bring the database to :data:`SCHEMA_VERSION` (``conn``: an asyncpg connection);
    StoreUnavailable if a newer watcher wrote it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        await conn.execute("CREATE TABLE IF NOT EXISTS watcher_schema "
                           "(version integer NOT NULL)")
        version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM watcher_schema")
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(f"{shown}: written by a newer watcher (schema {version})")
        for v in range(version, SCHEMA_VERSION):
            await conn.execute(MIGRATIONS[v])
            await conn.execute("INSERT INTO watcher_schema VALUES ($1)", v + 1)


async def schema_version(conn: Any) -> int:
    """The version the database was migrated to (0: never), changing nothing."""
    if not await conn.fetchval("SELECT to_regclass('watcher_schema') IS NOT NULL"):
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM watcher_schema"))
