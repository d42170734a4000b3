"""Opening the state: ``open_store`` picks the store from ``state_path``, brings an older
SQLite file up to date and refuses what it cannot serve as unavailable (exit 69)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.state.runs import entry
from watcher.errors import StoreUnavailable
from watcher.state.backends import open_store
from watcher.state.sqlite.schema import SCHEMA_VERSION
from watcher.state.store import Commit, SourceRow

pytestmark = pytest.mark.anyio


async def test_a_url_no_store_serves_is_refused_naming_only_its_scheme() -> None:
    """A ``scheme://`` state_path with no store for it is unavailable, and the message
    names the scheme but not the rest, which may hold a password."""
    with pytest.raises(StoreUnavailable) as refused:
        await open_store("redis://watcher:s3cret@127.0.0.1:6379/0")
    assert "redis://" in str(refused.value) and "s3cret" not in str(refused.value)


async def test_a_file_written_by_a_newer_watcher_is_refused(tmp_path: Path) -> None:
    """A file whose schema version is above ours is not opened (nor changed)."""
    path = tmp_path / "state.db"
    store = await open_store(str(path))
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreUnavailable, match="newer watcher"):
        await open_store(str(path))


async def test_a_file_with_its_tables_but_no_version_keeps_its_data_and_gets_one(
        tmp_path: Path) -> None:
    """A file left with the tables but without a recorded version (a first start cut
    short) is migrated in place: its journal is kept and its version recorded."""
    path = tmp_path / "state.db"
    store = await open_store(str(path))
    await store.commit(Commit("src", SourceRow(baselined=True), entries=[entry(1)]))
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE key = 'schema'")
    store = await open_store(str(path))
    assert [e.id for e in await store.read(0, 10)] == ["id1"]
    await store.close()
    with sqlite3.connect(path) as db:
        [(version,)] = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()
    assert int(version) == SCHEMA_VERSION
