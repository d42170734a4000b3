"""The stored records (silences, reminder episodes) are read again only when the state
file changed: a daemon that looks at its silences every second and writes nothing costs
a ``stat``, not a query; a change by another process is still seen at the next look.
Real SQLite files, a second store on the same file standing in for ``watcher silence``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.state.runs import entry
from watcher.state.sqlite.store import SqliteStore
from watcher.state.store import Commit, SourceRow


def settle(path: Path) -> None:
    """Date the file and its log a second back, as if the last write were long ago."""
    for p in (path, Path(f"{path}-wal")):
        t = p.stat().st_mtime_ns - 1_000_000_000
        os.utime(p, ns=(t, t))


@pytest.mark.anyio
async def test_unchanged_records_are_not_queried_again_and_a_change_is_seen(
        tmp_path: Path) -> None:
    """A second look at an unchanged file runs no query; another writer's record shows."""
    path = tmp_path / "state.db"
    store = await SqliteStore.open(str(path))
    other = await SqliteStore.open(str(path), existing=True)
    try:
        await store.put_record("silences", "a", b"1")
        settle(path)
        assert await store.records("silences") == {"a": b"1"}
        queries: list[str] = []
        store._db._conn.set_trace_callback(queries.append)
        assert await store.records("silences") == {"a": b"1"}
        assert queries == []
        await other.put_record("silences", "b", b"2")
        assert await store.records("silences") == {"a": b"1", "b": b"2"}
        assert any("SELECT" in q for q in queries)
    finally:
        await store.close()
        await other.close()


@pytest.mark.anyio
async def test_a_file_changed_just_now_is_read_again(tmp_path: Path) -> None:
    """Within the file system clock's tick of a write, every look is a query (a second
    write in the same tick would leave the file's times as they were)."""
    path = tmp_path / "state.db"
    store = await SqliteStore.open(str(path))
    try:
        await store.put_record("silences", "a", b"1")
        await store.records("silences")
        queries: list[str] = []
        store._db._conn.set_trace_callback(queries.append)
        await store.records("silences")
        assert any("SELECT" in q for q in queries)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_no_dead_letters_stays_none_until_the_file_changes(tmp_path: Path) -> None:
    """A sink's look for letters queued for retry runs no query on an unchanged file;
    a letter queued by another process (``watcher dead retry``) is found at the next look."""
    path = tmp_path / "state.db"
    store = await SqliteStore.open(str(path))
    other = await SqliteStore.open(str(path), existing=True)
    try:
        await store.put_record("silences", "a", b"1")  # the file exists and has a log
        settle(path)
        assert await store.dead_letters("out", retry_only=True) == []
        queries: list[str] = []
        store._db._conn.set_trace_callback(queries.append)
        assert await store.dead_letters("out", retry_only=True) == []
        assert queries == []
        (e,) = await other.commit(Commit("src", SourceRow({}, True, 0, None), entries=[entry(1)]))
        await other.add_dead("out", [(e, "refused", 1)], 1.0)
        await other.mark_retry("out")
        assert [d.entry.seq for d in await store.dead_letters("out", retry_only=True)] == [1]
    finally:
        await store.close()
        await other.close()
