"""Run state on disk: a snapshot plus the rows changed since, always loading back
exactly what was committed.  Real SQLite files throughout."""

from __future__ import annotations

import sqlite3
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import watcher.store
from tests.support import fill_disk, mount_tmpfs
from watcher.model import RunDetails, RunState, Status
from watcher.store import Commit, Entry, SourceRow, Store, StoreError

STATUSES = [Status.RUNNING, Status.NEEDS_REVIEW, Status.SUCCEEDED, Status.FAILED]


def state(i: int, status: Status, stuck: bool = False) -> RunState:
    live = status in (Status.RUNNING, Status.NEEDS_REVIEW)
    return RunState(status, status.value.upper(), f"v{i}" if live else None, 1.8e9 + i, stuck,
                    RunDetails(workflow_id="wf", workflow_name="Invoices", error=None,
                               run={"id": f"r{i}", "n": i}, changed_at=1.8e9 + i)
                    if live else None)


def plain(runs: Mapping[str, RunState]) -> dict[str, tuple[Any, ...]]:
    return {rid: (s.status, s.raw_status, s.version, s.since, s.stuck,
                  s.detail.to_dict() if s.detail else None) for rid, s in runs.items()}


class Model:
    """The poller's side: memory holds the state, each commit passes it as ``base``."""

    def __init__(self, path: Path, source: str = "src") -> None:
        self.path, self.source = path, source
        self.store = Store.open_sync(str(path))
        self.runs: dict[str, RunState] = {}

    def commit(self, upserts: Mapping[str, RunState], removals: Sequence[str] = ()) -> None:
        self.store._commit_sync(Commit(self.source, SourceRow(baselined=True), upserts,
                                       removals, base=self.runs))
        self.runs = {**self.runs, **upserts}
        for rid in removals:
            self.runs.pop(rid, None)

    def reloaded(self) -> dict[str, RunState]:
        other = Store.open_sync(str(self.path))
        try:
            return other.load_sync().get(self.source, SourceRow()).runs
        finally:
            anyio.run(other.close)

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.path) as db:
            return int(db.execute(sql).fetchone()[0])


@pytest.fixture
def small_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher.store, "SNAPSHOT_MIN", 10)
    monkeypatch.setattr(watcher.store, "SNAPSHOT_PART", 7)


def test_a_first_sync_is_written_as_a_snapshot_and_loads_back(tmp_path: Path) -> None:
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, STATUSES[i % 4]) for i in range(2500)})
    assert m.count("SELECT COUNT(*) FROM runs") == 0
    assert m.count("SELECT SUM(count) FROM snapshots") == 2500
    assert plain(m.reloaded()) == plain(m.runs)


def test_changes_after_a_snapshot_are_rows_and_a_removal_is_remembered(
        tmp_path: Path, small_snapshots: None) -> None:
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(30)})  # snapshot, 5 parts
    assert m.count("SELECT COUNT(*) FROM snapshots") == 5
    m.commit({"r1": state(1, Status.FAILED), "r2": state(2, Status.RUNNING, stuck=True)},
             removals=["r3", "r4"])
    assert m.count("SELECT COUNT(*) FROM runs") == 4
    reloaded = m.reloaded()
    assert "r3" not in reloaded and "r4" not in reloaded
    assert reloaded["r1"].status is Status.FAILED and reloaded["r1"].detail is None
    assert reloaded["r2"].stuck
    assert plain(reloaded) == plain(m.runs)


def test_rows_are_folded_into_a_new_snapshot_once_they_outnumber_it(
        tmp_path: Path, small_snapshots: None) -> None:
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(12)})
    for i in range(12):
        m.commit({f"r{i}": state(i, Status.SUCCEEDED)})
    assert m.count("SELECT COUNT(*) FROM runs") == 12  # as many rows as the snapshot has runs
    m.commit({"r0": state(0, Status.FAILED)})  # one more: folded into a new snapshot
    assert m.count("SELECT COUNT(*) FROM runs") == 0
    assert plain(m.reloaded()) == plain(m.runs)


def test_a_small_source_keeps_plain_rows_and_deletes_them(tmp_path: Path) -> None:
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, Status.SUCCEEDED) for i in range(5)})
    m.commit({}, removals=["r0"])
    assert m.count("SELECT COUNT(*) FROM snapshots") == 0
    assert m.count("SELECT COUNT(*) FROM runs") == 4
    assert plain(m.reloaded()) == plain(m.runs)


def test_a_store_that_never_loaded_reads_the_sizes_from_the_file(
        tmp_path: Path, small_snapshots: None) -> None:
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(20)})
    m.store = Store.open_sync(str(m.path))  # a fresh process, before any load
    m.commit({}, removals=["r0"])  # must be a tombstone: the snapshot still holds r0
    assert plain(m.reloaded()) == plain(m.runs)


def test_forgetting_a_source_drops_its_snapshot(tmp_path: Path) -> None:
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, Status.SUCCEEDED) for i in range(1500)})
    other = Model(tmp_path / "s.db", source="other")
    other.commit({"x": state(0, Status.RUNNING)})

    anyio.run(m.store.forget_source, "src")
    assert m.reloaded() == {}
    assert plain(other.reloaded()) == plain(other.runs)
    m.runs = {}
    m.commit({"r1": state(1, Status.FAILED)})
    assert plain(m.reloaded()) == plain(m.runs)


commits = st.lists(st.tuples(
    st.dictionaries(st.integers(0, 40), st.tuples(st.sampled_from(STATUSES), st.booleans()),
                    max_size=25),
    st.lists(st.integers(0, 40), max_size=8)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(commits)
def test_any_sequence_of_commits_loads_back_as_committed(
        sequence: list[tuple[dict[int, tuple[Status, bool]], list[int]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        old = watcher.store.SNAPSHOT_MIN, watcher.store.SNAPSHOT_PART
        watcher.store.SNAPSHOT_MIN, watcher.store.SNAPSHOT_PART = 6, 4
        try:
            m = Model(Path(tmp) / "s.db")
            for upserts, removals in sequence:
                m.commit({f"r{i}": state(i, s, stuck) for i, (s, stuck) in upserts.items()},
                         [f"r{i}" for i in removals if i not in upserts])
                assert plain(m.reloaded()) == plain(m.runs)
        finally:
            watcher.store.SNAPSHOT_MIN, watcher.store.SNAPSHOT_PART = old


def entry(seq: int, size: int = 100) -> Entry:
    return Entry(seq, f"id{seq}", 1.8e9 + seq, "watcher.run.created", "src", f"r{seq}",
                 "running", None, None, b"{" + b"x" * size + b"}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB file system (tmpfs), unmounted afterwards."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "2m"):
        pytest.skip("needs root and tmpfs to make a real full disk")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.anyio
async def test_a_full_disk_is_reported_as_a_full_disk_not_as_the_rollback_after_it(
        small_disk: Path) -> None:
    """SQLite has already rolled back when a commit finds the disk full: the StoreError
    still says "disk is full", each retry says so again, and writing resumes with room."""
    store = await Store.open(str(small_disk / "state.db"))
    row = SourceRow(baselined=True)
    await store.commit(Commit("src", row, entries=[entry(1)]))
    fill_disk(small_disk / "filler")
    big = [entry(seq, 20_000) for seq in range(2, 42)]
    for _ in range(2):
        with pytest.raises(StoreError, match="database or disk is full") as failed:
            await store.commit(Commit("src", row, entries=big))
        assert store.write_error == str(failed.value)
        assert str(small_disk / "state.db") in str(failed.value)
    (small_disk / "filler").unlink()
    await store.commit(Commit("src", row, entries=big))
    assert store.write_error is None and store.last_write_error == str(failed.value)
    assert [e.seq for e in await store.read(0, 1000)] == list(range(1, 42))
    await store.close()


@pytest.mark.anyio
async def test_every_store_call_on_a_damaged_file_raises_store_error(tmp_path: Path) -> None:
    """With its tables dropped underneath, every read and write (journal, cursors, dead
    letters, prune, load) raises StoreError naming the file and SQLite's reason."""
    path = tmp_path / "state.db"
    store = await Store.open(str(path))
    await store.commit(Commit("src", SourceRow(baselined=True), {"r1": state(1, Status.RUNNING)},
                              entries=[entry(1)]))
    await store.set_cursor("sink", 1)
    with sqlite3.connect(path) as other:
        for table in ("journal", "cursors", "deadletters", "sources", "runs", "snapshots"):
            other.execute(f"DROP TABLE {table}")
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "load": store.load, "head": store.head, "read": lambda: store.read(0, 10),
        "cursors": store.cursors, "set_cursor": lambda: store.set_cursor("sink", 2),
        "drop_cursor": lambda: store.drop_cursor("sink"),
        "add_dead": lambda: store.add_dead("sink", [(entry(1), "410 Gone", 1)], 1.8e9),
        "dead_letters": store.dead_letters, "resolve_dead": lambda: store.resolve_dead("s", [1]),
        "prune": lambda: store.prune_journal(upto=1, before=2e9),
        "forget_source": lambda: store.forget_source("src"),
        "commit": lambda: store.commit(Commit("src", SourceRow(), entries=[entry(2)])),
    }
    for name, call in calls.items():
        with pytest.raises(StoreError, match=f"{path}: no such table") as raised:
            await call()
        assert isinstance(raised.value.__cause__, sqlite3.Error), name
    with pytest.raises(StoreError, match="no such table"):
        store.mark_retry_sync(None)
    with pytest.raises(StoreError, match="no such table"):
        store.dead_letters_sync()
    await store.close()
