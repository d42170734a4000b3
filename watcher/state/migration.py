"""``watcher migrate``: an SQLite state copied into an empty PostgreSQL database.

Copied: every source's runs (as a snapshot, exactly as a first sync writes
them) and poll state, every reader's cursor, the journal as the file still
holds it (entries keep their numbers, so the cursors stay valid and the
undelivered backlog is delivered by the replicas), the dead letters (with
their reasons, times and retry flags) and the namespaced records.  The file is
locked as its one writer meanwhile, so no daemon writes it during the copy;
a target that holds any state is refused.  Each part is one transaction:
a copy that fails leaves a target to drop and migrate again.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.errors import TargetNotEmpty
from watcher.state.postgres.store import PostgresStore
from watcher.state.sqlite.store import SqliteStore
from watcher.state.store import Commit, SourceRow

#: journal entries copied per transaction
BATCH = 5_000


@dataclass
class Copied:
    sources: int = 0
    runs: int = 0
    entries: int = 0
    cursors: int = 0
    dead_letters: int = 0
    records: int = 0


async def migrate_file(path: str, url: str) -> Copied:
    """Open the SQLite file at ``path`` (as its one writer) and the PostgreSQL database at
    ``url``, and copy the one into the other (:func:`migrate`)."""
    async with (await SqliteStore.open(path, writer="watcher migrate") as sqlite,
                await PostgresStore.open(url, replica="watcher migrate", listen_url="") as pg):
        return await migrate(sqlite, pg)


async def migrate(source: SqliteStore, target: PostgresStore) -> Copied:
    """Copy ``source`` into ``target``; TargetNotEmpty if it holds any state."""
    if (await target.head() or await target.cursors() or await target.load()
            or await target.dead_letters(limit=1)):
        raise TargetNotEmpty(f"{target.path} already holds a watcher state; migrate into "
                             "an empty database")
    done = Copied()
    for name, row in (await source.load()).items():
        plain = SourceRow(row.cursor, row.baselined, row.failures, row.failing_since)
        await target.commit(Commit(name, plain, row.runs, base={}))
        done.sources += 1
        done.runs += len(row.runs)
    head, after = await source.head(), 0
    while entries := await source.read(after, BATCH):
        await target.import_journal(entries, head)
        after, done.entries = entries[-1].seq, done.entries + len(entries)
    await target.import_journal([], head)  # the head, even with every entry pruned
    for sink, seq in (await source.cursors()).items():
        await target.set_cursor(sink, seq)
        done.cursors += 1
    letters = await source.dead_letters()
    await target.import_dead(letters)
    done.dead_letters = len(letters)
    records = await source.all_records()
    if records:
        await target.commit(Commit(records=records))
    done.records = len(records)
    return done
