"""Run state on disk: a snapshot plus the rows changed since, always loading back
exactly what was committed.  Real SQLite files throughout."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.model import RunDetails, RunState, Status
from watcher.state.sqlite import Commit, SourceRow, Store

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


#: snapshot thresholds small enough that a few dozen runs reach every layout
SMALL = {"snapshot_min": 10, "snapshot_part": 7}


class Model:
    """The poller's side: memory holds the state, each commit passes it as ``base``.

    ``thresholds``: the store's snapshot thresholds (its defaults unless given).
    """

    def __init__(self, path: Path, source: str = "src", **thresholds: int) -> None:
        self.path, self.source, self.thresholds = path, source, thresholds
        self.store = self.open()
        self.runs: dict[str, RunState] = {}

    def open(self) -> Store:
        return Store.open_sync(str(self.path), **self.thresholds)

    def commit(self, upserts: Mapping[str, RunState], removals: Sequence[str] = ()) -> None:
        anyio.run(self.store.commit, Commit(self.source, SourceRow(baselined=True), upserts,
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


def test_a_first_sync_is_written_as_a_snapshot_and_loads_back(tmp_path: Path) -> None:
    """A first sync of thousands of runs is written as a snapshot, not rows, and loads back."""
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, STATUSES[i % 4]) for i in range(2500)})
    assert m.count("SELECT COUNT(*) FROM runs") == 0
    assert m.count("SELECT SUM(count) FROM snapshots") == 2500
    assert plain(m.reloaded()) == plain(m.runs)


def test_changes_after_a_snapshot_are_rows_and_a_removal_is_remembered(tmp_path: Path) -> None:
    """Changes after a snapshot are rows, a removal a tombstone row, and all load back."""
    m = Model(tmp_path / "s.db", **SMALL)
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


def test_rows_are_folded_into_a_new_snapshot_once_they_outnumber_it(tmp_path: Path) -> None:
    """Once rows would outnumber the snapshot's runs, they are folded into a new snapshot."""
    m = Model(tmp_path / "s.db", **SMALL)
    m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(12)})
    for i in range(12):
        m.commit({f"r{i}": state(i, Status.SUCCEEDED)})
    assert m.count("SELECT COUNT(*) FROM runs") == 12  # as many rows as the snapshot has runs
    m.commit({"r0": state(0, Status.FAILED)})  # one more: folded into a new snapshot
    assert m.count("SELECT COUNT(*) FROM runs") == 0
    assert plain(m.reloaded()) == plain(m.runs)


def test_a_small_source_keeps_plain_rows_and_deletes_them(tmp_path: Path) -> None:
    """A source below the snapshot threshold keeps plain rows and deletes removed ones."""
    m = Model(tmp_path / "s.db")
    m.commit({f"r{i}": state(i, Status.SUCCEEDED) for i in range(5)})
    m.commit({}, removals=["r0"])
    assert m.count("SELECT COUNT(*) FROM snapshots") == 0
    assert m.count("SELECT COUNT(*) FROM runs") == 4
    assert plain(m.reloaded()) == plain(m.runs)


def test_a_store_that_never_loaded_reads_the_sizes_from_the_file(tmp_path: Path) -> None:
    """A store opened without a load reads the snapshot's size from the file: removals stick."""
    m = Model(tmp_path / "s.db", **SMALL)
    m.commit({f"r{i}": state(i, Status.RUNNING) for i in range(20)})
    m.store = m.open()  # a fresh process, before any load
    m.commit({}, removals=["r0"])  # must be a tombstone: the snapshot still holds r0
    assert plain(m.reloaded()) == plain(m.runs)


def test_forgetting_a_source_drops_its_snapshot(tmp_path: Path) -> None:
    """Forgetting a source drops its snapshot and rows only, and it can start afresh."""
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
    """Any sequence of upserts and removals loads back exactly as committed."""
    with tempfile.TemporaryDirectory() as tmp:
        m = Model(Path(tmp) / "s.db", snapshot_min=6, snapshot_part=4)
        for upserts, removals in sequence:
            m.commit({f"r{i}": state(i, s, stuck) for i, (s, stuck) in upserts.items()},
                     [f"r{i}" for i in removals if i not in upserts])
            assert plain(m.reloaded()) == plain(m.runs)
