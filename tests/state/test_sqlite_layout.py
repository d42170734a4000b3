"""Run state in the SQLite file: a snapshot plus the rows changed since, in the layout
``watcher.state.snapshots`` decides (what loads back is held for every store by
``test_store_conformance``).  Real SQLite files throughout."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.state.runs import SMALL, STATUSES, entry, plain, state
from watcher.model import RunState, Status
from watcher.state.backends import open_store
from watcher.state.snapshots import Layout
from watcher.state.store import Commit, SourceRow, Store

pytestmark = pytest.mark.anyio


class Model:
    """The poller's side: memory holds the state, each commit passes it as ``base``."""

    def __init__(self, path: Path, store: Store) -> None:
        self.path, self.store = path, store
        self.runs: dict[str, RunState] = {}

    @classmethod
    async def open(cls, path: Path, layout: Layout | None = None) -> Model:
        return cls(path, await open_store(str(path), layout=layout))

    async def commit(self, upserts: Mapping[str, RunState], removals: Sequence[str] = ()
                     ) -> None:
        await self.store.commit(Commit("src", SourceRow(baselined=True), upserts, removals,
                                       base=self.runs))
        self.runs = {**self.runs, **upserts}
        for rid in removals:
            self.runs.pop(rid, None)

    async def reloaded(self) -> dict[str, RunState]:
        other = await open_store(str(self.path))
        try:
            return (await other.load()).get("src", SourceRow()).runs
        finally:
            await other.close()

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.path) as db:
            return int(db.execute(sql).fetchone()[0])


async def test_a_first_sync_is_written_as_a_snapshot_and_loads_back(tmp_path: Path) -> None:
    """A first sync of thousands of runs is written as a snapshot, not rows, and loads back."""
    m = await Model.open(tmp_path / "s.db")
    await m.commit({f"r{i}": state(i, STATUSES[i % 4]) for i in range(2500)})
    assert m.count("SELECT COUNT(*) FROM runs") == 0
    assert m.count("SELECT SUM(count) FROM snapshots") == 2500
    assert plain(await m.reloaded()) == plain(m.runs)
    await m.store.close()


async def test_changes_after_a_snapshot_are_rows_and_a_removal_is_remembered(
        tmp_path: Path) -> None:
    """Changes after a snapshot are rows, a removal a tombstone row, and all load back."""
    m = await Model.open(tmp_path / "s.db", SMALL)
    await m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(30)})  # snapshot, 5 parts
    assert m.count("SELECT COUNT(*) FROM snapshots") == 5
    await m.commit({"r1": state(1, Status.FAILED), "r2": state(2, Status.RUNNING, stuck=True)},
                   removals=["r3", "r4"])
    assert m.count("SELECT COUNT(*) FROM runs") == 4
    reloaded = await m.reloaded()
    assert "r3" not in reloaded and "r4" not in reloaded
    assert reloaded["r1"].status is Status.FAILED and reloaded["r1"].detail is None
    assert reloaded["r2"].stuck
    assert plain(reloaded) == plain(m.runs)
    await m.store.close()


async def test_rows_are_folded_into_a_new_snapshot_once_they_outnumber_it(
        tmp_path: Path) -> None:
    """Once rows would outnumber the snapshot's runs, they are folded into a new snapshot."""
    m = await Model.open(tmp_path / "s.db", SMALL)
    await m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(12)})
    for i in range(12):
        await m.commit({f"r{i}": state(i, Status.SUCCEEDED)})
    assert m.count("SELECT COUNT(*) FROM runs") == 12  # as many rows as the snapshot has runs
    await m.commit({"r0": state(0, Status.FAILED)})  # one more: folded into a new snapshot
    assert m.count("SELECT COUNT(*) FROM runs") == 0
    assert plain(await m.reloaded()) == plain(m.runs)
    await m.store.close()


async def test_a_small_source_keeps_plain_rows_and_deletes_them(tmp_path: Path) -> None:
    """A source below the snapshot threshold keeps plain rows and deletes removed ones."""
    m = await Model.open(tmp_path / "s.db")
    await m.commit({f"r{i}": state(i, Status.SUCCEEDED) for i in range(5)})
    await m.commit({}, removals=["r0"])
    assert m.count("SELECT COUNT(*) FROM snapshots") == 0
    assert m.count("SELECT COUNT(*) FROM runs") == 4
    assert plain(await m.reloaded()) == plain(m.runs)
    await m.store.close()


async def test_a_memory_store_writes_no_runs_but_journals_and_keeps_source_rows() -> None:
    """With ``:memory:`` run changes are not written (memory holds them), while entries
    and source rows are, so sinks and the poller's row behave as with a file."""
    store = await open_store(":memory:")
    runs = {f"r{i}": state(i, Status.RUNNING) for i in range(2000)}
    await store.commit(Commit("src", SourceRow({"page": 2}, True), runs, entries=[entry(1)],
                              base={}))
    loaded = await store.load()
    assert loaded["src"].runs == {} and loaded["src"].cursor == {"page": 2}
    assert [e.id for e in await store.read(0, 10)] == ["id1"]
    await store.close()
